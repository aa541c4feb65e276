package refunds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ListFilter narrows List. Zero fields do not filter. From is inclusive,
// To exclusive (requested_at). Sort is "date" (default) or "amount".
type ListFilter struct {
	Approval   string
	Submission string
	API        API
	// RequestedBy limits to one maker's refunds (0 = everyone's).
	RequestedBy int64
	From, To    time.Time
	// On names the time From and To apply to: "" (when requested) or
	// "final" (when NeoX's outcome or the decision made it final).
	On string
	// MinAmount and MaxAmount are minor units of Currency: amounts of
	// different currencies are never compared (List refuses them without
	// one, and sorting by amount too).
	MinAmount, MaxAmount int64
	Currency             string
	// Search is a refund id, transaction reference (or its start), PG
	// payment id or NeoX refund id.
	Search string
	// FailureReason, when HasFailureReason, keeps failed refunds whose
	// reason reads so on the dashboard.
	FailureReason    string
	HasFailureReason bool
	Sort             string
	Desc             bool
}

// storeFilter checks f and turns it into the store's filter.
func (s *Service) storeFilter(f ListFilter) (store.RefundFilter, error) {
	q := store.RefundFilter{RequestedBy: f.RequestedBy, From: f.From, To: f.To, MinAmount: f.MinAmount,
		MaxAmount: f.MaxAmount, Currency: f.Currency, Search: f.Search,
		FailureReason: f.FailureReason, HasFailureReason: f.HasFailureReason, ByAmount: f.Sort == "amount", Desc: f.Desc}
	if f.Currency == "" && (f.MinAmount > 0 || f.MaxAmount > 0 || f.Sort == "amount") {
		return q, invalid("currency", fault.M("err.amount_needs_currency", "choose a currency to compare amounts"))
	}
	if f.Approval != "" {
		if !oneOf(f.Approval, ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalCancelled) {
			return q, invalid("approval", fault.M("domain.37", "unknown approval state"))
		}
		q.Approval = f.Approval
	}
	if f.Submission != "" {
		if !oneOf(f.Submission, SubNotSent, SubQueued, SubSending, SubProcessing, SubSucceeded, SubFailed, SubUnknown) {
			return q, invalid("submission", fault.M("domain.38", "unknown submission state"))
		}
		q.Submission = f.Submission
	}
	if f.API != "" {
		if _, ok := s.products.Get(string(f.API)); !ok {
			return q, invalid("api", fault.M("domain.13", "choose PG, GC or COL"))
		}
		q.API = string(f.API)
	}
	switch f.On {
	case "":
	case "final":
		q.OnFinal = true
	default:
		return q, invalid("on", fault.M("domain.39", "filter on the request or the final date"))
	}
	return q, nil
}

// TotalsCap is the most refunds Totals counts: a filter matching more gets
// no totals (the page asks for a narrower one) rather than a read of every
// refund on each page view.
const TotalsCap = 10_000

// Totals counts and sums the refunds f matches, per currency; capped
// (and no totals) when more than TotalsCap match.
//
// A filter on what a refund never changes (who asked, the product, the
// currency) matches only more refunds over time, since refunds are never
// deleted: once it matches more than the cap it always will, and later
// calls answer capped without reading the capped count again (10,001
// index entries, 5–8 ms of the database's time on PostgreSQL, on every
// view of the all-refunds and own lists of a large desk).
func (s *Service) Totals(ctx context.Context, f ListFilter) (totals []AmountTotal, capped bool, err error) {
	q, err := s.storeFilter(f)
	if err != nil {
		return nil, false, err
	}
	key, growing := growingFilterKey(q)
	if growing {
		if _, ok := s.cappedTotals.Load(key); ok {
			s.cappedHits.Add(1)
			return nil, true, nil
		}
	}
	limit := s.totalsCap
	if limit == 0 {
		limit = TotalsCap
	}
	t, capped, err := s.db.RefundTotals(ctx, q, limit)
	if err != nil {
		return nil, false, fmt.Errorf("refunds: totals: %w", err)
	}
	if capped && growing {
		s.cappedTotals.Store(key, struct{}{})
	}
	out := make([]AmountTotal, len(t))
	for i, x := range t {
		out[i] = AmountTotal{Currency: x.Currency, Count: x.Count, Amount: x.Amount}
	}
	return out, capped, nil
}

