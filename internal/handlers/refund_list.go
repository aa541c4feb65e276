package handlers

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

const refundPageSize = 25

// parseRefundFilter reads the list filters from the query string. Those
// the policy does not let see everyone's refunds (staff) always see only
// their own requests, whatever the URL says. a is the user (policyActor)
// or the API key asking; apis are the products a refund can go through.
// The page and GET /api/v1/refunds share it, so both filter alike.
func parseRefundFilter(q url.Values, p policy.Policy, a policy.Actor, zone *time.Location, apis []string) (refunds.ListFilter, templates.RefundListForm) {
	form := templates.RefundListForm{Status: q.Get("status"), API: q.Get("api"), Requester: q.Get("requester"),
		From: q.Get("from"), To: q.Get("to"), MinAmount: q.Get("min"), MaxAmount: q.Get("max"),
		Currency: strings.ToUpper(strings.TrimSpace(q.Get("currency"))), Search: strings.TrimSpace(q.Get("q")),
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
	if !p.Permits(a, policy.ViewAll) {
		f.RequestedBy = a.ID
	}
	f.From, f.To = parseDayRange(form.From, form.To, zone, form.Errors)
	if form.Currency != "" && !validCurrency(form.Currency) {
		form.Errors["currency"] = "err.unknown_currency"
	}
	f.Currency = form.Currency
	if len(form.Search) > 64 || strings.ContainsFunc(form.Search, unicode.IsControl) {
		form.Errors["q"] = "err.ref_search_too_long"
	}
	f.Search = form.Search
	if q.Has("failure") {
		form.Failure, form.HasFailure = q.Get("failure"), true
		if len(form.Failure) > 500 {
			form.Errors["status"] = "err.ref_search_too_long"
		}
		f.FailureReason, f.HasFailureReason = form.Failure, true
	}
	for _, a := range []struct {
		field, val string
		dst        *int64
	}{{"min", form.MinAmount, &f.MinAmount}, {"max", form.MaxAmount, &f.MaxAmount}} {
		if a.val == "" {
			continue
		}
		if form.Currency == "" {
			// 100.000 đồng and USD 1,000.00 are not comparable numbers.
			form.Errors[a.field] = "err.amount_needs_currency"
			continue
		}
		n, ok := parseMinor(a.val, form.Currency)
		if !ok {
			form.Errors[a.field] = "err.amount_format"
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
		if form.Currency == "" {
			form.Errors["currency"] = "err.sort_needs_currency"
		}
	default:
		form.Errors["sort"] = "err.unknown_sort"
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
	if form.HasFailure {
		v.Set("failure", form.Failure)
	}
	for k, val := range map[string]string{"status": form.Status, "api": form.API, "requester": form.Requester,
		"from": form.From, "to": form.To, "on": form.On, "min": form.MinAmount, "max": form.MaxAmount, "sort": form.Sort, "dir": form.Dir,
		"currency": form.Currency, "q": form.Search} {
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
	f, form := parseRefundFilter(q, s.policy, policyActor(u), s.zone, s.refunds.ProductNames())
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
		if d.Totals, d.TotalsCapped, err = s.refunds.Totals(r.Context(), f); err != nil {
			s.renderError(w, r, err)
			return
		}
		d.ExportHref = "/refunds/export.csv?" + base.Encode()
		// Pages are keyset positions, so going back needs to know where
		// the earlier pages began: the URL carries that trail (bounded;
		// past it, "first page" is the way back).
		trail := pageTrail(q.Get("trail"))
		if after == "" {
			trail = nil
		}
		if next != "" {
			v := refundListQuery(form)
			v.Set("after", string(next))
			v.Set("trail", strings.Join(boundTrail(append(slices.Clone(trail), trailMark(after))), "."))
			d.NextHref = "/refunds?" + v.Encode()
		}
		if after != "" {
			d.FirstHref = "/refunds?" + base.Encode()
			if len(trail) > 0 {
				v := refundListQuery(form)
				if prev := trail[len(trail)-1]; prev != firstPage {
					v.Set("after", prev)
					v.Set("trail", strings.Join(trail[:len(trail)-1], "."))
				}
				d.PrevHref = "/refunds?" + v.Encode()
			}
		}
	}
	s.render(w, r, status, templates.RefundListPage(s.page(r, "nav.refunds", "refunds"), d))
}

// validCurrency: an ISO 4217 code's shape, three capital letters.
func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// parseMinor reads an amount typed in currency's usual form as minor
// units: đồng and other zero-decimal currencies with dots or commas
// between thousands (1.500.000), others with a decimal point and optional
// thousands commas (1,500.00) or the Vietnamese way round (1.500,00).
func parseMinor(s, currency string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	exp := neox.CurrencyExponent(currency)
	whole, frac := s, ""
	if exp > 0 {
		// The last separator followed by 1..exp digits is the decimal mark.
		if i := strings.LastIndexAny(s, ".,"); i >= 0 && len(s)-i-1 <= exp && len(s)-i-1 > 0 {
			whole, frac = s[:i], s[i+1:]
		}
	}
	whole = strings.NewReplacer(".", "", ",", "").Replace(whole)
	if whole == "" || len(whole) > 15 {
		return 0, false
	}
	digits := whole + frac + strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	return n, true
}

// exportColumns are the refunds CSV's columns: amounts as minor units and
// as a decimal in the currency beside its code, times in RFC 3339 UTC.
var exportColumns = []string{"refund_id", "requested_at_utc", "api", "transaction_ref", "payment_id", "amount",
	"currency", "amount_minor", "approval", "submission", "requested_by", "reason_code", "decided_by", "final_at_utc",
	"neox_refund_id", "receiver_account"}

// handleRefundsExport serves GET /refunds/export.csv: the filtered list,
// every page of it, streamed as CSV (formula-safe), and audited.
func (s *Server) handleRefundsExport(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	f, form := parseRefundFilter(r.URL.Query(), s.policy, policyActor(u), s.zone, s.refunds.ProductNames())
	if len(form.Errors) > 0 {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "err.cannot_export"), tr(r, "err.cannot_export_text"))
		return
	}
	filter := refundListQuery(form).Encode()
	if err := s.audit.RecordNow(r.Context(), audit.Event{Action: audit.ActionRefundsExport, Outcome: audit.OutcomeSuccess,
		TargetType: "refunds", Details: map[string]any{"filter": filter}}); err != nil {
		s.renderError(w, r, err)
		return
	}
	name := "refunds-" + s.now().In(s.zone).Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(exportColumns)
	utc := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	var after refunds.Cursor
	rows := 0
	for {
		page, next, err := s.refunds.List(r.Context(), f, after, refunds.MaxPageSize)
		if err != nil {
			// Rows already went out: the cut shows as a last line, never
			// as a complete-looking file.
			s.log.ErrorContext(r.Context(), "refunds export failed", "err", err, "rows", rows)
			_ = cw.Write([]string{"# export incomplete: " + tr(r, "err.cannot_export")})
			break
		}
		for _, x := range page {
			cur := x.Currency
			if cur == "" {
				cur = "VND"
			}
			rec := []string{x.ID, utc(x.RequestedAt), string(x.API), x.TransactionRef, x.PaymentID,
				neox.FormatMinor(x.Amount, cur), cur, strconv.FormatInt(x.Amount, 10), x.Approval, x.Submission,
				x.RequestedByName, x.ReasonCode, x.DecidedByName, utc(x.FinalAt), x.NeoXRefundID, x.MaskedAccount()}
			for i := range rec {
				rec[i] = audit.Cell(rec[i])
			}
			_ = cw.Write(rec)
			rows++
		}
		cw.Flush()
		if next == "" || r.Context().Err() != nil {
			break
		}
		after = next
	}
	cw.Flush()
}

// firstPage stands for the first page in a page trail.
const firstPage = "0"

// maxTrail bounds the pages "previous" can walk back through.
const maxTrail = 20

func trailMark(after refunds.Cursor) string {
	if after == "" {
		return firstPage
	}
	return string(after)
}

func boundTrail(t []string) []string {
	if len(t) > maxTrail {
		return t[len(t)-maxTrail:]
	}
	return t
}

// pageTrail reads the trail of earlier pages' cursors; anything that is
// not one (too long, wrong alphabet) ends it, so a tampered trail only
// costs the way back.
func pageTrail(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, c := range strings.Split(s, ".") {
		if c == "" || len(c) > 512 || strings.ContainsFunc(c, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			return nil
		}
		out = append(out, c)
	}
	return boundTrail(out)
}
