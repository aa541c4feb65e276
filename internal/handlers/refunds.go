package handlers

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// actorOf is u acting in the request whose context is ctx, in the
// request's language (for the NeoX calls made while they wait).
func actorOf(ctx context.Context, u auth.User) refunds.Actor {
	return refunds.Actor{ID: u.ID, Name: u.Username, Role: u.Role, Lang: string(i18n.From(ctx))}
}

// handleRefundForm serves GET /refunds/new?api=&ref=[&payment=]: the form
// for the chosen API, prefilled from a fresh lookup.
func (s *Server) handleRefundForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := refundFormFrom(q)
	f.ReasonCode, f.ReasonText, f.Token = "", "", uuid.NewString()
	p := s.page(r, "rf.title", "transactions")
	if kept := s.takeKept(r); kept != nil && kept.Get("api") == f.API && kept.Get("ref") == f.Ref {
		// What was typed before the session expired, to check and submit
		// again, under a fresh token: it was never sent.
		f = refundFormFrom(kept)
		f.Token = uuid.NewString()
		p.Flash = &templates.Flash{Kind: "info", Text: tr(r, "session.kept")}
	}
	if _, msg, err := s.fillRefundable(r, &f); err != nil {
		s.renderError(w, r, err)
		return
	} else if msg != "" {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "err.cannot_request"), msg)
		return
	}
	for _, fl := range f.Form.All() {
		if _, set := f.Values[fl.Name]; !set && fl.Default != "" {
			f.Values[fl.Name] = fl.Default
		}
	}
	s.render(w, r, http.StatusOK, templates.RefundFormPage(p, f))
}

// fillRefundable looks the reference up again (with the product's own
// lookup fields, such as a GC order's sub-merchant) so the form shows what
// can be refunded now and asks what the product needs; it returns the
// lookup, which a submit hands to Create (one NeoX call per submit), or a
// message when nothing can be refunded. A database that does not answer
// (the lookup reads what is reserved here) is an error, for the 503 page:
// the transaction itself may be fine.
func (s *Server) fillRefundable(r *http.Request, f *templates.RefundForm) (*refunds.Lookup, string, error) {
	p, known := s.refunds.Product(refunds.API(f.API))
	var lookupFields []refunds.Field
	if known {
		f.Form, lookupFields = p.Form(nil), p.LookupFields()
	}
	asks := func(name string) bool {
		return slices.ContainsFunc(lookupFields, func(fl refunds.Field) bool { return fl.Name == name })
	}
	f.Back = "/transactions?api=" + url.QueryEscape(f.API) + "&ref=" + url.QueryEscape(f.Ref) + carry(lookupFields, f.Values)
	if !known || !slices.Contains(s.configuredAPIs(), f.API) || !validRef(f.Ref) {
		return nil, tr(r, "err.lookup_first"), nil
	}
	for _, fl := range lookupFields {
		if v := f.Values[fl.Name]; v != "" && !validRef(v) {
			return nil, tr(r, fl.Bad), nil
		}
	}
	sub := ""
	if asks("sub_merchant_id") {
		sub = f.Values["sub_merchant_id"]
	}
	l, err := s.refunds.LookupSubMerchant(r.Context(), string(i18n.From(r.Context())), refunds.API(f.API), f.Ref, sub)
	if store.Unreachable(err) {
		return nil, "", err
	}
	if err != nil {
		if msg := lookupMessage(r.Context(), err); msg != "" {
			return nil, msg, nil
		}
		return nil, tr(r, "err.lookup_later"), nil
	}
	t, ok := l.Target(f.PaymentID)
	if !ok {
		return nil, tr(r, "err.no_payment", f.PaymentID), nil
	}
	f.PaymentMethod, f.Refundable, f.Currency, f.Form = t.Method, t.Refundable, t.Currency, t.Form
	for name := range f.Values {
		// Only what the product asks for (only GC orders belong to
		// sub-merchants).
		if !f.Form.Has(name) && !asks(name) {
			delete(f.Values, name)
		}
	}
	if f.Currency == "" {
		f.Currency = "VND"
	}
	if t.Unrecognised {
		f.Notice = reasonText(r.Context(), t.Reason)
	}
	if f.Refundable <= 0 {
		return nil, tr(r, "err.nothing_refundable"), nil
	}
	return &l, "", nil
}

