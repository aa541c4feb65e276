// Package notify tells people and systems what happened to refunds: email
// over SMTP in the recipient's language, and signed outbound webhooks.
//
// Delivery goes through an outbox in the database. Recorder wraps the
// audit recorder the refund domain writes through: for the actions that
// notify, it writes an event and one delivery per recipient and channel
// in the same transaction as the audited change, so a crash loses nothing.
// A Dispatcher claims due deliveries with a lease, sends them outside any
// transaction and records the outcome, retrying with backoff until it
// gives up with the error kept (dispatch.go).
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Kind is what an event is about.
type Kind string

// The kinds of events.
// Who hears of each is policy.Audience's answer.
const (
	KindRequested Kind = policy.NoticeRequested // a new request awaits approval: approvers
	KindReminder  Kind = policy.NoticeReminder  // a request still waits after NOTIFY_REMIND_AFTER: approvers
	KindDecided   Kind = policy.NoticeDecided   // approved or rejected: the requester
	KindOutcome   Kind = policy.NoticeOutcome   // SUCCEEDED or FAILED: the requester
	KindAttention Kind = policy.NoticeAttention // no final answer in time: managers and admins
	KindOutage    Kind = policy.NoticeOutage    // NeoX stopped answering: admins
)

// Kinds lists every kind, in the order the settings pages show them.
func Kinds() []Kind {
	return []Kind{KindRequested, KindReminder, KindDecided, KindOutcome, KindAttention, KindOutage}
}

// ParseKind reads a kind's name.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	return k, slices.Contains(Kinds(), k)
}

// Channels.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Audit actions of the notification settings.
const (
	ActionEndpointAdded   = "notify.endpoint_added"
	ActionEndpointRemoved = "notify.endpoint_removed"
	ActionPrefsChanged    = "notify.prefs_changed"
)

// KindsFor lists the kinds a user of role can receive, for the account
// page.
func KindsFor(p policy.Policy, role policy.Role) []Kind {
	var out []Kind
	for _, k := range Kinds() {
		if p.Hears(role, string(k)) {
			out = append(out, k)
		}
	}
	return out
}

// Recorder appends audit events inside the caller's transaction
// (*audit.Log satisfies it, and so does *Recorder).
type Recorder interface {
	Record(ctx context.Context, tx *store.Tx, e audit.Event) error
}

// Outbox writes events and their deliveries inside a transaction.
type Outbox struct {
	// Policy says who hears of what (policy.Audience); the zero value is
	// the desk's rules.
	Policy policy.Policy
	// NoEmail: email is off (SMTP_HOST unset), so no email deliveries are
	// written; webhooks still are.
	NoEmail bool
	baseURL string
	log     *slog.Logger
	// wrote is nudged once deliveries were written and committed, so a
	// dispatcher looks for them at once instead of at its next poll (a
	// nudge before the commit could send it looking before they are there,
	// on PostgreSQL where writers run side by side).
	wrote chan struct{}
}

// NewOutbox returns an Outbox; baseURL makes the links in messages.
func NewOutbox(baseURL string, log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.Default()
	}
	return &Outbox{baseURL: strings.TrimSuffix(baseURL, "/"), log: log, wrote: make(chan struct{}, 1)}
}

// Wrap returns a Recorder that records through inner and then, for the
// actions that notify, writes the outbox rows in the same transaction.
func (o *Outbox) Wrap(inner Recorder) *WrappedRecorder {
	return &WrappedRecorder{inner: inner, out: o}
}

// WrappedRecorder is the audit recorder with the outbox beside it.
type WrappedRecorder struct {
	inner Recorder
	out   *Outbox
}

// Record records e through the wrapped recorder, then the notification it
// causes, if any. Either error rolls the transaction back.
func (r *WrappedRecorder) Record(ctx context.Context, tx *store.Tx, e audit.Event) error {
	if err := r.inner.Record(ctx, tx, e); err != nil {
		return err
	}
	return r.out.fromAudit(ctx, tx, e)
}

// Event is what one notification says; Data is its JSON payload.
type Event struct {
	ID       string
	Kind     Kind
	RefundID string
	At       time.Time
	Data     Data
}

