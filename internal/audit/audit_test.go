package audit

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

func countEvents(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Read.QueryRow(`SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustVerify(t *testing.T, l *Log, want int64) {
	t.Helper()
	st, err := l.Verify(context.Background(), Anchor{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !st.OK || st.Count != want {
		t.Fatalf("verify = %+v, want OK with %d events", st, want)
	}
}

func TestRecordFillsFieldsFromEventAndContext(t *testing.T) {
	db := openDB(t)
	clock := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("ICT", 7*3600))
	l := New(db, func() time.Time { return clock })
	ctx := WithOrigin(context.Background(), Origin{ActorID: 7, ActorName: "mai", ActorRole: "manager",
		ClientIP: "198.51.100.7", UserAgent: "UA/1", RequestID: "req-1"})

	err := db.Tx(ctx, func(tx *store.Tx) error {
		return l.Record(ctx, tx, Event{Action: ActionRefundApproved, Outcome: OutcomeSuccess,
			TargetType: "refund", TargetID: "rf-1", Details: map[string]any{"amount": 125000},
			Time: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}) // ignored: no backdating
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Seq: 1, Event: Event{
		Time: clock.UTC().Truncate(time.Microsecond), ActorID: 7, ActorName: "mai", ActorRole: "manager",
		Action: ActionRefundApproved, Outcome: OutcomeSuccess, TargetType: "refund", TargetID: "rf-1",
		ClientIP: "198.51.100.7", UserAgent: "UA/1", RequestID: "req-1"},
		DetailsJSON: `{"amount":125000}`, PrevHash: GenesisHash}
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v UTC", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if got.Details["amount"].(interface{ String() string }).String() != "125000" {
		t.Errorf("details = %#v", got.Details)
	}
	got.Details, want.Details = nil, nil
	if len(got.Hash) != 64 || got.Hash == GenesisHash {
		t.Errorf("hash = %q", got.Hash)
	}
	want.Hash = got.Hash
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry\n got %+v\nwant %+v", got, want)
	}

	// Fields set on the event win over the context; no actor at all is "system".
	if err := l.RecordNow(ctx, Event{ActorName: "neox", Action: ActionWebhookReceived, Outcome: OutcomeFailure, ClientIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordNow(context.Background(), Event{Action: ActionConfigStartup, Outcome: OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	e2, _ := l.Get(ctx, 2)
	if e2.ActorName != "neox" || e2.ActorID != 0 || e2.ActorRole != "" || e2.ClientIP != "192.0.2.1" || e2.RequestID != "req-1" || e2.PrevHash != got.Hash {
		t.Errorf("event 2 = %+v", e2)
	}
	e3, _ := l.Get(ctx, 3)
	if e3.ActorName != "system" || e3.ClientIP != "" || e3.DetailsJSON != "{}" {
		t.Errorf("event 3 = %+v", e3)
	}
	if _, err := l.Get(ctx, 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(4) err = %v, want ErrNotFound", err)
	}
	mustVerify(t, l, 3)
}

func TestEveryActionProducesExactlyOneEvent(t *testing.T) {
	db := openDB(t)
	l := New(db, stepClock(t0, time.Second))
	actions := []string{ActionLogin, ActionLoginFailed, ActionLoginThrottled, ActionLogout, ActionSessionRevoked,
		ActionPasswordChange, ActionUserCreated, ActionUserDisabled, ActionUserEnabled, ActionUserPasswordReset,
		ActionUserRoleChanged, ActionRefundRequested, ActionRefundApproved, ActionRefundRejected,
		ActionRefundCancelled, ActionRefundState, ActionNeoXCall, ActionWebhookReceived, ActionConfigStartup, ActionAuditExport,
		ActionAuditCheckpoint, ActionAccessDenied}
	ctx := context.Background()
	for i, a := range actions {
		if err := l.RecordNow(ctx, Event{Action: a, Outcome: OutcomeSuccess, TargetType: "t", TargetID: a}); err != nil {
			t.Fatal(err)
		}
		if n := countEvents(t, db); n != i+1 {
			t.Fatalf("after %s: %d events, want %d", a, n, i+1)
		}
		e, err := l.Get(ctx, int64(i+1))
		if err != nil || e.Action != a || e.TargetID != a || !e.Time.Equal(t0.Add(time.Duration(i+1)*time.Second)) {
			t.Fatalf("event %d = %+v, %v", i+1, e, err)
		}
	}
	mustVerify(t, l, int64(len(actions)))
}

func TestRecordRejectsIncompleteEvent(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	for _, e := range []Event{{Outcome: OutcomeSuccess}, {Action: ActionLogin}, {Action: ActionLogin, Outcome: OutcomeSuccess,
		Details: map[string]any{"bad": func() {}}}} {
		if err := l.RecordNow(context.Background(), e); !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordNow(%+v) = %v, want ErrInvalid", e, err)
		}
	}
	if n := countEvents(t, db); n != 0 {
		t.Errorf("%d events written", n)
	}
}

func TestRedaction(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	details := map[string]any{
		"amount":              int64(250000),
		"password":            "hunter2",
		"NEOX_PG_SECRET_KEY":  "sk_live_abc",
		"Authorization":       "Bearer eyJhbGciOi",
		"access_token":        "tok-123",
		"bankAccountNumber":   "0123456789",
		"receiver":            map[string]any{"bank_account": "9704 3612 3456 7890", "accountName": "NGUYEN VAN A", "accountNumber": 12345678},
		"accounts":            []any{map[string]any{"account_number": "1111222233"}, map[string]any{"client_secret": "zzz"}},
		"headers":             map[string]string{"X-Signature": "abcdef", "Content-Type": "application/json"},
		"short_account_no":    "123",
		"bank_account_token":  "tok-x",
		"note":                "keep me",
		"webhook_secret_hint": nil,
	}
	if err := l.RecordNow(context.Background(), Event{Action: ActionNeoXCall, Outcome: OutcomeSuccess, Details: details}); err != nil {
		t.Fatal(err)
	}
	e, err := l.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{"hunter2", "sk_live_abc", "eyJhbGciOi", "tok-123", "0123456789", "12345678", "9704", "3612", "1111222233", "zzz", "abcdef", "tok-x", `"123"`} {
		if strings.Contains(e.DetailsJSON, leaked) {
			t.Errorf("details leak %q: %s", leaked, e.DetailsJSON)
		}
	}
	d := e.Details
	checks := map[string]any{
		"password": Redacted, "NEOX_PG_SECRET_KEY": Redacted, "Authorization": Redacted, "access_token": Redacted,
		"bankAccountNumber": "****6789", "short_account_no": "****", "bank_account_token": Redacted, "note": "keep me",
		"webhook_secret_hint": Redacted,
	}
	for k, want := range checks {
		if d[k] != want {
			t.Errorf("%s = %#v, want %#v", k, d[k], want)
		}
	}
	rcv := d["receiver"].(map[string]any)
	if rcv["bank_account"] != "****7890" || rcv["accountNumber"] != "****5678" || rcv["accountName"] != "NGUYEN VAN A" {
		t.Errorf("receiver = %#v", rcv)
	}
	acc := d["accounts"].([]any)
	if acc[0].(map[string]any)["account_number"] != "****2233" || acc[1].(map[string]any)["client_secret"] != Redacted {
		t.Errorf("accounts = %#v", acc)
	}
	h := d["headers"].(map[string]any)
	if h["X-Signature"] != Redacted || h["Content-Type"] != "application/json" {
		t.Errorf("headers = %#v", h)
	}
	// The caller's map is not modified.
	if details["password"] != "hunter2" {
		t.Error("Record modified the caller's details")
	}
}

func TestFailedTransactionLeavesNoEvent(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	ctx := context.Background()
	boom := errors.New("refund rule violated")
	err := db.Tx(ctx, func(tx *store.Tx) error {
		if err := l.Record(ctx, tx, Event{Action: ActionRefundRequested, Outcome: OutcomeSuccess, TargetType: "refund", TargetID: "rf-9"}); err != nil {
			return err
		}
		return boom // the change the event describes fails after the event was written
	})
	if !errors.Is(err, boom) {
		t.Fatalf("tx err = %v", err)
	}
	if n := countEvents(t, db); n != 0 {
		t.Fatalf("%d events after rollback", n)
	}
	// The chain carries on from genesis as if nothing happened.
	if err := l.RecordNow(ctx, Event{Action: ActionLogin, Outcome: OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.Get(ctx, 1); e.Action != ActionLogin || e.PrevHash != GenesisHash {
		t.Errorf("event 1 = %+v", e)
	}
	mustVerify(t, l, 1)
}

func TestRawUpdateAndDeleteAreRefused(t *testing.T) {
	db := openDB(t)
	l := New(db, stepClock(t0, time.Second))
	ctx := context.Background()
	for range 3 {
		if err := l.RecordNow(ctx, Event{Action: ActionLogin, Outcome: OutcomeSuccess, ActorName: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2`,
		`UPDATE audit_events SET outcome = 'failure'`,
		`DELETE FROM audit_events WHERE seq = 3`,
		`DELETE FROM audit_events`,
		`INSERT OR REPLACE INTO audit_events (seq, at, action, outcome, prev_hash, hash) SELECT seq, at, action, 'x', prev_hash, hash FROM audit_events WHERE seq = 2`,
		`INSERT INTO audit_events (seq, at, action, outcome, prev_hash, hash) SELECT 0, at, action, outcome, prev_hash, hash FROM audit_events WHERE seq = 1`,
		`INSERT INTO audit_events (seq, at, action, outcome, prev_hash, hash) SELECT 2, at, action, outcome, prev_hash, hash FROM audit_events WHERE seq = 1 ON CONFLICT(seq) DO UPDATE SET actor_name = 'x'`,
	} {
		if db.Postgres() && strings.Contains(q, "INSERT OR REPLACE") {
			continue // SQLite's syntax; PostgreSQL's upsert is the ON CONFLICT case
		}
		_, err := db.Write.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only refusal", q, err)
		}
	}
	if n := countEvents(t, db); n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	mustVerify(t, l, 3)
}

func TestTimeNeverDecreasesAlongTheChain(t *testing.T) {
	db := openDB(t)
	times := []time.Time{t0, t0.Add(time.Hour), t0.Add(time.Minute), t0.Add(2 * time.Hour)}
	i := 0
	l := New(db, func() time.Time { i++; return times[i-1] })
	for range times {
		if err := l.RecordNow(context.Background(), Event{Action: ActionLogin, Outcome: OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Time{t0, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour)}
	for seq, w := range want {
		e, _ := l.Get(context.Background(), int64(seq+1))
		if !e.Time.Equal(w) {
			t.Errorf("event %d at %v, want %v", seq+1, e.Time, w)
		}
	}
}

func TestConcurrentRecordsNeverFork(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ctx := WithOrigin(context.Background(), Origin{ActorID: int64(w), ActorName: fxActors[w]})
				if err := l.RecordNow(ctx, Event{Action: ActionLogin, Outcome: OutcomeSuccess, TargetID: fxActors[i%3]}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustVerify(t, l, workers*each)
}
