package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ValidationError carries a message per form field: email, url, events.
type ValidationError struct{ Fields fault.Fields }

func (e *ValidationError) Error() string {
	return "invalid notification settings: " + e.Fields.Summary()
}

// Kind is fault.Invalid.
func (e *ValidationError) Kind() fault.Kind { return fault.Invalid }

// FieldMessages returns the field messages (fault.FieldError).
func (e *ValidationError) FieldMessages() fault.Fields { return e.Fields }

// ErrNotFound: no such (active) endpoint.
var ErrNotFound = fault.New(fault.NotFound, "notify: endpoint not found")

// ErrForbidden: the actor's role may not change endpoints.
var ErrForbidden = fault.New(fault.Forbidden, "notify: forbidden")

// Actor is who changes settings.
type Actor struct {
	ID   int64
	Name string
	Role policy.Role
}

// Settings are the people's preferences and the admins' endpoints.
type Settings struct {
	db     *store.DB
	rec    Recorder
	now    func() time.Time
	policy policy.Policy
}

// NewSettings returns Settings recording changes through rec.
func NewSettings(db *store.DB, rec Recorder, now func() time.Time, p policy.Policy) *Settings {
	if now == nil {
		now = time.Now
	}
	return &Settings{db: db, rec: rec, now: now, policy: p}
}

// Prefs are one user's notification settings.
type Prefs struct {
	Email string
	Off   map[Kind]bool
}

// Prefs reads user id's settings.
func (s *Settings) Prefs(ctx context.Context, userID int64) (Prefs, error) {
	r, err := s.db.NotifyPrefs(ctx, userID)
	if err != nil {
		return Prefs{}, err
	}
	p := Prefs{Email: r.Email, Off: map[Kind]bool{}}
	for _, k := range splitList(r.Muted) {
		p.Off[Kind(k)] = true
	}
	return p, nil
}

// SavePrefs stores a's email address ("" for none) and which kinds
// reach them (on: the kinds left on).
func (s *Settings) SavePrefs(ctx context.Context, a Actor, email string, on []Kind) error {
	email = strings.TrimSpace(email)
	if email != "" {
		addr, err := mail.ParseAddress(email)
		if err != nil || addr.Address != email || len(email) > 254 {
			return &ValidationError{Fields: fault.Fields{"email": fault.M("notify.err.email", "enter one email address, like name@example.com")}}
		}
	}
	var off []string
	for _, k := range Kinds() {
		if !contains(on, k) {
			off = append(off, string(k))
		}
	}
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		if err := tx.SetNotifyPrefs(ctx, store.NotifyPrefRecord{UserID: a.ID, Email: email, Muted: strings.Join(off, ",")}); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: a.ID, ActorName: a.Name, ActorRole: string(a.Role),
			Action: ActionPrefsChanged, Outcome: audit.OutcomeSuccess, TargetType: "user", TargetID: fmt.Sprint(a.ID),
			Details: map[string]any{"email_set": email != "", "off": off}})
	})
}

func contains(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// Endpoints lists the active endpoints (their secrets blanked).
func (s *Settings) Endpoints(ctx context.Context) ([]store.NotifyEndpoint, error) {
	es, err := s.db.NotifyEndpoints(ctx)
	for i := range es {
		es[i].Secret = ""
	}
	return es, err
}

// AddEndpoint registers an endpoint for kinds (none: all) and returns
// its id and secret; the secret is shown once and never again.
func (s *Settings) AddEndpoint(ctx context.Context, a Actor, rawURL string, kinds []Kind) (int64, string, error) {
	if !s.policy.Permits(policy.Actor{ID: a.ID, Role: a.Role}, policy.ManageWebhooks) {
		return 0, "", ErrForbidden
	}
	rawURL = strings.TrimSpace(rawURL)
	if err := CheckURL(rawURL); err != nil {
		return 0, "", &ValidationError{Fields: fault.Fields{"url": fault.M("notify.err.url",
			"enter an http:// or https:// URL without a user name, password or #fragment (%s)", err.Error())}}
	}
	var names []string
	for _, k := range kinds {
		names = append(names, string(k))
	}
	secret := NewSecret()
	var id int64
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		var err error
		id, err = tx.InsertNotifyEndpoint(ctx, store.NotifyEndpoint{URL: rawURL, Secret: secret,
			Events: strings.Join(names, ","), CreatedBy: a.ID, CreatedByName: a.Name})
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: a.ID, ActorName: a.Name, ActorRole: string(a.Role),
			Action: ActionEndpointAdded, Outcome: audit.OutcomeSuccess, TargetType: "webhook_endpoint",
			TargetID: fmt.Sprint(id), Details: map[string]any{"url": redactQuery(rawURL), "events": names}})
	})
	if err != nil {
		return 0, "", err
	}
	return id, secret, nil
}

// RemoveEndpoint retires endpoint id. Errors: ErrNotFound, ErrForbidden.
func (s *Settings) RemoveEndpoint(ctx context.Context, a Actor, id int64) error {
	if !s.policy.Permits(policy.Actor{ID: a.ID, Role: a.Role}, policy.ManageWebhooks) {
		return ErrForbidden
	}
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		e, err := tx.RemoveNotifyEndpoint(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: a.ID, ActorName: a.Name, ActorRole: string(a.Role),
			Action: ActionEndpointRemoved, Outcome: audit.OutcomeSuccess, TargetType: "webhook_endpoint",
			TargetID: fmt.Sprint(id), Details: map[string]any{"url": redactQuery(e.URL)}})
	})
}

// Deliveries is the delivery log: the last n deliveries of channel ("" all).
func (s *Settings) Deliveries(ctx context.Context, channel string, n int) ([]store.NotifyDelivery, error) {
	return s.db.NotifyDeliveryLog(ctx, channel, n)
}

// redactQuery drops a URL's query, which may carry a receiver's token.
func redactQuery(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}
