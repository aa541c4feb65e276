package refunds

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// Lookup is a transaction as NeoX reports it now, with what this desk has
// reserved against it. Exactly one of Payments (PG), Order (GC) and
// Transaction (COL) is set.
type Lookup struct {
	API         API
	Ref         string
	Payments    []PaymentView    `json:",omitempty"`
	Order       *OrderView       `json:",omitempty"`
	Transaction *TransactionView `json:",omitempty"`
	Refunds     []Refund         `json:"-"` // refunds requested here for this reference, newest first
	FetchedAt   time.Time
}

// PaymentView is one PG payment. Refundable = Amount − Refunded (NeoX) −
// Reserved (pending or in-flight here); 0 unless Paid.
type PaymentView struct {
	ID, Status, Method string
	Amount             int64
	Refunded           int64
	Reserved           int64
	Refundable         int64
	Paid               bool
}

// OrderView is a GC collection order; GC refunds the whole order, so
// Refundable is a yes/no.
type OrderView struct {
	ID, Status, Currency string
	Amount               int64 // minor units of Currency
	CreatedAt            time.Time
	Reserved             int64
	Refundable           bool
}

// TransactionView is a COL collection transaction (VND).
type TransactionView struct {
	ID, Status string
	Amount     int64
	Refunded   int64
	Reserved   int64
	Refundable int64
	Paid       bool
	CreatedAt  time.Time
}

// LookupRef names a recently looked-up transaction.
type LookupRef struct {
	API       API
	Ref       string
	FetchedAt time.Time
}

