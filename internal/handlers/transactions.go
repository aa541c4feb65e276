package handlers

import (
	"context"
	"errors"
	"net/http"
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

// handleTransactions serves GET /transactions: the lookup form, and the
// result when api and ref are given.
func (s *Server) handleTransactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := templates.LookupForm{API: q.Get("api"), Ref: strings.TrimSpace(q.Get("ref")),
		SubMerchantID: strings.TrimSpace(q.Get("sub_merchant_id")), APIs: s.configuredAPIs(), Errors: templates.FieldErrors{}}
	if f.API != string(refunds.APIGC) {
		f.SubMerchantID = "" // only GC orders belong to sub-merchants
	}
	var res *templates.LookupResult
	status := http.StatusOK
	if q.Has("ref") || q.Has("api") {
		switch {
		case !slices.Contains(f.APIs, f.API):
			f.Errors["api"] = tr(r, "tx.choose_product")
		case !validRef(f.Ref):
			f.Errors["ref"] = tr(r, "tx.bad_ref")
		case f.SubMerchantID != "" && !validRef(f.SubMerchantID):
			f.Errors["sub_merchant_id"] = tr(r, "tx.bad_sub")
		}
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		} else {
			lr, err := s.lookup(r, refunds.API(f.API), f.Ref, f.SubMerchantID)
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
// message on the result, other errors are returned. sub is the GC
// sub-merchant, if any.
func (s *Server) lookup(r *http.Request, api refunds.API, ref, sub string) (templates.LookupResult, error) {
	res := templates.LookupResult{API: string(api), Ref: ref}
	if u, ok := userFrom(r.Context()); ok {
		res.Viewer = s.viewer(u)
	}
	l, err := s.refunds.LookupSubMerchant(r.Context(), string(i18n.From(r.Context())), api, ref, sub)
	if err != nil {
		if msg := lookupMessage(r.Context(), err); msg != "" {
			res.Error = msg
			return res, nil
		}
		return res, err
	}
	res.FetchedAt, res.Refunds = l.FetchedAt, l.Refunds
	for _, p := range l.Payments {
		res.Payments = append(res.Payments, templates.PaymentRow{ID: p.ID, Status: p.Status, Method: p.Method,
			Amount: p.Amount, Refunded: p.Refunded, InFlight: p.Reserved, Refundable: p.Refundable, CanRefund: p.Refundable > 0})
	}
	if o := l.Order; o != nil {
		row := &templates.OrderRow{ID: o.ID, Status: o.Status, Currency: o.Currency, Amount: o.Amount,
			InFlight: o.Reserved, CanRefund: o.Refundable, PayAmount: o.PayAmount, PayCurrency: o.PayCurrency,
			OrderType: o.OrderType, MerchantID: o.MerchantID, SubMerchantID: o.SubMerchantID,
			Reason: reasonText(r.Context(), o.Reason)}
		if o.Refundable {
			row.Refundable = o.Amount
		}
		res.Order = row
	}
	if t := l.Transaction; t != nil {
		created := t.TransDate
		if created.IsZero() {
			created = t.CreatedAt
		}
		res.Order = &templates.OrderRow{ID: t.ID, Status: t.Status, Currency: "VND", Amount: t.Amount, Refunded: t.Refunded,
			InFlight: t.Reserved, Refundable: t.Refundable, CanRefund: t.Refundable > 0, Created: created,
			Fee: t.Fee, ReconcileStatus: t.ReconcileStatus, PayoutStatus: t.PayoutStatus, Unrecognised: t.Unrecognised,
			Reason: reasonText(r.Context(), t.Reason)}
	}
	return res, nil
}

// reasonText renders a refundable rule's reason in ctx's language.
func reasonText(ctx context.Context, m fault.Msg) string { return msgText(ctx, m) }
