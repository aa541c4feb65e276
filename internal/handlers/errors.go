package handlers

import (
	"errors"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox"

	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// renderStatus renders an error page (or a short fragment for htmx).
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	if r.Header.Get("HX-Request") == "true" {
		s.render(w, r, status, templates.FlashMessage(templates.Flash{Kind: "error", Text: message}))
		return
	}
	s.render(w, r, status, templates.ErrorPage(s.page(r, heading, ""), status, heading, message))
}

// renderError is the one place an unexpected error becomes a response. It
// logs internal errors and never shows their text to the user.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.renderStatus(w, r, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_title"), tr(r, "error.too_large_text"))
	case errors.Is(err, auth.ErrLastAdmin):
		s.renderStatus(w, r, http.StatusConflict, tr(r, "error.not_possible"), tr(r, "error.last_admin"))
	case errors.Is(err, errNotFound):
		s.renderStatus(w, r, http.StatusNotFound, tr(r, "error.not_found_title"), tr(r, "error.not_found_text"))
	case isNeoX(err):
		status, msg, _ := neoxProblem(r.Context(), err, doneGeneric)
		s.log.WarnContext(r.Context(), "NeoX call failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
		s.renderStatus(w, r, status, tr(r, "error.neox_title"), msg)
	default:
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
		s.renderStatus(w, r, http.StatusInternalServerError, tr(r, "error.internal_title"),
			tr(r, "error.internal_text", tr(r, "error.reference", requestIDFrom(r.Context()))))
	}
}

var errNotFound = errors.New("not found")

// isNeoX reports whether err is NeoX refusing or not answering.
func isNeoX(err error) bool {
	_, rejected := neox.IsRejected(err)
	return rejected || neox.IsUnknown(err)
}
