package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

func (s *Server) configuredAPIs() []string {
	var out []string
	if s.refunds == nil {
		return nil
	}
	for _, a := range s.refunds.Configured() {
		out = append(out, string(a))
	}
	return out
}

// validRef accepts the NeoX reference formats we have seen: letters,
// digits and - _ . : up to 64 characters.
func validRef(ref string) bool {
	if ref == "" || len(ref) > 64 {
		return false
	}
	for _, c := range ref {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// lookupMessage turns a lookup failure into what staff can act on; "" for
// errors that are not about the reference or NeoX.
func lookupMessage(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, refunds.ErrNotFound), errors.Is(err, neox.ErrNotFound):
		return i18n.T(ctx, "tx.unknown_ref")
	case errors.Is(err, refunds.ErrNotConfigured):
		return i18n.T(ctx, "tx.not_configured")
	}
	_, msg, _ := neoxProblem(ctx, err, doneLookup)
	return msg
}

// lookupFields are the configured products' own lookup fields (GC's
// sub-merchant), each once, in the products' order.
func (s *Server) lookupFields() []refunds.Field {
	var out []refunds.Field
	for _, a := range s.configuredAPIs() {
		p, _ := s.refunds.Product(refunds.API(a))
		for _, fl := range p.LookupFields() {
			if !slices.ContainsFunc(out, func(o refunds.Field) bool { return o.Name == fl.Name }) {
				out = append(out, fl)
			}
		}
	}
	return out
}

// lookupValues reads the lookup fields product api asks for from q,
// trimmed; the others' are dropped (only GC orders belong to
// sub-merchants). bad is a field whose value is not a NeoX reference, or
// nil.
func (s *Server) lookupValues(api string, q url.Values) (vals map[string]string, fields []refunds.Field, bad *refunds.Field) {
	vals = map[string]string{}
	if p, ok := s.refunds.Product(refunds.API(api)); ok {
		fields = p.LookupFields()
	}
	for i, fl := range fields {
		v := strings.TrimSpace(q.Get(fl.Name))
		if v == "" {
			continue
		}
		vals[fl.Name] = v
		if bad == nil && !validRef(v) {
			bad = &fields[i]
		}
	}
	return vals, fields, bad
}

// carry is the query that takes a lookup's own field values along, in
// the fields' order ("&sub_merchant_id=…").
func carry(fields []refunds.Field, vals map[string]string) string {
	var b strings.Builder
	for _, fl := range fields {
		if v := vals[fl.Name]; v != "" {
			b.WriteString("&" + url.QueryEscape(fl.Name) + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

// handleTransactions serves GET /transactions: the lookup form, and the
// result when api and ref are given.
func (s *Server) handleTransactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := templates.LookupForm{API: q.Get("api"), Ref: strings.TrimSpace(q.Get("ref")), APIs: s.configuredAPIs(),
		Fields: s.lookupFields(), Errors: templates.FieldErrors{}}
	vals, fields, bad := s.lookupValues(f.API, q)
	f.Values = vals
	var res *templates.LookupResult
	status := http.StatusOK
	if q.Has("ref") || q.Has("api") {
		switch {
		case !slices.Contains(f.APIs, f.API):
			f.Errors["api"] = tr(r, "tx.choose_product")
		case !validRef(f.Ref):
			f.Errors["ref"] = tr(r, "tx.bad_ref")
		case bad != nil:
			f.Errors[bad.Name] = tr(r, bad.Bad)
		}
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		} else {
			lr, err := s.lookup(r, refunds.API(f.API), f.Ref, fields, vals)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			res = &lr
		}
	}
	recent, err := s.refunds.RecentLookups(r.Context(), 8)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var rec []templates.RecentLookup
	for _, l := range recent {
		rec = append(rec, templates.RecentLookup{API: string(l.API), Ref: l.Ref, At: l.FetchedAt})
	}
	s.render(w, r, status, templates.TransactionsPage(s.page(r, "nav.transactions", "transactions"), f, res, rec))
}

// lookup asks NeoX and maps the answer for the page; NeoX failures become a
// message on the result, other errors are returned. vals are the values
// of the product's own lookup fields.
func (s *Server) lookup(r *http.Request, api refunds.API, ref string, fields []refunds.Field, vals map[string]string) (templates.LookupResult, error) {
	res := templates.LookupResult{API: string(api), Ref: ref, Carry: carry(fields, vals)}
	if u, ok := userFrom(r.Context()); ok {
		res.Viewer = s.viewer(u)
	}
	l, err := s.refunds.LookupSubMerchant(r.Context(), string(i18n.From(r.Context())), api, ref, vals["sub_merchant_id"])
	if err != nil {
		if msg := lookupMessage(r.Context(), err); msg != "" {
			res.Error = msg
			return res, nil
		}
		return res, err
	}
	res.FetchedAt, res.Refunds = l.FetchedAt, l.Refunds
	for _, t := range l.Targets {
		res.Targets = append(res.Targets, templates.TargetRow{TargetView: t, Why: reasonText(r.Context(), t.Reason)})
	}
	return res, nil
}

// reasonText renders a refundable rule's reason in ctx's language.
func reasonText(ctx context.Context, m fault.Msg) string { return msgText(ctx, m) }
