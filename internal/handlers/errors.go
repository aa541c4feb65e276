package handlers

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"

	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// renderStatus renders an error page, or for htmx the flash fragment with
// the same status: htmx does not swap an error answer, and app.js's
// htmx:responseError handler shows the fragment's text in the flash area.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	if r.Header.Get("HX-Request") == "true" {
		s.render(w, r, status, templates.FlashMessage(templates.Flash{Kind: "error", Text: message}))
		return
	}
	s.render(w, r, status, templates.ErrorPage(s.page(r, heading, ""), status, heading, message))
}

// renderError is fail for an action that names nothing particular: a NeoX
// failure says that nothing changed.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, err, doneGeneric)
}

// fail is the one place an error becomes a response, page or htmx
// fragment alike: its kind (internal/fault) decides the status and the
// words; done (a done* constant) says what did not happen when NeoX
// failed. Internal errors are logged and their text never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, done string) {
	p := s.problem(r, err, done)
	switch {
	case store.Unreachable(err):
		s.log.WarnContext(r.Context(), "database did not answer", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	case p.kind == fault.Internal:
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	case p.kind == fault.Refused || p.kind == fault.Unavailable:
		s.log.WarnContext(r.Context(), "NeoX call failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	}
	s.renderStatus(w, r, p.status, p.heading, p.text)
}

// problem is what a person is told about an error.
type problem struct {
	kind          fault.Kind
	status        int
	heading, text string
}

// problem maps err to its kind's status and words, in the request's
// language. A few errors of a kind have their own sentence; the rest get
// their kind's.
func (s *Server) problem(r *http.Request, err error, done string) problem {
	if store.Unreachable(err) {
		// Nothing this request did was committed; the same request is
		// likely to work in a moment (PostgreSQL restarting, a failover).
		return problem{fault.Unavailable, http.StatusServiceUnavailable, tr(r, "error.db_down_title"), tr(r, "error.db_down_text")}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem{fault.Invalid, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_title"), tr(r, "error.too_large_text")}
	}
	k := fault.KindOf(err)
	switch k {
	case fault.NotFound:
		return problem{k, http.StatusNotFound, tr(r, "error.not_found_title"), tr(r, "error.not_found_text")}
	case fault.Forbidden:
		text := tr(r, "err.role_cannot")
		switch {
		case errors.Is(err, refunds.ErrSelfApproval):
			text = tr(r, "err.self_approval")
		case errors.Is(err, refunds.ErrOverLimit):
			text = tr(r, "err.over_limit")
		case errors.Is(err, refunds.ErrSameApprover):
			text = tr(r, "err.same_approver")
		}
		return problem{k, http.StatusForbidden, tr(r, "error.not_allowed"), text}
	case fault.Conflict:
		text := tr(r, "error.conflict_text")
		switch {
		case errors.Is(err, auth.ErrLastAdmin):
			text = tr(r, "error.last_admin")
		case errors.Is(err, refunds.ErrTokenReused):
			text = tr(r, "err.token_reused")
		case errors.Is(err, refunds.ErrNotConfigured):
			text = tr(r, "tx.not_configured")
		}
		return problem{k, http.StatusConflict, tr(r, "error.not_possible"), text}
	case fault.Invalid:
		// A form shows these beside its fields; here, with no form to
		// go back to, they are listed in field order.
		fields, _ := fault.FieldsOf(err)
		texts := fieldTexts(r.Context(), fields)
		parts := make([]string, 0, len(texts))
		for _, f := range slices.Sorted(maps.Keys(texts)) {
			parts = append(parts, texts[f])
		}
		if len(parts) == 0 {
			parts = append(parts, errText(r.Context(), err))
		}
		return problem{k, http.StatusUnprocessableEntity, tr(r, "error.invalid_title"), strings.Join(parts, " ")}
	case fault.Refused, fault.Unavailable:
		status, msg, _ := neoxProblem(r.Context(), err, done)
		return problem{k, status, tr(r, "error.neox_title"), msg}
	}
	return problem{fault.Internal, http.StatusInternalServerError, tr(r, "error.internal_title"),
		tr(r, "error.internal_text", tr(r, "error.reference", requestIDFrom(r.Context())))}
}

// errNotFound is a page or object the request names that does not exist.
var errNotFound = fault.New(fault.NotFound, "not found")

// isNeoX reports whether err is NeoX refusing or not answering.
func isNeoX(err error) bool {
	k := fault.KindOf(err)
	return k == fault.Refused || k == fault.Unavailable
}