// Data are the facts an event carries (JSON in webhooks, words in email).
type Data struct {
	RefundID       string `json:"refund_id,omitempty"`
	URL            string `json:"url,omitempty"`
	API            string `json:"api,omitempty"`
	TransactionRef string `json:"transaction_ref,omitempty"`
	Amount         int64  `json:"amount,omitempty"`
	Currency       string `json:"currency,omitempty"`
	RequestedBy    string `json:"requested_by,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Decision       string `json:"decision,omitempty"` // APPROVED | REJECTED
	DecidedBy      string `json:"decided_by,omitempty"`
	Note           string `json:"note,omitempty"`
	Outcome        string `json:"outcome,omitempty"` // SUCCEEDED | FAILED
	FailedReason   string `json:"failed_reason,omitempty"`
	Attention      string `json:"attention_reason,omitempty"`
	Operation      string `json:"operation,omitempty"` // outage: the NeoX operation
	Since          string `json:"since,omitempty"`     // outage: RFC 3339
	LastError      string `json:"last_error,omitempty"`
}

// fromAudit writes the notification e causes, if any.
func (o *Outbox) fromAudit(ctx context.Context, tx *store.Tx, e audit.Event) error {
	if e.TargetType != "refund" || e.TargetID == "" {
		return nil
	}
	var kind Kind
	switch e.Action {
	case audit.ActionRefundRequested:
		if n, ok := e.Details["approvals_required"].(int); ok && n == 0 {
			return nil // approved by the policy itself: nobody has to act
		}
		kind = KindRequested
	case audit.ActionRefundApproved, audit.ActionRefundRejected:
		kind = KindDecided
	case audit.ActionRefundState, audit.ActionRefundResolved:
		if to, _ := e.Details["to"].(string); to != "SUCCEEDED" && to != "FAILED" {
			return nil
		}
		kind = KindOutcome
	case audit.ActionRefundNeedsAttention:
		kind = KindAttention
	default:
		return nil
	}
	return o.Refund(ctx, tx, kind, e.TargetID, "")
}

// Refund writes an event of kind about refund id, read inside tx, and its
// deliveries. A non-empty dedupe makes it happen at most once.
func (o *Outbox) Refund(ctx context.Context, tx *store.Tx, kind Kind, id, dedupe string) error {
	r, err := tx.Refund(ctx, id)
	if err != nil {
		return fmt.Errorf("notify: read refund %s: %w", id, err)
	}
	d := Data{RefundID: r.ID, URL: o.baseURL + "/refunds/" + r.ID, API: r.API, TransactionRef: r.TransactionRef,
		Amount: r.Amount, Currency: r.Currency, RequestedBy: r.RequestedByName, Reason: r.ReasonText}
	roles, requester := o.Policy.Audience(string(kind))
	var users []int64
	if requester {
		users = []int64{r.RequestedBy}
	}
	except := int64(0)
	switch kind {
	case KindRequested, KindReminder:
		except = r.RequestedBy // maker ≠ checker: the requester is not asked
	case KindDecided:
		d.Decision, d.DecidedBy, d.Note = r.Approval, r.DecidedByName, r.DecisionNote
	case KindOutcome:
		d.Outcome, d.FailedReason = r.Submission, r.FailedReason
	case KindAttention:
		d.Attention = r.AttentionReason
	}
	return o.write(ctx, tx, Event{ID: uuid.NewString(), Kind: kind, RefundID: r.ID, Data: d}, roles, users, except, dedupe)
}

// Outage writes the event of a NeoX outage (admins), once per dedupe.
func (o *Outbox) Outage(ctx context.Context, tx *store.Tx, api, op string, since time.Time, lastError, dedupe string) error {
	d := Data{API: api, Operation: op, Since: since.UTC().Format(time.RFC3339), LastError: lastError, URL: o.baseURL + "/"}
	roles, _ := o.Policy.Audience(string(KindOutage))
	return o.write(ctx, tx, Event{ID: uuid.NewString(), Kind: KindOutage, Data: d}, roles, nil, 0, dedupe)
}

func (o *Outbox) write(ctx context.Context, tx *store.Tx, ev Event, roles []policy.Role, users []int64, except int64, dedupe string) error {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	recips, err := tx.NotifyRecipients(ctx, names, users, except)
	if err != nil {
		return err
	}
	var ds []store.NotifyDelivery
	for _, u := range recips {
		if o.NoEmail || u.Email == "" || muted(u.Muted, ev.Kind) {
			continue
		}
		ds = append(ds, store.NotifyDelivery{EventID: ev.ID, Channel: ChannelEmail, UserID: u.UserID, Address: u.Email, Lang: u.Lang})
	}
	eps, err := tx.ActiveNotifyEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if subscribed(ep.Events, ev.Kind) {
			ds = append(ds, store.NotifyDelivery{EventID: ev.ID, Channel: ChannelWebhook, EndpointID: ep.ID, Address: ep.URL})
		}
	}
	if len(ds) == 0 && dedupe == "" {
		return nil // nobody to tell: no row (a deduplicated event is kept, so it is not tried again)
	}
	payload, err := json.Marshal(ev.Data)
	if err != nil {
		return fmt.Errorf("notify: encode event: %w", err)
	}
	ok, err := tx.InsertNotifyEvent(ctx, store.NotifyEvent{ID: ev.ID, Kind: string(ev.Kind), RefundID: ev.RefundID,
		Payload: string(payload), Dedupe: dedupe})
	if err != nil || !ok {
		return err // !ok: this dedupe's event exists already
	}
	for _, d := range ds {
		if err := tx.InsertNotifyDelivery(ctx, d); err != nil {
			return err
		}
	}
	if len(ds) > 0 {
		tx.AfterCommit(func() {
			select {
			case o.wrote <- struct{}{}:
			default:
			}
		})
	}
	return nil
}

// muted reports whether list (comma-separated kinds) turns k off.
func muted(list string, k Kind) bool {
	return slices.Contains(splitList(list), string(k))
}

// subscribed reports whether an endpoint listening to list ("" = all)
// gets k.
func subscribed(list string, k Kind) bool {
	l := splitList(list)
	return len(l) == 0 || slices.Contains(l, string(k))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