// Lookup queries NeoX live for a transaction and caches the answer.
// Errors: ErrNotConfigured, ErrNotFound (NeoX does not know the id), or the
// NeoX error wrapped (its message is fit to show).
func (s *Service) Lookup(ctx context.Context, api API, ref string) (Lookup, error) {
	ref = strings.TrimSpace(ref)
	if !api.Valid() || ref == "" {
		return Lookup{}, ErrNotFound
	}
	if !s.configured(api) {
		return Lookup{}, ErrNotConfigured
	}
	l := Lookup{API: api, Ref: ref}
	switch api {
	case APIPG:
		pays, err := s.gw.PG.QueryPT(ctx, ref)
		if err != nil {
			return Lookup{}, lookupErr(api, err)
		}
		if len(pays) == 0 {
			return Lookup{}, ErrNotFound
		}
		for _, p := range pays {
			l.Payments = append(l.Payments, PaymentView{ID: p.ID, Status: p.Status, Method: p.Method,
				Amount: p.Amount, Refunded: p.RefundedAmount, Paid: isPaid(api, p.Status)})
		}
	case APIGC:
		o, err := s.gw.GC.GetCollectionOrder(ctx, ref)
		if err != nil {
			return Lookup{}, lookupErr(api, err)
		}
		l.Order = &OrderView{ID: o.ID, Status: o.Status, Currency: o.Currency, Amount: o.Amount, CreatedAt: o.CreatedAt}
	case APICOL:
		t, err := s.gw.COL.GetCollectionTransaction(ctx, ref)
		if err != nil {
			return Lookup{}, lookupErr(api, err)
		}
		l.Transaction = &TransactionView{ID: t.ID, Status: t.Status, Amount: t.Amount, Refunded: t.RefundedAmount,
			Paid: isPaid(api, t.Status), CreatedAt: t.CreatedAt}
	}
	l.FetchedAt = s.now()
	payload, err := json.Marshal(l)
	if err != nil {
		return Lookup{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO transactions_cache (api, ref, payload, fetched_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (api, ref) DO UPDATE SET payload = excluded.payload, fetched_at = excluded.fetched_at`,
			string(api), ref, string(payload), fmtTime(l.FetchedAt))
		return err
	})
	if err != nil {
		return Lookup{}, fmt.Errorf("refunds: cache lookup: %w", err)
	}
	if l.Refunds, err = queryRefunds(ctx, s.db.Read, `WHERE api = ? AND transaction_ref = ? ORDER BY requested_at DESC, id DESC`,
		string(api), ref); err != nil {
		return Lookup{}, err
	}
	reserved := map[string]int64{}
	for _, r := range l.Refunds {
		if r.reserves() {
			reserved[r.PaymentID] += r.Amount
		}
	}
	for i := range l.Payments {
		p := &l.Payments[i]
		p.Reserved = reserved[p.ID]
		if p.Paid {
			p.Refundable = Refundable(p.Amount, p.Refunded, p.Reserved)
		}
	}
	if o := l.Order; o != nil {
		o.Reserved = reserved[""]
		o.Refundable = isPaid(api, o.Status) && o.Reserved == 0 && o.Amount > 0
	}
	if t := l.Transaction; t != nil {
		t.Reserved = reserved[""]
		if t.Paid {
			t.Refundable = Refundable(t.Amount, t.Refunded, t.Reserved)
		}
	}
	return l, nil
}

func lookupErr(api API, err error) error {
	if errors.Is(err, neox.ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("refunds: NeoX %s lookup: %w", api, err)
}

// RecentLookups lists the most recently looked-up transactions.
func (s *Service) RecentLookups(ctx context.Context, limit int) ([]LookupRef, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	rows, err := s.db.Read.QueryContext(ctx, `SELECT api, ref, fetched_at FROM transactions_cache
		ORDER BY fetched_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("refunds: recent lookups: %w", err)
	}
	defer rows.Close()
	var out []LookupRef
	for rows.Next() {
		var l LookupRef
		var api, at string
		if err := rows.Scan(&api, &l.Ref, &at); err != nil {
			return nil, err
		}
		l.API = API(api)
		if l.FetchedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// target is what NeoX says now about the thing a refund would come from.
type target struct {
	api      API
	paid     int64 // PG payment amount, COL transaction amount, GC order amount
	refunded int64 // as NeoX reports (GC: 0)
	currency string
	method   string
	status   string
}

// fetchTarget asks NeoX for live numbers. Unknown ids become a
// *ValidationError on the reference field.
func (s *Service) fetchTarget(ctx context.Context, api API, ref, paymentID string) (target, error) {
	if !s.configured(api) {
		return target{}, ErrNotConfigured
	}
	t := target{api: api, currency: "VND"}
	switch api {
	case APIPG:
		pays, err := s.gw.PG.QueryPT(ctx, ref)
		if err != nil {
			return target{}, targetErr(api, err)
		}
		for _, p := range pays {
			if p.ID == paymentID {
				t.paid, t.refunded, t.method, t.status = p.Amount, p.RefundedAmount, p.Method, p.Status
				return t, nil
			}
		}
		if len(pays) == 0 {
			return target{}, invalid("transaction_ref", "NeoX does not know this transaction")
		}
		return target{}, invalid("payment_id", "this transaction has no such payment")
	case APIGC:
		o, err := s.gw.GC.GetCollectionOrder(ctx, ref)
		if err != nil {
			return target{}, targetErr(api, err)
		}
		t.paid, t.currency, t.status = o.Amount, o.Currency, o.Status
	case APICOL:
		c, err := s.gw.COL.GetCollectionTransaction(ctx, ref)
		if err != nil {
			return target{}, targetErr(api, err)
		}
		t.paid, t.refunded, t.status = c.Amount, c.RefundedAmount, c.Status
	}
	return t, nil
}

func targetErr(api API, err error) error {
	if errors.Is(err, neox.ErrNotFound) {
		return invalid("transaction_ref", "NeoX does not know this transaction")
	}
	return fmt.Errorf("refunds: NeoX %s: %w", api, err)
}

// check applies the rules that depend on the target but not on what is
// reserved here.
func (t target) check(req NewRequest) *ValidationError {
	if !isPaid(t.api, t.status) {
		return invalidf("transaction_ref", "only paid transactions can be refunded (NeoX status %s)", t.status)
	}
	switch t.api {
	case APIGC:
		if req.Amount != 0 && req.Amount != t.paid {
			return invalidf("amount", "GC refunds the whole order: %s %s", neox.FormatMinor(t.paid, t.currency), t.currency)
		}
		if t.paid <= 0 {
			return invalid("transaction_ref", "the order has no amount to refund")
		}
	case APIPG:
		if strings.EqualFold(t.method, "QR") {
			if f := receiverErrors(req); len(f) > 0 {
				return &ValidationError{Fields: f}
			}
		}
	}
	return nil
}

// checkRefundable is the money rule, run inside the write transaction.
func (t target) checkRefundable(amount, reserved int64) *ValidationError {
	left := Refundable(t.paid, t.refunded, reserved)
	if t.api == APIGC {
		if reserved > 0 {
			return invalid("transaction_ref", "a refund of this order is already pending or in progress")
		}
		return nil
	}
	if amount > left {
		return invalidf("amount", "at most %s can be refunded (paid %s, refunded %s, pending or in progress here %s)",
			FormatVND(left), FormatVND(t.paid), FormatVND(t.refunded), FormatVND(reserved))
	}
	return nil
}
