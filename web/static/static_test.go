package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesGzipOnlyToClientsThatAcceptIt(t *testing.T) {
	for _, name := range []string{HTMX, "css/app.css", "js/app.js", "favicon.svg"} {
		raw, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			plain := serve(t, URL(name), nil)
			body, _ := io.ReadAll(plain.Body)
			if plain.StatusCode != http.StatusOK || !bytes.Equal(body, raw) || plain.Header.Get("Content-Encoding") != "" {
				t.Fatalf("identity: status %d, %d bytes, encoding %q", plain.StatusCode, len(body), plain.Header.Get("Content-Encoding"))
			}
			if cc := plain.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("versioned URL Cache-Control %q", cc)
			}

			gz := serve(t, URL(name), map[string]string{"Accept-Encoding": "br, gzip"})
			if gz.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("gzip client got encoding %q", gz.Header.Get("Content-Encoding"))
			}
			if !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q", gz.Header.Get("Vary"))
			}
			if ct, want := gz.Header.Get("Content-Type"), plain.Header.Get("Content-Type"); ct != want || ct == "" {
				t.Errorf("gzip Content-Type %q, identity %q", ct, want)
			}
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, raw) {
				t.Fatalf("gunzipped body differs from the file (%v)", err)
			}
			if gz.ContentLength >= int64(len(raw)) {
				t.Errorf("gzip is %d bytes, file %d", gz.ContentLength, len(raw))
			}
			if gz.Header.Get("ETag") == plain.Header.Get("ETag") {
				t.Errorf("both representations share ETag %s", gz.Header.Get("ETag"))
			}

			refused := serve(t, URL(name), map[string]string{"Accept-Encoding": "gzip;q=0"})
			if refused.Header.Get("Content-Encoding") != "" {
				t.Errorf("q=0 client got %q", refused.Header.Get("Content-Encoding"))
			}

			again := serve(t, URL(name), map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gz.Header.Get("ETag")})
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("revalidation with the ETag: status %d, want 304", again.StatusCode)
			}
		})
	}
}

func TestHandlerRefusesUnknownFiles(t *testing.T) {
	for _, p := range []string{"/static/nope.js", "/static/", "/static/css", "/static/../static.go"} {
		if res := serve(t, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, res.StatusCode)
		}
	}
	if res := serve(t, "/static/css/app.css?v=stale", nil); res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("a stale version is cached: %q", res.Header.Get("Cache-Control"))
	}
}