// growingFilterKey names q when it filters only on what a refund never
// changes (requested_by, api, currency), so that its matches only grow;
// the keys are few (people × products × currencies).
func growingFilterKey(q store.RefundFilter) (string, bool) {
	rest := q
	rest.RequestedBy, rest.API, rest.Currency = 0, "", ""
	// The order and the page are not what matches; any other field, a new
	// one too, may match fewer refunds later.
	rest.ByAmount, rest.Desc, rest.After, rest.Limit = false, false, nil, 0
	if rest != (store.RefundFilter{}) {
		return "", false
	}
	return fmt.Sprintf("%d/%s/%s", q.RequestedBy, q.API, q.Currency), true
}

// Cursor is an opaque keyset position returned by List.
type Cursor string

type cursorData struct {
	Sort string `json:"s"`
	Desc bool   `json:"d"`
	Key  string `json:"k"` // requested_at text for "date"
	Amt  int64  `json:"a"` // amount for "amount"
	ID   string `json:"i"`
}

// DefaultPageSize and MaxPageSize bound List's limit.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// List pages through refunds matching f, after the cursor (empty: from
// the start). next is empty on the last page. A cursor from another sort
// order, or a malformed one, is a *ValidationError on "cursor"; unknown
// state names are a *ValidationError on "approval" or "submission".
func (s *Service) List(ctx context.Context, f ListFilter, after Cursor, limit int) ([]Refund, Cursor, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	sortBy := f.Sort
	if sortBy == "" {
		sortBy = "date"
	}
	if sortBy != "date" && sortBy != "amount" {
		return nil, "", invalid("sort", fault.M("domain.36", "sort by date or amount"))
	}
	f.Sort = sortBy
	q, err := s.storeFilter(f)
	if err != nil {
		return nil, "", err
	}
	q.Limit = limit + 1
	if after != "" {
		c, err := decodeCursor(after)
		if err != nil || c.Sort != sortBy || c.Desc != f.Desc {
			return nil, "", invalid("cursor", fault.M("domain.40", "the page link is out of date; start again"))
		}
		at, err := parseTime(c.Key)
		if err != nil {
			return nil, "", invalid("cursor", fault.M("domain.40", "the page link is out of date; start again"))
		}
		q.After = &store.RefundPosition{RequestedAt: at, Amount: c.Amt, ID: c.ID}
	}
	items, err := many(s.db.ListRefunds(ctx, q))
	if err != nil {
		return nil, "", err
	}
	var next Cursor
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = encodeCursor(cursorData{Sort: sortBy, Desc: f.Desc, Key: fmtTime(last.RequestedAt), Amt: last.Amount, ID: last.ID})
	}
	return items, next, nil
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

func encodeCursor(c cursorData) Cursor {
	b, _ := json.Marshal(c) // plain struct: cannot fail
	return Cursor(base64.RawURLEncoding.EncodeToString(b))
}

func decodeCursor(c Cursor) (cursorData, error) {
	b, err := base64.RawURLEncoding.DecodeString(string(c))
	if err != nil {
		return cursorData{}, err
	}
	var d cursorData
	if err := json.Unmarshal(b, &d); err != nil {
		return cursorData{}, err
	}
	if d.ID == "" {
		return cursorData{}, fmt.Errorf("empty cursor")
	}
	return d, nil
}

// SuspiciousWebhooks lists stored webhooks kept for review because they
// disagree with the refund they name, or contradict a manual resolution,
// newest first.
func (s *Service) SuspiciousWebhooks(ctx context.Context, limit int) ([]WebhookEvent, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	return webhookEvents(s.db.ReviewWebhooks(ctx, limit))
}

func webhookEvents(recs []store.WebhookRecord, err error) ([]WebhookEvent, error) {
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	var out []WebhookEvent
	for _, w := range recs {
		out = append(out, WebhookEvent{ID: w.ID, API: API(w.API), RefundID: w.RefundID, EventRef: w.EventRef,
			EventStatus: w.EventStatus, ReceivedAt: w.ReceivedAt, LastReceivedAt: w.LastReceivedAt,
			Deliveries: w.Deliveries, Verified: w.Verified, Applied: w.Applied, Reason: w.Reason, RawBody: w.RawBody})
	}
	return out, nil
}
