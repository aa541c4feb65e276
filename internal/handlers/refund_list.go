package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

const refundPageSize = 25

// parseRefundFilter reads the list filters from the query string. Those
// the policy does not let see everyone's refunds (staff) always see only
// their own requests, whatever the URL says.
// apis are the products a refund can go through.
func parseRefundFilter(q url.Values, p policy.Policy, u auth.User, zone *time.Location, apis []string) (refunds.ListFilter, templates.RefundListForm) {
	form := templates.RefundListForm{Status: q.Get("status"), API: q.Get("api"), Requester: q.Get("requester"),
		From: q.Get("from"), To: q.Get("to"), MinAmount: q.Get("min"), MaxAmount: q.Get("max"),
		Sort: q.Get("sort"), Dir: q.Get("dir"), Errors: templates.FieldErrors{}}
	var f refunds.ListFilter
	switch form.Status {
	case "":
	case "PENDING", "APPROVED", "REJECTED", "CANCELLED":
		f.Approval = form.Status
	case "QUEUED", "SENDING", "PROCESSING", "UNKNOWN", "SUCCEEDED", "FAILED":
		f.Submission = form.Status
	default:
		form.Errors["status"] = "err.unknown_status"
	}
	if form.API == "" || slices.Contains(apis, form.API) {
		f.API = refunds.API(form.API)
	} else {
		form.Errors["api"] = "err.unknown_api"
	}
	if form.Requester != "" {
		id, err := strconv.ParseInt(form.Requester, 10, 64)
		if err != nil || id <= 0 {
			form.Errors["requester"] = "err.unknown_requester"
		}
		f.RequestedBy = id
	}
	if !p.Permits(policyActor(u), policy.ViewAll) {
		f.RequestedBy = u.ID
	}
	f.From, f.To = parseDayRange(form.From, form.To, zone, form.Errors)
	for _, a := range []struct {
		field, val string
		dst        *int64
	}{{"min", form.MinAmount, &f.MinAmount}, {"max", form.MaxAmount, &f.MaxAmount}} {
		if a.val == "" {
			continue
		}
		n, err := refunds.ParseAmount(a.val)
		if err != nil {
			form.Errors[a.field] = err.Error()
			continue
		}
		*a.dst = n
	}
	if f.MinAmount > 0 && f.MaxAmount > 0 && f.MinAmount > f.MaxAmount {
		form.Errors["max"] = "err.bounds"
	}
	switch form.Sort {
	case "", "date":
		form.Sort, f.Sort = "date", "date"
	case "amount":
		f.Sort = "amount"
	default:
		form.Errors["status"] = "err.unknown_sort"
	}
	switch q.Get("on") {
	case "":
	case "final":
		form.On, f.On = "final", "final"
	default:
		form.Errors["from"] = "err.unknown_period"
	}
	if form.Dir != "asc" {
		form.Dir = "desc"
	}
	f.Desc = form.Dir == "desc"
	return f, form
}

func refundListQuery(form templates.RefundListForm) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"status": form.Status, "api": form.API, "requester": form.Requester,
		"from": form.From, "to": form.To, "on": form.On, "min": form.MinAmount, "max": form.MaxAmount, "sort": form.Sort, "dir": form.Dir} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// handleRefunds serves GET /refunds: filters kept in the URL, keyset pages.
func (s *Server) handleRefunds(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	q := r.URL.Query()
	f, form := parseRefundFilter(q, s.policy, u, s.zone, s.refunds.ProductNames())
	localizeErrors(r.Context(), form.Errors)
	d := templates.RefundListData{Form: form, SortHref: map[string]string{}, APIs: s.refunds.ProductNames()}
	base := refundListQuery(form)
	for _, key := range []string{"date", "amount"} {
		v := refundListQuery(form)
		v.Set("sort", key)
		dir := "desc"
		if form.Sort == key && form.Dir == "desc" {
			dir = "asc"
		}
		v.Set("dir", dir)
		d.SortHref[key] = "/refunds?" + v.Encode()
	}
	if s.may(u, policy.ViewAll) {
		users, err := s.auth.ListUsers(r.Context())
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		for _, x := range users {
			d.Requesters = append(d.Requesters, templates.RequesterOption{ID: strconv.FormatInt(x.ID, 10), Name: x.Name()})
		}
	}
	status := http.StatusOK
	if len(form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		after := refunds.Cursor(q.Get("after"))
		rows, next, err := s.refunds.List(r.Context(), f, after, refundPageSize)
		if _, bad := refunds.IsValidation(err); bad && after != "" {
			// An old or damaged page link: say so and show the first page.
			d.Notice = tr(r, "list.bad_cursor")
			after = ""
			rows, next, err = s.refunds.List(r.Context(), f, after, refundPageSize)
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		d.Rows = rows
		if next != "" {
			v := refundListQuery(form)
			v.Set("after", string(next))
			d.NextHref = "/refunds?" + v.Encode()
		}
		if after != "" {
			d.FirstHref = "/refunds?" + base.Encode()
		}
	}
	s.render(w, r, status, templates.RefundListPage(s.page(r, "nav.refunds", "refunds"), d))
}
