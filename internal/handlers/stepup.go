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
// currency (STEPUP_LIMITS) needs a second factor given within the last
// STEPUP_WINDOW, or a fresh one: a TOTP code or a security key's answer.
// The approve handlers call stepUpApproval before acting and nothing
// else; the approval rules themselves (who may approve what) stay in the
// refunds domain.

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
		if k == stepUpCodeField || k == stepUpKeyField {
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
	// A fresh TOTP code, or a fresh answer from one of the approver's
	// security keys (a ceremony begun by handleStepUpKeyBegin in this
	// session); recovery codes are for a lost device, not for this.
	f, err := s.auth.SecondFactorOf(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return false
	}
	form.HasCode, form.HasKey = f.Enrolled, len(f.Keys) > 0
	if !form.HasCode && !form.HasKey {
		form.NoFactor = true
		s.denied(r, deniedStepUp, "refund", over[0], map[string]any{"refunds": over, "rule": "no_second_factor"})
		return page(http.StatusForbidden)
	}
	code, answer := r.PostForm.Get(stepUpCodeField), r.PostForm.Get(stepUpKeyField)
	switch {
	case answer != "":
		err = s.auth.VerifyKeyStepUp(r.Context(), u, s.publicBase(r).String(), sess.ID, []byte(answer), details)
	case code != "":
		err = s.auth.VerifyStepUp(r.Context(), u, code, details)
	default:
		return page(http.StatusOK)
	}
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		form.Error = tr(r, "mfa.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1))
		return page(http.StatusTooManyRequests)
	case errors.Is(err, auth.ErrInvalidCode):
		form.Error = tr(r, "mfa.wrong_code")
		return page(http.StatusUnprocessableEntity)
	case errors.Is(err, auth.ErrKeyRefused):
		form.Error = tr(r, "stepup.key_refused")
		return page(http.StatusUnprocessableEntity)
	case errors.Is(err, auth.ErrKeysNeedDomain):
		form.Error = tr(r, "mfa.key_need_domain")
		return page(http.StatusConflict)
	case err != nil:
		s.renderError(w, r, err)
		return false
	}
	// The same record as a code at sign-in: later large approvals within
	// the window need no new one.
	if err := s.saveSessionValues(r, map[string]any{sessMFAAt: now.Unix()}); err != nil {
		s.renderError(w, r, err)
		return false
	}
	return true
}

// The step-up form's own fields, never posted again with the approval.
const (
	stepUpCodeField = "stepup_code"
	stepUpKeyField  = "stepup_assertion" // a security key's answer (JSON), set by webauthn.js
)

// handleStepUpKeyBegin serves POST /approvals/stepup/key/begin: the
// options for navigator.credentials.get, for a step-up with one of the
// approver's security keys, bound to this session.
func (s *Server) handleStepUpKeyBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.readJSON(w, r); !ok {
		return
	}
	u, _ := userFrom(r.Context())
	sess, _ := sessionOf(r)
	opts, err := s.auth.BeginKeyStepUp(r.Context(), u, s.publicBase(r).String(), sess.ID)
	switch {
	case errors.Is(err, auth.ErrNoKey):
		s.jsonError(w, r, http.StatusNotFound, tr(r, "mfa.key_none"))
		return
	case errors.Is(err, auth.ErrKeysNeedDomain):
		s.jsonError(w, r, http.StatusConflict, tr(r, "mfa.key_need_domain"))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, opts)
}

// deniedStepUp: an approval above the step-up limit by someone with no
// second factor to give.
const deniedStepUp = "step_up"
