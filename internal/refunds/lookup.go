package refunds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Lookup is a transaction as NeoX reports it now, with what this desk has
// reserved against it. Exactly one of Payments (PG), Order (GC),
// Transaction (COL) and Target (any other product) is set.
type Lookup struct {
	API         API
	Ref         string
	Payments    []PaymentView    `json:",omitempty"`
	Order       *OrderView       `json:",omitempty"`
	Transaction *TransactionView `json:",omitempty"`
	Target      *TargetView      `json:",omitempty"`
	Refunds     []Refund         `json:"-"` // refunds requested here for this reference, newest first
	FetchedAt   time.Time

	answer *lookupAnswer // NeoX's answer itself, when fetched live (see NewRequest.Lookup)
}

// PaymentView is one PG payment. Refundable = Amount − Refunded (NeoX) −
// Reserved (pending or in-flight here); 0 unless Paid (see pgVerdict).
type PaymentView struct {
	ID, Status, Method string
	Amount             int64
	Refunded           int64
	Reserved           int64
	Refundable         int64
	Paid               bool
	Reason             fault.Msg // why nothing can be refunded; empty otherwise
}

// OrderView is a GC collection order; GC refunds the whole order, so
// Refundable is a yes/no (see gcVerdict). Amount/Currency is what a refund
// returns; PayAmount/PayCurrency what NeoX says was settled, shown beside it.
type OrderView struct {
	ID, Status, Currency string
	Amount               int64 // minor units of Currency
	PayCurrency          string
	PayAmount            int64 // minor units of PayCurrency
	OrderType            string
	MerchantID           string
	SubMerchantID        string // the sub-merchant the lookup was made for, if any
	Reserved             int64
	Refundable           bool
	Reason               fault.Msg // why it cannot be refunded; empty otherwise
}

// TransactionView is a COL collection transaction (VND). Status is what
// NeoX sent; Unrecognised marks a value the desk does not know, shown with
// Reason (see colVerdict).
type TransactionView struct {
	ID, Status      string
	Amount          int64
	Fee             int64
	Refunded        int64
	Reserved        int64
	Refundable      int64
	Paid            bool
	Unrecognised    bool
	Reason          fault.Msg
	ReconcileStatus string
	PayoutStatus    string
	TransDate       time.Time
	CreatedAt       time.Time
}

// TargetView is what a product without a view of its own reports of a
// target: its amounts and its refundable rule's verdict.
type TargetView struct {
	Currency     string
	Amount       int64
	Refunded     int64
	Reserved     int64
	Refundable   int64
	Paid         bool
	Unrecognised bool
	Reason       Format
}

// LookupRef names a recently looked-up transaction.
type LookupRef struct {
	API       API
	Ref       string
	FetchedAt time.Time
}

// Lookup queries NeoX live for a transaction and caches the answer; NeoX
// answers in lang (the asking user's language, see neox.Lang).
// Errors: ErrNotConfigured, ErrNotFound (NeoX does not know the id), or the
// NeoX error wrapped (its message is fit to show).
func (s *Service) Lookup(ctx context.Context, lang string, api API, ref string) (Lookup, error) {
	return s.LookupSubMerchant(ctx, lang, api, ref, "")
}