// productFields are the names of the fields a product's forms may have
// (product.Request's): a form posts those its product asks for.
var productFields = []string{"amount", "fee_charge_way", "sub_merchant_id", "bank_account_name", "bank_account_number",
	"bank_swift", "bank_branch"}

// refundFormFrom reads a refund form as posted (or as kept across an
// expired session).
func refundFormFrom(pf url.Values) templates.RefundForm {
	f := templates.RefundForm{
		API: pf.Get("api"), Ref: strings.TrimSpace(pf.Get("ref")), PaymentID: pf.Get("payment"), Token: pf.Get("token"),
		Values: map[string]string{}, ReasonCode: pf.Get("reason_code"), ReasonText: strings.TrimSpace(pf.Get("reason_text")),
		Errors: templates.FieldErrors{},
	}
	for _, name := range productFields {
		if pf.Has(name) {
			f.Values[name] = strings.TrimSpace(pf.Get(name))
		}
	}
	return f
}

// handleRefundCreate serves POST /refunds.
func (s *Server) handleRefundCreate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	f := refundFormFrom(r.PostForm)
	if _, err := uuid.Parse(f.Token); err != nil {
		// A missing token would defeat double-submit protection: start over.
		f.Token = uuid.NewString()
	}
	looked, msg, err := s.fillRefundable(r, &f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if msg != "" {
		f.Errors["form"] = msg
	}
	v := f.Values
	req := refunds.NewRequest{API: refunds.API(f.API), TransactionRef: f.Ref, PaymentID: f.PaymentID,
		ReasonCode: f.ReasonCode, ReasonText: f.ReasonText, FeeChargeWay: v["fee_charge_way"], SubMerchantID: v["sub_merchant_id"],
		BankSwift: v["bank_swift"], BankAccountNumber: v["bank_account_number"], BankAccountName: v["bank_account_name"],
		BankBranch: v["bank_branch"], IdempotencyKey: f.Token, Lang: string(i18n.From(r.Context())), Lookup: looked}
	if f.Form.Has("amount") {
		amount, err := refunds.ParseAmount(v["amount"])
		if err != nil {
			f.Errors["amount"] = errText(r.Context(), err)
		}
		req.Amount = amount
		if err == nil && f.Refundable > 0 && amount > f.Refundable {
			f.Errors["amount"] = tr(r, "err.at_most", templates.Money(r.Context(), f.Refundable, f.Currency))
		}
	}
	// Every field error at once: the domain's own rules run even when the
	// amount or the lookup already failed (they never overwrite those).
	if ve := s.refunds.Precheck(req, strings.EqualFold(f.PaymentMethod, "QR")); ve != nil {
		for field, msg := range fieldTexts(r.Context(), ve.Fields) {
			if _, set := f.Errors[field]; !set {
				f.Errors[field] = msg
			}
		}
	}
	if len(f.Errors) == 0 {
		u, _ := userFrom(r.Context())
		ref, err := s.refunds.Create(r.Context(), actorOf(r.Context(), u), req)
		var ve *refunds.ValidationError
		switch {
		case errors.As(err, &ve):
			maps.Copy(f.Errors, fieldTexts(r.Context(), ve.Fields))
		case errors.Is(err, refunds.ErrTokenReused):
			// A fresh token: submitting again is a deliberate new request.
			f.Errors["form"], f.Token = tr(r, "err.token_reused"), uuid.NewString()
		case err != nil:
			if _, msg, ok := neoxProblem(r.Context(), err, doneRequest); ok {
				f.Errors["form"] = msg
				break
			}
			if msg := lookupMessage(r.Context(), err); msg != "" {
				f.Errors["form"] = msg
				break
			}
			s.renderError(w, r, err)
			return
		default:
			redirectFlash(w, r, "/refunds/"+ref.ID, "refund-requested")
			return
		}
	}
	if f.Form.Has("amount") && v["amount"] != "" {
		if n, err := refunds.ParseAmount(v["amount"]); err == nil {
			f.Values["amount"] = templates.GroupThousands(n)
		}
	}
	s.render(w, r, http.StatusUnprocessableEntity, templates.RefundFormPage(s.page(r, "rf.title", "transactions"), f))
}

