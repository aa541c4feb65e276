package handlers

import (
	"net/http"
)

// hsts is sent when the desk's public URL is https: browsers then refuse
// plain http to it for two years, so a network attacker cannot strip TLS.
const hsts = "max-age=63072000; includeSubDomains"

// originPolicy applies what BASE_URL says about the desk's origin. With
// https, every page carries HSTS. And when BASE_URL is set, a
// state-changing request that names an Origin must name exactly the
// desk's scheme and host: http.CrossOriginProtection compares hosts only,
// so an http page on the same host (a downgraded or spoofed origin) could
// otherwise post to an https desk, or an https one to a plain-http desk.
// Requests without Origin (non-browser clients, NeoX's webhooks) are left
// to the CSRF check and the signature.
func (s *Server) originPolicy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.origin == nil {
			next.ServeHTTP(w, r)
			return
		}
		if s.origin.Scheme == "https" {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if o := r.Header.Get("Origin"); o != "" && o != s.origin.String() {
				s.log.InfoContext(r.Context(), "request from another origin refused", "origin", o, "path", r.URL.Path)
				s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.csrf_title"), tr(r, "error.csrf_text"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
