// Package compress gzips HTTP responses for clients that accept it: pages,
// fragments and streamed exports are compressed as they are written, and
// responses that already carry an encoding (precompressed static files) or
// whose type does not shrink pass through untouched.
package compress

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// level trades a little size for speed: pages are compressed on every
// request, unlike static files.
const level = 5

var writers = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, level)
	return zw
}}

// AcceptsGzip reports whether the request's Accept-Encoding allows gzip
// (listed, or covered by "*", without q=0).
func AcceptsGzip(r *http.Request) bool {
	gz, star := -1.0, -1.0
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			if p := strings.TrimSpace(params); p != "" {
				if k, val, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						continue
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gz = q
			case "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// compressible reports whether a response of this type is worth gzipping.
func compressible(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/problem+json", mt == "application/javascript",
		mt == "image/svg+xml", mt == "application/xml":
		return true
	}
	return false
}

// Handler gzips next's responses for clients that accept gzip.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		if !AcceptsGzip(r) {
			next.ServeHTTP(w, r)
			return
		}
		cw := &writer{ResponseWriter: w}
		defer cw.close()
		next.ServeHTTP(cw, r)
	})
}

// writer decides at the first WriteHeader or Write whether to compress,
// from the status and the headers the handler set.
type writer struct {
	http.ResponseWriter
	decided bool
	zw      *gzip.Writer
}

func (w *writer) decide(status int) {
	w.decided = true
	h := w.Header()
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified ||
		h.Get("Content-Encoding") != "" || h.Get("Content-Range") != "" || !compressible(h.Get("Content-Type")) {
		return
	}
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	// A strong validator names one representation; the gzip one is another.
	if etag := h.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		h.Set("ETag", "W/"+etag)
	}
	w.zw = writers.Get().(*gzip.Writer)
	w.zw.Reset(w.ResponseWriter)
}

func (w *writer) WriteHeader(status int) {
	if !w.decided {
		w.decide(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.decided {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.zw == nil {
		return w.ResponseWriter.Write(b)
	}
	return w.zw.Write(b)
}

// Flush sends what is compressed so far, so streamed exports and
// server-sent events reach the client as they are written.
func (w *writer) Flush() {
	if w.zw != nil {
		_ = w.zw.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *writer) close() {
	if w.zw == nil {
		return
	}
	_ = w.zw.Close()
	w.zw.Reset(io.Discard)
	writers.Put(w.zw)
	w.zw = nil
}