// refundFromPath loads the refund named by {id}.
func (s *Server) refundFromPath(r *http.Request) (refunds.Refund, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return refunds.Refund{}, errNotFound
	}
	ref, err := s.refunds.Get(r.Context(), id)
	if errors.Is(err, refunds.ErrNotFound) {
		return ref, errNotFound
	}
	return ref, err
}

func (s *Server) refundDetail(r *http.Request, ref refunds.Refund) (templates.RefundDetailData, error) {
	u, _ := userFrom(r.Context())
	d := templates.RefundDetailData{Refund: ref, Errors: templates.FieldErrors{}}
	// Approving reads the approval policy in force: the viewer's limit.
	now, err := s.refunds.PolicyNow(r.Context())
	if err != nil {
		return d, err
	}
	d.CanApprove = now.Can(policyActor(u), policy.Approve, ref.Subject())
	if !d.CanApprove {
		var den *policy.Denial
		if errors.As(now.Decide(policyActor(u), policy.Approve, ref.Subject()), &den) {
			d.OverLimit = den.Reason == policy.ReasonLimit
			d.SameApprover = den.Reason == policy.ReasonSecond
		}
	}
	d.CanCancel = s.mayOn(u, policy.Cancel, ref)
	// The maker of a pending refund who decides other people's is told
	// why there are no buttons.
	d.SelfApprovalNote = d.CanCancel && s.may(u, policy.Approve)
	d.CanResolve = s.mayOn(u, policy.Resolve, ref)
	d.LinkEvents = s.may(u, policy.ViewAudit) // /audit/events/{seq}
	if d.Attempts, err = s.refunds.Attempts(r.Context(), ref.ID); err != nil {
		return d, err
	}
	// The transaction as the desk knows it, refreshed with the live part
	// so it never disagrees with the state above it (database only, no
	// NeoX call).
	c, err := s.refunds.TransactionContext(r.Context(), ref)
	if err != nil {
		return d, err
	}
	d.Context = &c
	entries, err := s.audit.Timeline(r.Context(), "refund", ref.ID)
	if err != nil {
		return d, err
	}
	for _, e := range entries {
		d.Timeline = append(d.Timeline, timelineEntry(e))
	}
	return d, nil
}

func timelineEntry(e audit.Entry) templates.TimelineEntry {
	te := templates.TimelineEntry{Seq: e.Seq, Time: e.Time, Actor: e.ActorName, Action: e.Action, Outcome: e.Outcome}
	for _, k := range []string{"from", "to", "state", "op", "outcome", "code", "message", "note", "neox_ref", "reason", "status", "applied", "failed_reason", "step", "of", "policy_version", "approvals_required"} {
		if v, ok := e.Details[k]; ok && v != nil && v != "" {
			te.Parts = append(te.Parts, templates.TimelinePart{Key: k, Value: toString(v)})
		}
	}
	return te
}

// visibleRefund loads the refund named by {id} with everything its page
// shows, if the user may see it; otherwise it has answered the request.
func (s *Server) visibleRefund(w http.ResponseWriter, r *http.Request) (templates.RefundDetailData, bool) {
	ref, err := s.refundFromPath(r)
	if err != nil {
		s.renderError(w, r, err)
		return templates.RefundDetailData{}, false
	}
	if u, _ := userFrom(r.Context()); !s.mayOn(u, policy.View, ref) {
		s.denied(r, deniedNotOwner, "refund", ref.ID, nil)
		s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.not_allowed"), tr(r, "err.staff_own_only"))
		return templates.RefundDetailData{}, false
	}
	d, err := s.refundDetail(r, ref)
	if err != nil {
		s.renderError(w, r, err)
		return d, false
	}
	return d, true
}