// LookupSubMerchant is Lookup on behalf of a GC sub-merchant: a non-empty
// subMerchantID is sent as NeoX's subMerchantId (GC finds a sub-merchant's
// order only with it). PG and COL ignore it.
func (s *Service) LookupSubMerchant(ctx context.Context, lang string, api API, ref, subMerchantID string) (Lookup, error) {
	ref, subMerchantID = strings.TrimSpace(ref), strings.TrimSpace(subMerchantID)
	p, known := s.products.Get(string(api))
	if !known || ref == "" {
		return Lookup{}, ErrNotFound
	}
	if !p.Configured() {
		return Lookup{}, ErrNotConfigured
	}
	var pays []neox.Payment
	var order neox.CollectionOrder
	var txn neox.CollectionTransaction
	var generic product.Target
	l := Lookup{API: api, Ref: ref}
	var err error
	switch api {
	case APIPG:
		pays, err = s.queryPT(ctx, lang, ref)
		if err == nil && len(pays) == 0 {
			return Lookup{}, ErrNotFound
		}
	case APIGC:
		order, err = s.gw.GC.GetCollectionOrder(ctx, lang, ref, subMerchantID)
	case APICOL:
		txn, err = s.gw.COL.GetCollectionTransaction(ctx, lang, ref)
	default:
		// A product with no view of its own: its target and rule.
		var calls []product.Call
		generic, calls, err = p.Target(ctx, product.Request{TransactionRef: ref, SubMerchantID: subMerchantID, Lang: lang})
		var inv *product.Invalid
		if errors.As(err, &inv) {
			return Lookup{}, ErrNotFound
		}
		for _, c := range calls {
			s.health.signature(api, s.now, timedCall(c))
		}
	}
	if err != nil {
		return Lookup{}, lookupErr(api, err)
	}
	l.FetchedAt = s.now()
	l.answer = &lookupAnswer{subMerchantID: subMerchantID, pays: pays, order: order, txn: txn}
	if l.Refunds, err = many(s.db.RefundsOfTransaction(ctx, string(api), ref)); err != nil {
		return Lookup{}, err
	}
	reserved := map[string]int64{}
	for _, r := range l.Refunds {
		if r.reserves() {
			reserved[r.PaymentID] += r.Amount
		}
	}
	for _, p := range pays {
		v := pgVerdict(p, reserved[p.ID])
		l.Payments = append(l.Payments, PaymentView{ID: p.ID, Status: p.Status, Method: p.Method, Amount: p.Amount,
			Refunded: p.RefundedAmount, Reserved: reserved[p.ID], Refundable: v.Refundable, Paid: v.Paid, Reason: v.Reason})
	}
	if api == APIGC {
		v := gcVerdict(order, reserved[""])
		l.Order = &OrderView{ID: order.ID, Status: order.Status, Currency: order.Currency, Amount: order.Amount,
			PayCurrency: order.PayCurrency, PayAmount: order.PayAmount, OrderType: order.OrderType, MerchantID: order.MerchantID,
			SubMerchantID: subMerchantID, Reserved: reserved[""], Refundable: v.Refundable > 0, Reason: v.Reason}
	}
	if api == APICOL {
		v := colVerdict(txn, reserved[""])
		if v.Unrecognised {
			s.log.Info("refunds: COL transaction status not recognised, shown as sent", "ref", ref, "status", txn.Status)
		}
		l.Transaction = &TransactionView{ID: txn.ID, Status: txn.Status, Amount: txn.Amount, Fee: txn.Fee,
			Refunded: txn.RefundedAmount, Reserved: reserved[""], Refundable: v.Refundable, Paid: v.Paid,
			Unrecognised: v.Unrecognised, Reason: v.Reason, ReconcileStatus: txn.ReconcileStatus, PayoutStatus: txn.PayoutStatus,
			TransDate: txn.TransDate, CreatedAt: txn.CreatedAt}
	}
	if generic != nil {
		v := generic.Verdict(reserved[""])
		paid, refunded := generic.Amounts()
		l.Target = &TargetView{Currency: generic.Currency(), Amount: paid, Refunded: refunded, Reserved: reserved[""],
			Refundable: v.Refundable, Paid: v.Paid, Unrecognised: v.Unrecognised, Reason: v.Reason}
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return Lookup{}, err
	}
	err = s.db.TxAt(ctx, l.FetchedAt, func(tx *store.Tx) error {
		return tx.CacheLookup(ctx, string(api), ref, string(payload), l.FetchedAt)
	})
	if err != nil {
		return Lookup{}, fmt.Errorf("refunds: cache lookup: %w", err)
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
	recs, err := s.db.RecentLookups(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("refunds: recent lookups: %w", err)
	}
	var out []LookupRef
	for _, r := range recs {
		out = append(out, LookupRef{API: API(r.API), Ref: r.Ref, FetchedAt: r.FetchedAt})
	}
	return out, nil
}

// target is what NeoX says now about the thing a refund would come from,
// as its product reads it.
type target struct {
	api API
	t   product.Target
}

// verdict applies the product's refundable rule.
func (t target) verdict(reserved int64) Verdict { return t.t.Verdict(reserved) }

// currency of the target's amounts.
func (t target) currency() string { return t.t.Currency() }

// amounts NeoX reports: paid and refunded so far.
func (t target) amounts() (paid, refunded int64) { return t.t.Amounts() }

// fetchTarget asks the product for NeoX's live numbers, NeoX answering in
// lang; subMerchantID goes with GC order lookups. Unknown ids become a *ValidationError on the
// reference (or payment) field.
func (s *Service) fetchTarget(ctx context.Context, lang string, api API, ref, paymentID, subMerchantID string) (target, error) {
	p, ok := s.products.Get(string(api))
	if !ok || !p.Configured() {
		return target{}, ErrNotConfigured
	}
	t, calls, err := p.Target(ctx, product.Request{TransactionRef: ref, PaymentID: paymentID, SubMerchantID: subMerchantID, Lang: lang})
	for _, c := range calls {
		// The request path's answers also tell whether NeoX accepts the
		// desk's signature.
		s.health.signature(api, s.now, timedCall(c))
	}
	var inv *product.Invalid
	if errors.As(err, &inv) {
		return target{}, fieldErrors(inv.Fields)
	}
	if err != nil {
		return target{}, targetErr(api, err)
	}
	return target{api: api, t: t}, nil
}

// msgUnknownRef: NeoX answered that the reference does not exist.
var msgUnknownRef = fault.M("domain.41", "NeoX does not know this transaction")

func targetErr(api API, err error) error {
	if errors.Is(err, neox.ErrNotFound) {
		return invalid("transaction_ref", msgUnknownRef)
	}
	return fmt.Errorf("refunds: NeoX %s: %w", api, err)
}

// check applies the rules that depend on the target but not on what is
// reserved here: the product's status rule, then the product's own
// (GC's whole-order amount, PG's receiver for QR payments).
func (t target) check(req NewRequest) *ValidationError {
	if v := t.verdict(0); !v.Paid {
		return invalid("transaction_ref", v.Reason)
	}
	if f := t.t.Check(productRequest(req)); len(f) > 0 {
		return fieldErrors(f)
	}
	return nil
}

// checkRefundable is the money rule, run inside the write transaction with
// what is reserved here: the product's verdict, then the amount (a
// whole-target product's verdict says it all).
func (t target) checkRefundable(amount, reserved int64) *ValidationError {
	v := t.verdict(reserved)
	if !v.Paid {
		return invalid("transaction_ref", v.Reason)
	}
	if _, whole := t.t.WholeAmount(); whole {
		if v.Refundable == 0 {
			return invalid("transaction_ref", v.Reason)
		}
		return nil
	}
	if amount > v.Refundable {
		paid, refunded := t.amounts()
		return invalid("amount", fault.M("domain.47", "at most %s can be refunded (paid %s, refunded %s, pending or in progress here %s)",
			FormatVND(v.Refundable), FormatVND(paid), FormatVND(refunded), FormatVND(reserved)))
	}
	return nil
}
