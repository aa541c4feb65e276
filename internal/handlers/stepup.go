package handlers

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// Step-up for approvals (issue 17), as Vietnamese banks ask an OTP for
// each order: approving a refund above the configured limit of its
// currency (STEPUP_LIMITS) needs a second-factor code given within the
// last STEPUP_WINDOW, or a fresh one. The approve handlers call
// stepUpApproval before acting and nothing else; the approval rules
// themselves (who may approve what) stay in the refunds domain.

// stepUpApproval checks the step-up for approving the refunds ids. true:
// go ahead. false: the answer is written: a page asking for the code
// (which posts the same form again with it), or saying the approver has
// no second factor to give. Refunds that cannot be read are left to the
// approval itself to report.
func (s *Server) stepUpApproval(w http.ResponseWriter, r *http.Request, ids []string) bool {
	if s.refunds == nil || len(s.stepUp.Limits) == 0 {
		return true
	}
	u, _ := userFrom(r.Context())
	var amounts []string
	var over []string
	for _, id := range ids {
		ref, err := s.refunds.Get(r.Context(), id)
		if err != nil {
			continue
		}
		if s.policy.StepUpRequired(s.stepUp, ref.Amount, ref.Currency) {
			over = append(over, ref.ID)
			amounts = append(amounts, templates.Money(r.Context(), ref.Amount, ref.Currency))
		}
	}
	if len(over) == 0 {
		return true
	}
	details := map[string]any{"refunds": over, "path": truncate(r.URL.Path, 200)}
	sess, _ := sessionOf(r)
	now := s.now()
	if at, ok := sess.Values[sessMFAAt].(int64); ok && s.stepUp.Window > 0 {
		when := time.Unix(at, 0)
		if !when.After(now) && now.Sub(when) <= s.stepUp.Window {
			if err := s.auth.RecordStepUpRecent(r.Context(), u, when, details); err != nil {
				s.renderError(w, r, err)
				return false
			}
			return true
		}
	}
	form := templates.StepUpForm{Action: r.URL.Path, Amounts: amounts}
	for k, vs := range r.PostForm {
		if k == "stepup_code" {
			continue
		}
		for _, v := range vs {
			form.Fields = append(form.Fields, templates.StepUpField{Name: k, Value: v})
		}
	}
	slices.SortStableFunc(form.Fields, func(a, b templates.StepUpField) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	page := func(status int) bool {
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, r, status, templates.StepUpPage(s.page(r, "stepup.title", "approvals"), form))
		return false
	}
	// A step-up asks for a fresh TOTP code: a security key alone does not
	// answer it (yet), so a user with only a key is told to set up the app.
	f, err := s.auth.SecondFactorOf(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return false
	}
	if !f.Enrolled {
		form.NoFactor = true
		s.denied(r, deniedStepUp, "refund", over[0], map[string]any{"refunds": over, "rule": "no_second_factor"})
		return page(http.StatusForbidden)
	}
	code := r.PostForm.Get("stepup_code")
	if code == "" {
		return page(http.StatusOK)
	}
	err = s.auth.VerifyStepUp(r.Context(), u, code, details)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		form.Error = tr(r, "mfa.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1))
		return page(http.StatusTooManyRequests)
	case errors.Is(err, auth.ErrInvalidCode):
		form.Error = tr(r, "mfa.wrong_code")
		return page(http.StatusUnprocessableEntity)
	case err != nil:
		s.renderError(w, r, err)
		return false
	}
	if err := s.saveSessionValues(r, map[string]any{sessMFAAt: now.Unix()}); err != nil {
		s.renderError(w, r, err)
		return false
	}
	return true
}

// deniedStepUp: an approval above the step-up limit by someone with no
// second factor to give.
const deniedStepUp = "step_up"