// handleRefund serves GET /refunds/{id}.
func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.visibleRefund(w, r); ok {
		s.renderRefundPage(w, r, http.StatusOK, d)
	}
}

// renderRefundPage renders the whole refund page: its title names the
// refund the way people recognise it, so every refund's tab and history
// entry differs.
func (s *Server) renderRefundPage(w http.ResponseWriter, r *http.Request, status int, d templates.RefundDetailData) {
	p := s.page(r, "rd.title", "refunds")
	p.Title = templates.RefundTitle(r.Context(), d.Refund)
	s.render(w, r, status, templates.RefundDetailPage(p, d))
}

// handleRefundStatus serves GET /refunds/{id}/status: the live part of the
// refund page, which polls it until the refund is final.
func (s *Server) handleRefundStatus(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.visibleRefund(w, r); ok {
		d.Live = true
		s.render(w, r, http.StatusOK, templates.RefundLive(d))
	}
}

// decisionError renders what went wrong with approve/reject/cancel.
func (s *Server) decisionError(w http.ResponseWriter, r *http.Request, ref refunds.Refund, err error) {
	var ve *refunds.ValidationError
	switch {
	case errors.Is(err, refunds.ErrSelfApproval):
		s.denied(r, deniedSelfApproval, "refund", ref.ID, nil)
		s.fail(w, r, err, doneApprove)
	case errors.Is(err, refunds.ErrOverLimit), errors.Is(err, refunds.ErrSameApprover):
		reason := deniedOverLimit
		if errors.Is(err, refunds.ErrSameApprover) {
			reason = deniedSameApprover
		}
		s.denied(r, reason, "refund", ref.ID, nil)
		s.fail(w, r, err, doneApprove)
	case errors.Is(err, refunds.ErrForbidden):
		// The route let the role in, so the domain refused the person:
		// cancelling someone else's refund, or deciding without being a
		// manager.
		reason := deniedRole
		var d *policy.Denial
		if errors.As(err, &d) && d.Reason == policy.ReasonNotOwner {
			reason = deniedNotOwner
		}
		s.denied(r, reason, "refund", ref.ID, nil)
		s.fail(w, r, err, doneApprove)
	case errors.Is(err, refunds.ErrConflict):
		cur, gerr := s.refunds.Get(r.Context(), ref.ID)
		extra := map[string]any{}
		if gerr == nil {
			extra["state"] = cur.Approval
		}
		s.denied(r, deniedConflict, "refund", ref.ID, extra)
		msg := tr(r, "err.acted_first")
		switch {
		case gerr == nil && cur.DecidedByName != "":
			msg += tr(r, "err.now_state_by", cur.Approval, cur.DecidedByName)
		case gerr == nil:
			msg += tr(r, "err.now_state", cur.Approval)
		}
		s.renderStatus(w, r, http.StatusConflict, tr(r, "err.already_decided"), msg)
	case errors.As(err, &ve), isNeoX(err):
		// Stay on the refund, with what was typed and what went wrong.
		d, derr := s.refundDetail(r, ref)
		if derr != nil {
			s.renderError(w, r, derr)
			return
		}
		status := http.StatusUnprocessableEntity
		if ve != nil {
			maps.Copy(d.Errors, fieldTexts(r.Context(), ve.Fields))
		} else {
			status, d.Errors["decision"], _ = neoxProblem(r.Context(), err, doneApprove)
		}
		d.Note = r.PostForm.Get("note")
		s.renderRefundPage(w, r, status, d)
	default:
		s.renderError(w, r, err)
	}
}

