// Package static embeds the stylesheets, scripts and vendored htmx and
// serves them under content-hashed URLs with long cache lifetimes,
// gzip-compressed once at start for clients that accept it.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/compress"
)

//go:embed css js vendor favicon.svg
var files embed.FS

// asset is one embedded file: its bytes, the short hash of its content that
// versions its URL, and its gzip form when that is smaller.
type asset struct {
	raw, gz []byte
	version string
}

// assets reads and compresses the embedded (immutable) files once.
var assets = sync.OnceValue(func() map[string]asset {
	m := map[string]asset{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = asset{raw: b, gz: gzipped(b), version: hex.EncodeToString(sum[:6])}
		return nil
	})
	return m
})

// gzipped returns b compressed at the best level (paid once per file), or
// nil when compression would not make it smaller.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil || buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// URL returns the versioned URL of an embedded file ("css/app.css" →
// "/static/css/app.css?v=abc123"). A changed file gets a new URL, so the
// long cache lifetime never serves stale assets.
func URL(name string) string {
	if a, ok := assets()[name]; ok {
		return "/static/" + name + "?v=" + a.version
	}
	return "/static/" + name
}

// Handler serves the embedded files under /static/: gzip to clients that
// accept it, identity otherwise, with an ETag per representation so a
// revalidation is a 304.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		a, ok := assets()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		body, etag := a.raw, `"`+a.version+`"`
		if a.gz != nil {
			h.Add("Vary", "Accept-Encoding")
			if compress.AcceptsGzip(r) {
				body, etag = a.gz, `"`+a.version+`-gz"`
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		// The name gives ServeContent the type (.css, .js, .svg); ranges
		// apply to the representation sent, as RFC 9110 says.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// HTMX is the vendored htmx script's name inside the embedded tree.
const HTMX = "vendor/htmx-2.0.11/htmx.min.js"
