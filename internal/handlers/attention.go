package handlers

import (
	"errors"
	"maps"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// handleAttention serves GET /attention: refunds that need a manager
// (no final answer from NeoX in time, or an unknown outcome after every
// retry), signed NeoX notifications kept for review, and what the sweep of
// NeoX's refund lists found.
func (s *Server) handleAttention(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := templates.AttentionData{Now: s.now()}
	var err error
	if d.Rows, err = s.refunds.Attention(ctx); err != nil {
		s.renderError(w, r, err)
		return
	}
	if d.Count, err = s.refunds.AttentionCount(ctx); err != nil {
		s.renderError(w, r, err)
		return
	}
	if d.Suspicious, err = s.refunds.SuspiciousWebhooks(ctx, 100); err != nil {
		s.renderError(w, r, err)
		return
	}
	if d.Findings, err = s.refunds.Findings(ctx); err != nil {
		s.renderError(w, r, err)
		return
	}
	switch sw, err := s.refunds.LastSweep(ctx); {
	case err == nil:
		d.Sweep = &sw
	case !errors.Is(err, refunds.ErrNotFound):
		s.renderError(w, r, err)
		return
	}
	d.SweepOn, d.Every = s.refunds.SweepEnabled()
	d.Sweepers = s.refunds.Sweepers()
	s.render(w, r, http.StatusOK, templates.AttentionPage(s.page(r, "nav.attention", "attention"), d))
}

// handleRefundResolve serves POST /refunds/{id}/resolve: a manager records
// the outcome NeoX's portal shows for a refund in needs attention.
func (s *Server) handleRefundResolve(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.postedRefund(w, r)
	if !ok {
		return
	}
	form := templates.ResolveForm{Outcome: r.PostForm.Get("outcome"), Note: r.PostForm.Get("note"), Ref: r.PostForm.Get("ref")}
	u, _ := userFrom(r.Context())
	_, err := s.refunds.Resolve(r.Context(), actorOf(r.Context(), u), ref.ID,
		refunds.Resolution{Outcome: form.Outcome, Note: form.Note, Ref: form.Ref})
	var ve *refunds.ValidationError
	switch {
	case err == nil:
		redirectFlash(w, r, "/refunds/"+ref.ID, "refund-resolved")
	case errors.As(err, &ve):
		d, derr := s.refundDetail(r, ref)
		if derr != nil {
			s.renderError(w, r, derr)
			return
		}
		maps.Copy(d.Errors, fieldTexts(r.Context(), ve.Fields))
		d.Resolve = form
		s.renderRefundPage(w, r, http.StatusUnprocessableEntity, d)
	case errors.Is(err, refunds.ErrConflict):
		msg := tr(r, "at.conflict")
		if cur, gerr := s.refunds.Get(r.Context(), ref.ID); gerr == nil {
			msg += tr(r, "err.now_state", cur.Submission)
		}
		s.renderStatus(w, r, http.StatusConflict, tr(r, "at.conflict_title"), msg)
	default:
		s.renderError(w, r, err)
	}
}