// handleRefundApprove serves POST /refunds/{id}/approve.
func (s *Server) handleRefundApprove(w http.ResponseWriter, r *http.Request) {
	if !s.stepUpApproval(w, r, []string{r.PathValue("id")}) {
		return
	}
	s.decide(w, r, "refund-approved", func(a refunds.Actor, id, note string) (refunds.Refund, error) {
		return s.refunds.Approve(r.Context(), a, id, note)
	})
}

// handleRefundReject serves POST /refunds/{id}/reject, from the refund's
// page or from the approvals queue (from=approvals), which it goes back to.
func (s *Server) handleRefundReject(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("from") == "approvals" {
		s.rejectFromQueue(w, r)
		return
	}
	s.decide(w, r, "refund-rejected", func(a refunds.Actor, id, note string) (refunds.Refund, error) {
		return s.refunds.Reject(r.Context(), a, id, note)
	})
}

// rejectFromQueue rejects one refund from the approvals queue under the
// same rules as its page (the note is required). Done or already decided,
// the queue says so after a redirect (post/redirect/get, like bulk
// approve); a missing or bad note shows the queue again with that row's
// form open, what was typed and the problem.
func (s *Server) rejectFromQueue(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.postedRefund(w, r)
	if !ok {
		return
	}
	u, _ := userFrom(r.Context())
	note := strings.TrimSpace(r.PostForm.Get("note"))
	_, err := s.refunds.Reject(r.Context(), actorOf(r.Context(), u), ref.ID, note)
	var ve *refunds.ValidationError
	var result string
	switch {
	case err == nil:
		result = "ap.rejected\t" + ref.ID
	case errors.Is(err, refunds.ErrConflict):
		s.denied(r, deniedConflict, "refund", ref.ID, map[string]any{"queue": true})
		result = "ap.decided\t" + ref.ID
	case errors.As(err, &ve):
		msg := tr(r, "ap.reject_failed")
		for _, m := range fieldTexts(r.Context(), ve.Fields) {
			msg = m // one field: the note
		}
		s.renderApprovalsWith(w, r, http.StatusUnprocessableEntity, nil,
			templates.QueueReject{ID: ref.ID, Note: r.PostForm.Get("note"), Error: msg})
		return
	default:
		s.decisionError(w, r, ref, err)
		return
	}
	if err := s.stash(r, stashBulk, result); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/approvals")
}

// handleRefundCancel serves POST /refunds/{id}/cancel.
func (s *Server) handleRefundCancel(w http.ResponseWriter, r *http.Request) {
	s.decide(w, r, "refund-cancelled", func(a refunds.Actor, id, _ string) (refunds.Refund, error) {
		return s.refunds.Cancel(r.Context(), a, id)
	})
}

// postedRefund reads a posted form about the refund in the path; false
// means the answer (an error page) is written.
func (s *Server) postedRefund(w http.ResponseWriter, r *http.Request) (refunds.Refund, bool) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return refunds.Refund{}, false
	}
	ref, err := s.refundFromPath(r)
	if err != nil {
		s.renderError(w, r, err)
		return refunds.Refund{}, false
	}
	return ref, true
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, flash string, act func(refunds.Actor, string, string) (refunds.Refund, error)) {
	ref, ok := s.postedRefund(w, r)
	if !ok {
		return
	}
	u, _ := userFrom(r.Context())
	note := strings.TrimSpace(r.PostForm.Get("note"))
	got, err := act(actorOf(r.Context(), u), ref.ID, note)
	if err != nil {
		s.decisionError(w, r, ref, err)
		return
	}
	if flash == "refund-approved" && got.Approval == refunds.ApprovalPending {
		// The first of two approvals: it waits for another approver.
		flash = "refund-approval-given"
	}
	redirectFlash(w, r, "/refunds/"+ref.ID, flash)
}

