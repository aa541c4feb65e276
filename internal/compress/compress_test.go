package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"br, gzip, deflate"}, true},
		{[]string{"deflate", "gzip;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.0"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"identity"}, false},
		{[]string{"br"}, false},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip;q=bogus"}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, v := range tt.header {
			r.Header.Add("Accept-Encoding", v)
		}
		if got := AcceptsGzip(r); got != tt.want {
			t.Errorf("Accept-Encoding %q: got %v, want %v", tt.header, got, tt.want)
		}
	}
}

// page is what the handlers under test write: a page long enough to shrink.
var page = "<!doctype html><title>x</title>" + strings.Repeat("<p>Refund 1.500.000 ₫ approved</p>", 200)

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return string(out)
}

func TestHandler(t *testing.T) {
	html := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", "123456") // wrong once compressed: must go
		io.WriteString(w, page)
	}
	untyped := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) }
	png := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		io.WriteString(w, page)
	}
	encoded := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "already")
	}
	notModified := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotModified)
	}
	tagged := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("ETag", `"abc"`)
		io.WriteString(w, page)
	}
	tests := []struct {
		name     string
		h        http.HandlerFunc
		method   string
		accept   string
		wantGzip bool
		wantBody string
		wantETag string
	}{
		{"html to a gzip client", html, "GET", "gzip, deflate", true, page, ""},
		{"html to a client without gzip", html, "GET", "", false, page, ""},
		{"html to a client refusing gzip", html, "GET", "gzip;q=0", false, page, ""},
		{"sniffed html", untyped, "GET", "gzip", true, page, ""},
		{"images are left alone", png, "GET", "gzip", false, page, ""},
		{"precompressed bodies pass through", encoded, "GET", "gzip", false, "already", ""},
		{"304 has no body", notModified, "GET", "gzip", false, "", ""},
		{"HEAD passes through", html, "HEAD", "gzip", false, "", ""},
		{"a strong ETag becomes weak", tagged, "GET", "gzip", true, page, `W/"abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			Handler(tt.h).ServeHTTP(rec, req)
			res := rec.Result()
			if tt.method == "GET" && !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary = %q, want Accept-Encoding", res.Header.Get("Vary"))
			}
			got := rec.Body.String()
			if tt.wantGzip {
				if ce := res.Header.Get("Content-Encoding"); ce != "gzip" {
					t.Fatalf("Content-Encoding = %q, want gzip", ce)
				}
				if cl := res.Header.Get("Content-Length"); cl != "" {
					t.Errorf("Content-Length %q kept on a compressed body", cl)
				}
				if rec.Body.Len() >= len(page)/4 {
					t.Errorf("compressed %d bytes to %d", len(page), rec.Body.Len())
				}
				got = gunzip(t, rec.Body.Bytes())
			} else if ce := res.Header.Get("Content-Encoding"); ce == "gzip" && got != "already" {
				t.Errorf("compressed although it should not be")
			}
			if tt.method == "GET" && got != tt.wantBody {
				t.Errorf("body = %.40q…, want %.40q…", got, tt.wantBody)
			}
			if tt.wantETag != "" && res.Header.Get("ETag") != tt.wantETag {
				t.Errorf("ETag = %q, want %q", res.Header.Get("ETag"), tt.wantETag)
			}
		})
	}
}

// TestHandlerStreams proves a flushed part reaches the client before the
// handler finishes: the handler waits for the client to have read it.
func TestHandlerStreams(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		io.WriteString(w, "first row\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			t.Error("client never read the flushed row")
			return
		}
		io.WriteString(w, "second row\n")
	})))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport does not decompress
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("first row\n"))
	if _, err := io.ReadFull(zr, first); err != nil || string(first) != "first row\n" {
		t.Fatalf("first part %q, %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(zr)
	if err != nil || string(rest) != "second row\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}
