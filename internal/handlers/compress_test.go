package handlers

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// TestResponsesAreCompressed checks the wiring: pages, fragments and static
// files leave the server gzipped for a browser that asks, and unchanged
// for one that does not.
func TestResponsesAreCompressed(t *testing.T) {
	e := newEnv(t)
	e.user("ivy", auth.RoleManager)
	c := e.login("ivy")
	anon := e.client()
	for _, tc := range []struct {
		c    *http.Client
		path string
	}{{anon, "/login"}, {c, "/"}, {c, "/refunds"}, {c, "/audit"}, {c, "/approvals"}, {anon, "/static/css/app.css"}} {
		c, path := tc.c, tc.path
		plain := e.do(c, http.MethodGet, path, nil, map[string]string{"Accept-Encoding": "identity"})
		gz := e.do(c, http.MethodGet, path, nil, map[string]string{"Accept-Encoding": "gzip"})
		if plain.status != http.StatusOK || gz.status != http.StatusOK {
			t.Fatalf("%s: status %d / %d", path, plain.status, gz.status)
		}
		if plain.header.Get("Content-Encoding") != "" {
			t.Errorf("%s: identity client got %q", path, plain.header.Get("Content-Encoding"))
		}
		if gz.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: gzip client got encoding %q", path, gz.header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(strings.NewReader(gz.body))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(gz.body)*2 > len(body) {
			t.Errorf("%s: %d bytes compressed to only %d", path, len(body), len(gz.body))
		}
		// Pages carry per-request values (request ids, times), so compare
		// their ends and sizes; the static file must be the same bytes.
		switch {
		case strings.HasPrefix(path, "/static/"):
			if string(body) != plain.body {
				t.Errorf("%s: gunzipped file differs", path)
			}
		case !bytes.HasSuffix(bytes.TrimSpace(body), []byte("</html>")) || len(body) < len(plain.body)*9/10:
			t.Errorf("%s: gunzipped page of %d bytes (identity %d) ends %q", path, len(body), len(plain.body), tail(string(body)))
		}
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return s[len(s)-40:]
	}
	return s
}