// handleApprovals serves GET /approvals: the queue, oldest first.
func (s *Server) handleApprovals(w http.ResponseWriter, r *http.Request) {
	var results []string
	if kept, ok := s.unstash(r, stashBulk); ok {
		for _, line := range strings.Split(kept, "\n") {
			key, arg, _ := strings.Cut(line, "\t")
			if key == "ap.approved_n" {
				n, _ := strconv.Atoi(arg)
				results = append(results, tr(r, key, n))
				continue
			}
			results = append(results, tr(r, key, arg))
		}
	}
	s.renderApprovals(w, r, http.StatusOK, results)
}

// stashBulk keeps bulk approve's (and a queue reject's) results for the
// page it redirects to: lines of message key, tab, argument; the argument
// of ap.approved_n is the count approved.
const stashBulk = "bulk_results"

func (s *Server) renderApprovals(w http.ResponseWriter, r *http.Request, status int, results []string) {
	s.renderApprovalsWith(w, r, status, results, templates.QueueReject{})
}

// renderApprovalsWith is the queue with one row's reject form as posted.
func (s *Server) renderApprovalsWith(w http.ResponseWriter, r *http.Request, status int, results []string, rej templates.QueueReject) {
	rows, err := s.refunds.Pending(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.page(r, "nav.approvals", "approvals")
	// The queue offers a checkbox only where the viewer's limit allows.
	now, err := s.refunds.PolicyNow(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if pg.Viewer != nil {
		pg.Viewer.Policy = now
	}
	s.render(w, r, status, templates.ApprovalsPage(pg,
		templates.ApprovalsData{Rows: rows, Now: s.now(), Results: results, Reject: rej}))
}

// handleApproveBulk serves POST /approvals/bulk: approves each selected
// refund under the same rules as one at a time, and reports each outcome.
func (s *Server) handleApproveBulk(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	ids := r.PostForm["id"]
	if len(ids) == 0 {
		s.renderApprovals(w, r, http.StatusUnprocessableEntity, []string{tr(r, "ap.select_one")})
		return
	}
	if len(ids) > 200 {
		s.renderApprovals(w, r, http.StatusUnprocessableEntity, []string{tr(r, "ap.at_most")})
		return
	}
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			// Not something the queue's checkboxes send: nothing is approved.
			s.renderApprovals(w, r, http.StatusUnprocessableEntity, []string{tr(r, "ap.bad_id")})
			return
		}
	}
	if !s.stepUpApproval(w, r, ids) {
		return
	}
	u, _ := userFrom(r.Context())
	results := []string{}
	approved := 0
	for _, res := range s.refunds.ApproveEach(r.Context(), actorOf(r.Context(), u), ids) {
		id, err := res.ID, res.Err
		if err == nil {
			if res.Partial {
				// The first of two: reported per refund, not counted as sent.
				results = append(results, "ap.partial\t"+id)
			} else {
				approved++
			}
			continue
		}
		key := "ap.not_approved"
		switch {
		case errors.Is(err, refunds.ErrSelfApproval):
			key = "ap.own"
			s.denied(r, deniedSelfApproval, "refund", id, map[string]any{"bulk": true})
		case errors.Is(err, refunds.ErrOverLimit):
			key = "ap.over_limit"
			s.denied(r, deniedOverLimit, "refund", id, map[string]any{"bulk": true})
		case errors.Is(err, refunds.ErrSameApprover):
			key = "ap.same_approver"
			s.denied(r, deniedSameApprover, "refund", id, map[string]any{"bulk": true})
		case errors.Is(err, refunds.ErrConflict):
			key = "ap.decided"
			s.denied(r, deniedConflict, "refund", id, map[string]any{"bulk": true})
		case errors.Is(err, refunds.ErrNotFound):
			key = "ap.missing"
		case isNeoX(err):
			key = "ap.neox"
		}
		results = append(results, key+"\t"+id)
	}
	slices.Sort(results)
	results = slices.Insert(results, 0, "ap.approved_n\t"+strconv.Itoa(approved))
	if err := s.stash(r, stashBulk, strings.Join(results, "\n")); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/approvals")
}
