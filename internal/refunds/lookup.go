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
// reserved against it: every target a refund could come from (one per PG
// payment; the reference itself for the other products), as its product
// shows it.
type Lookup struct {
	API       API
	Ref       string
	Targets   []TargetView
	Refunds   []Refund `json:"-"` // refunds requested here for this reference, newest first
	FetchedAt time.Time

	answer *lookupAnswer // NeoX's answer itself, when fetched live (see NewRequest.Lookup)
}

// TargetView is one target of a lookup: NeoX's figures, the product's
// refundable rule's verdict given what is reserved here, and the lines
// its product shows. Refundable = Amount − Refunded (NeoX) − Reserved
// (pending or in flight here), or for a whole-target product the whole
// Amount or 0; 0 unless Paid.
type TargetView struct {
	ID       string `json:",omitempty"` // the payment id where the reference holds several targets (PG)
	Status   string // NeoX's status, as sent
	Method   string `json:",omitempty"` // the payment method kept on a refund
	Currency string
	Amount   int64
	Refunded int64
	Reserved int64
	// Refundable is what may still be requested; Whole: all of Amount or
	// nothing.
	Refundable   int64
	Whole        bool `json:",omitempty"`
	Paid         bool
	Unrecognised bool   `json:",omitempty"` // a status the desk does not know, shown with Reason
	Reason       Format // why nothing can be refunded, or what an unrecognised status means
	// Lines and After are what the product shows of the target, before
	// and after the desk's figures; NotRefundable the message key of the
	// sentence when nothing can be refunded ("" the common one).
	Lines, After  []product.Line `json:",omitempty"`
	NotRefundable string         `json:",omitempty"`
	// Form is what the request form asks for a refund of this target.
	Form product.Form `json:"-"`
}

// What a product shows and asks for (see package product), for the pages.
type (
	Line     = product.Line
	LineKind = product.LineKind
	Field    = product.Field
	Form     = product.Form
)

// Line kinds and field kinds, for the pages.
const (
	KindMono    = product.KindMono
	KindCode    = product.KindCode
	KindMoney   = product.KindMoney
	KindTime    = product.KindTime
	KindNumeric = product.KindNumeric
	KindSelect  = product.KindSelect
)

// Target is the view of the target a request names: the reference's one
// target, or the payment paymentID.
func (l Lookup) Target(paymentID string) (TargetView, bool) {
	for _, t := range l.Targets {
		if t.ID == "" || t.ID == paymentID {
			return t, true
		}
	}
	return TargetView{}, false
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
	l := Lookup{API: api, Ref: ref}
	found, calls, err := p.Look(ctx, product.Request{TransactionRef: ref, SubMerchantID: subMerchantID, Lang: lang})
	for _, c := range calls {
		// The lookup's answers also tell whether NeoX accepts the desk's
		// signature.
		s.health.signature(api, s.now, timedCall(c))
	}
	var inv *product.Invalid
	if errors.As(err, &inv) {
		return Lookup{}, ErrNotFound
	}
	if err != nil {
		return Lookup{}, lookupErr(api, err)
	}
	l.FetchedAt = s.now()
	l.answer = &lookupAnswer{subMerchantID: subMerchantID, found: found}
	if l.Refunds, err = many(s.db.RefundsOfTransaction(ctx, string(api), ref)); err != nil {
		return Lookup{}, err
	}
	reserved := map[string]int64{}
	for _, r := range l.Refunds {
		if r.reserves() {
			reserved[r.PaymentID] += r.Amount
		}
	}
	for _, f := range found {
		v := f.Target.Verdict(reserved[f.ID])
		if v.Unrecognised {
			s.log.Info("refunds: target status not recognised, shown as sent", "api", api, "ref", ref, "status", f.Status)
		}
		paid, refunded := f.Target.Amounts()
		_, whole := f.Target.WholeAmount()
		l.Targets = append(l.Targets, TargetView{ID: f.ID, Status: f.Status, Method: f.Target.PaymentMethod(),
			Currency: f.Target.Currency(), Amount: paid, Refunded: refunded, Reserved: reserved[f.ID],
			Refundable: v.Refundable, Whole: whole, Paid: v.Paid, Unrecognised: v.Unrecognised, Reason: v.Reason,
			Lines: f.Lines, After: f.After, NotRefundable: f.NotRefundable, Form: p.Form(f.Target)})
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return Lookup{}, err
	}
	if s.keptMomentsAgo(ctx, l) {
		return l, nil
	}
	err = s.db.TxAt(ctx, l.FetchedAt, func(tx *store.Tx) error {
		return tx.CacheLookup(ctx, string(api), ref, string(payload), l.FetchedAt)
	})
	if err != nil {
		return Lookup{}, fmt.Errorf("refunds: cache lookup: %w", err)
	}
	return l, nil
}

// KeepUnchangedFor is how long a kept lookup stands for a new one whose
// answer is the same: within it the new one is not written. The lookup,
// its refund form and the request's re-check look one transaction up
// within seconds, and SQLite's one writer is what pages wait for under
// load (a lookup spent most of its time waiting for it to keep an answer
// it had just kept). The kept time may then be this much older than the
// last check that agreed with it, never newer.
const KeepUnchangedFor = 15 * time.Second

// keptMomentsAgo reports whether l's transaction was kept less than
// KeepUnchangedFor before l with the same answer (the same targets and
// figures; only the time differs).
func (s *Service) keptMomentsAgo(ctx context.Context, l Lookup) bool {
	prev, at, err := s.db.CachedLookup(ctx, string(l.API), l.Ref)
	if err != nil {
		return false
	}
	if age := l.FetchedAt.Sub(at); age < 0 || age >= KeepUnchangedFor {
		return false
	}
	var kept Lookup
	if json.Unmarshal([]byte(prev), &kept) != nil {
		return false
	}
	kept.FetchedAt, l.FetchedAt = time.Time{}, time.Time{}
	a, errA := json.Marshal(kept)
	b, errB := json.Marshal(l)
	return errA == nil && errB == nil && string(a) == string(b)
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
