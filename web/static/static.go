// Package static embeds the stylesheets, scripts and vendored htmx and
// serves them under content-hashed URLs with long cache lifetimes.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

//go:embed css js vendor favicon.svg
var files embed.FS

// versions maps a file name to a short hash of its content; computed once
// from the embedded (immutable) files.
var versions = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
})

// URL returns the versioned URL of an embedded file ("css/app.css" →
// "/static/css/app.css?v=abc123"). A changed file gets a new URL, so the
// long cache lifetime never serves stale assets.
func URL(name string) string {
	if v, ok := versions()[name]; ok {
		return "/static/" + name + "?v=" + v
	}
	return "/static/" + name
}

// Handler serves the embedded files under /static/.
func Handler() http.Handler {
	fsrv := http.StripPrefix("/static/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if _, ok := versions()[name]; !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == versions()[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fsrv.ServeHTTP(w, r)
	})
}

// HTMX is the vendored htmx script's name inside the embedded tree.
const HTMX = "vendor/htmx-2.0.11/htmx.min.js"
