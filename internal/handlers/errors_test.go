package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// TestFailRendersEachKind: the one renderer answers every kind with its
// status and words in the request's language, as a page and, for htmx,
// as the flash fragment app.js shows; internal errors never show their
// text.
func TestFailRendersEachKind(t *testing.T) {
	e := newEnv(t)
	amount := func() error { _, err := refunds.ParseAmount("-5"); return err }()
	tests := []struct {
		name   string
		err    error
		status int
		want   string // English text expected in the answer
	}{
		{"not found", fmt.Errorf("load: %w", refunds.ErrNotFound), http.StatusNotFound, i18n.EN.T("error.not_found_text")},
		{"forbidden", refunds.ErrForbidden, http.StatusForbidden, i18n.EN.T("err.role_cannot")},
		{"self approval", fmt.Errorf("%w: x", refunds.ErrSelfApproval), http.StatusForbidden, i18n.EN.T("err.self_approval")},
		{"conflict", refunds.ErrConflict, http.StatusConflict, i18n.EN.T("error.conflict_text")},
		{"last admin", auth.ErrLastAdmin, http.StatusConflict, i18n.EN.T("error.last_admin")},
		{"invalid message", amount, http.StatusUnprocessableEntity, "The amount cannot be negative."},
		{"invalid fields", &auth.ValidationError{Fields: fault.Fields{"lang": fault.M("domain.35", "Unknown language.")}},
			http.StatusUnprocessableEntity, "Unknown language."},
		{"NeoX refused", fmt.Errorf("refunds: %w", &neox.RejectedError{API: "PG", Op: "refund", Code: "33", Message: "INSUFFICIENT_BALANCE"}),
			http.StatusBadGateway, "INSUFFICIENT_BALANCE"},
		{"NeoX did not answer", &neox.UnknownOutcomeError{API: "GC", Op: "refund", Err: errors.New("timeout")},
			http.StatusServiceUnavailable, i18n.EN.T("tx.no_answer")},
		{"internal", errors.New("disk on fire"), http.StatusInternalServerError, "The server hit an unexpected error"},
	}
	for _, tt := range tests {
		for _, htmx := range []bool{false, true} {
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			r = r.WithContext(i18n.WithLang(r.Context(), i18n.EN))
			if htmx {
				r.Header.Set("HX-Request", "true")
			}
			w := httptest.NewRecorder()
			e.srv.fail(w, r, tt.err, doneGeneric)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Errorf("%s (htmx %v): status %d, want %d", tt.name, htmx, w.Code, tt.status)
			}
			if !strings.Contains(body, htmlEscape(tt.want)) {
				t.Errorf("%s (htmx %v): body lacks %q:\n%s", tt.name, htmx, tt.want, body)
			}
			if htmx && !strings.Contains(body, `data-testid="flash"`) {
				t.Errorf("%s: htmx answer is not the flash fragment: %s", tt.name, body)
			}
			if strings.Contains(body, "disk on fire") {
				t.Errorf("%s: internal error text shown", tt.name)
			}
		}
	}
	// The language is the request's.
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r = r.WithContext(i18n.WithLang(r.Context(), i18n.VI))
	w := httptest.NewRecorder()
	e.srv.fail(w, r, refunds.ErrForbidden, doneGeneric)
	if !strings.Contains(w.Body.String(), htmlEscape(i18n.VI.T("err.role_cannot"))) {
		t.Errorf("vi: %s", w.Body.String())
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "\"", "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}
