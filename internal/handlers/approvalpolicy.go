package handlers

// The admins' approval policy page: rules per currency (optionally per
// product) and approver limits. Every change stores a new version (the
// refunds domain validates and audits it); refunds already requested keep
// the rule they were requested under.

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// handleApprovalPolicy serves GET /settings/approvals.
func (s *Server) handleApprovalPolicy(w http.ResponseWriter, r *http.Request) {
	s.renderApprovalPolicy(w, r, http.StatusOK, templates.ApprovalPolicyData{
		Rule: templates.RuleForm{Currency: "VND"}, Limit: templates.LimitForm{Currency: "VND"}})
}

func (s *Server) renderApprovalPolicy(w http.ResponseWriter, r *http.Request, status int, d templates.ApprovalPolicyData) {
	var err error
	if d.Current, err = s.refunds.ApprovalPolicy(r.Context()); err != nil {
		s.renderError(w, r, err)
		return
	}
	if d.History, err = s.refunds.ApprovalPolicyHistory(r.Context(), 20); err != nil {
		s.renderError(w, r, err)
		return
	}
	users, err := s.auth.ListUsers(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d.Names = map[int64]string{}
	for _, u := range users {
		d.Names[u.ID] = u.Username
		// Limits are for those who approve.
		if !u.Disabled && s.policy.Permits(policy.Actor{ID: u.ID, Role: u.Role}, policy.Approve) {
			d.Managers = append(d.Managers, templates.UserRow{ID: u.ID, Username: u.Username})
		}
	}
	if d.Errors == nil {
		d.Errors = templates.FieldErrors{}
	}
	d.Products = s.refunds.ProductNames()
	d.StepUp = s.stepUp
	s.render(w, r, status, templates.ApprovalPolicyPage(s.page(r, "nav.approval_policy", "approval_policy"), d))
}

// changePolicy applies change to the policy in force as the admin's page
// showed it (the posted version) and stores the result as a new version.
// A field error re-renders the page with what was typed.
func (s *Server) changePolicy(w http.ResponseWriter, r *http.Request, d templates.ApprovalPolicyData,
	change func(*policy.Approvals) fault.Fields) {
	base, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil || base < 0 {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "error.not_possible"), tr(r, "err.policy_changed"))
		return
	}
	cur, err := s.refunds.ApprovalPolicy(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	next := policy.Approvals{Rules: slices.Clone(cur.Rules), Limits: slices.Clone(cur.Limits)}
	if errs := change(&next); len(errs) > 0 {
		d.Errors = fieldTexts(r.Context(), errs)
		s.renderApprovalPolicy(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if base == cur.Version && slices.Equal(next.Rules, cur.Rules) && slices.Equal(next.Limits, cur.Limits) {
		// Nothing changes (a rule set as it is, a limit already gone): no
		// new version.
		redirect(w, r, "/settings/approvals")
		return
	}
	u, _ := userFrom(r.Context())
	if _, err := s.refunds.SetApprovalPolicy(r.Context(), actorOf(r.Context(), u), base, next); err != nil {
		var ve *refunds.ValidationError
		switch {
		case errors.As(err, &ve):
			d.Errors = templates.FieldErrors{}
			maps.Copy(d.Errors, fieldTexts(r.Context(), ve.Fields))
			s.renderApprovalPolicy(w, r, http.StatusUnprocessableEntity, d)
		case errors.Is(err, refunds.ErrPolicyChanged):
			s.renderStatus(w, r, http.StatusConflict, tr(r, "error.not_possible"), tr(r, "err.policy_changed"))
		default:
			s.renderError(w, r, err)
		}
		return
	}
	redirectFlash(w, r, "/settings/approvals", "policy-saved")
}

// approvers are the ids of the enabled users whose role may approve.
func (s *Server) approvers(r *http.Request) (map[int64]bool, error) {
	users, err := s.auth.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	for _, u := range users {
		if !u.Disabled && s.policy.Permits(policy.Actor{ID: u.ID, Role: u.Role}, policy.Approve) {
			out[u.ID] = true
		}
	}
	return out, nil
}

// optionalAmount reads an optional threshold: empty is 0 (off).
func optionalAmount(s, currency string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	return refunds.ParseAmountIn(s, currency)
}

// msgOf is err as a field message (the parsers answer with fault.Msg).
func msgOf(err error) fault.Msg {
	var m fault.Msg
	if errors.As(err, &m) {
		return m
	}
	return fault.M("domain.11", "the amount is not a number")
}

// handlePolicyRule serves POST /settings/approvals/rules: sets the rule of
// a currency and product (the presets post here too).
func (s *Server) handlePolicyRule(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	f := templates.RuleForm{Currency: r.PostForm.Get("currency"), API: r.PostForm.Get("api"),
		AutoUpTo: r.PostForm.Get("auto_up_to"), DualAbove: r.PostForm.Get("dual_above")}
	d := templates.ApprovalPolicyData{Rule: f, Limit: templates.LimitForm{Currency: "VND"}}
	s.changePolicy(w, r, d, func(a *policy.Approvals) fault.Fields {
		errs := fault.Fields{}
		cur, err := refunds.ParseCurrency(f.Currency)
		if err != nil {
			errs["currency"] = msgOf(err)
			return errs
		}
		rule := policy.Rule{Currency: cur, API: f.API}
		if f.API != "" && !slices.Contains(s.refunds.ProductNames(), f.API) {
			errs["api"] = fault.M("policy.bad_product", "choose a product from the list")
		}
		if rule.AutoUpTo, err = optionalAmount(f.AutoUpTo, cur); err != nil {
			errs["auto_up_to"] = msgOf(err)
		}
		if rule.DualAbove, err = optionalAmount(f.DualAbove, cur); err != nil {
			errs["dual_above"] = msgOf(err)
		}
		if len(errs) == 0 && rule.AutoUpTo > 0 && rule.DualAbove > 0 && rule.AutoUpTo >= rule.DualAbove {
			errs["auto_up_to"] = fault.M("policy.floor_above", "the auto-approve floor must be below the two-approver threshold")
		}
		if len(errs) > 0 {
			return errs
		}
		i := slices.IndexFunc(a.Rules, func(x policy.Rule) bool { return x.Currency == rule.Currency && x.API == rule.API })
		if i >= 0 {
			a.Rules[i] = rule
		} else {
			a.Rules = append(a.Rules, rule)
		}
		return nil
	})
}

// msgGone answers the removal of a rule or limit the policy does not hold.
var msgGone = fault.M("policy.gone", "that rule or limit is not in the policy (any more)")

// handlePolicyRuleRemove serves POST /settings/approvals/rules/remove.
func (s *Server) handlePolicyRuleRemove(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	cur, api := r.PostForm.Get("currency"), r.PostForm.Get("api")
	s.changePolicy(w, r, templates.ApprovalPolicyData{}, func(a *policy.Approvals) fault.Fields {
		n := len(a.Rules)
		if a.Rules = slices.DeleteFunc(a.Rules, func(x policy.Rule) bool { return x.Currency == cur && x.API == api }); len(a.Rules) == n {
			return fault.Fields{"policy": msgGone}
		}
		return nil
	})
}

// handlePolicyLimit serves POST /settings/approvals/limits: sets one
// approver's limit in one currency.
func (s *Server) handlePolicyLimit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	f := templates.LimitForm{User: r.PostForm.Get("user"), Currency: r.PostForm.Get("currency"), UpTo: r.PostForm.Get("up_to")}
	d := templates.ApprovalPolicyData{Limit: f, Rule: templates.RuleForm{Currency: "VND"}}
	approvers, err := s.approvers(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.changePolicy(w, r, d, func(a *policy.Approvals) fault.Fields {
		errs := fault.Fields{}
		id, err := strconv.ParseInt(f.User, 10, 64)
		if err != nil || !approvers[id] {
			// Only someone who approves can have a limit.
			errs["user"] = fault.M("policy.bad_user", "choose a manager")
		}
		cur, err := refunds.ParseCurrency(f.Currency)
		if err != nil {
			errs["limit_currency"] = msgOf(err)
			return errs
		}
		upTo, err := refunds.ParseAmountIn(f.UpTo, cur)
		if err != nil {
			errs["up_to"] = msgOf(err)
		}
		if len(errs) > 0 {
			return errs
		}
		l := policy.Limit{UserID: id, Currency: cur, UpTo: upTo}
		i := slices.IndexFunc(a.Limits, func(x policy.Limit) bool { return x.UserID == id && x.Currency == cur })
		if i >= 0 {
			a.Limits[i] = l
		} else {
			a.Limits = append(a.Limits, l)
		}
		return nil
	})
}

// handlePolicyLimitRemove serves POST /settings/approvals/limits/remove.
func (s *Server) handlePolicyLimitRemove(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	id, _ := strconv.ParseInt(r.PostForm.Get("user"), 10, 64)
	cur := r.PostForm.Get("currency")
	s.changePolicy(w, r, templates.ApprovalPolicyData{}, func(a *policy.Approvals) fault.Fields {
		n := len(a.Limits)
		if a.Limits = slices.DeleteFunc(a.Limits, func(x policy.Limit) bool { return x.UserID == id && x.Currency == cur }); len(a.Limits) == n {
			return fault.Fields{"policy": msgGone}
		}
		return nil
	})
}
