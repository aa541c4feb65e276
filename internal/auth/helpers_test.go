package auth

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// testParams make argon2id cheap; one test uses DefaultParams.
var testParams = Params{Memory: 64, Time: 1, Threads: 1}

const goodPassword = "correct horse battery"

// fakeRecorder writes events into test_audit through the caller's
// transaction, so a rolled-back change leaves no event; failOn makes Record
// fail for one action.
type fakeRecorder struct {
	failOn atomic.Value // string
}

func (f *fakeRecorder) Record(ctx context.Context, tx *store.Tx, e audit.Event) error {
	if tx == nil {
		return errors.New("fakeRecorder: nil tx")
	}
	if a, _ := f.failOn.Load().(string); a != "" && a == e.Action {
		return errors.New("fakeRecorder: forced failure")
	}
	details, err := json.Marshal(e.Details)
	if err != nil {
		return err
	}
	_, err = tx.Raw().ExecContext(ctx, `INSERT INTO test_audit (actor_id, actor_name, action, outcome, target_type, target_id, client_ip, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ActorID, e.ActorName, e.Action, e.Outcome, e.TargetType, e.TargetID, e.ClientIP, string(details))
	return err
}

// recorded is one committed audit event as the fake stored it.
type recorded struct {
	ActorID    int64
	ActorName  string
	Action     string
	Outcome    string
	TargetType string
	TargetID   string
	ClientIP   string
	Details    map[string]any
}

type testEnv struct {
	svc   *Service
	db    *store.DB
	clock *clock.Fake
	rec   *fakeRecorder
}

func newEnv(t *testing.T, opts ...func(*Options)) *testEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE test_audit (
		seq INTEGER PRIMARY KEY, actor_id INTEGER, actor_name TEXT, action TEXT, outcome TEXT,
		target_type TEXT, target_id TEXT, client_ip TEXT, details TEXT)`); err != nil {
		t.Fatal(err)
	}
	clock := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	rec := &fakeRecorder{}
	o := Options{Now: clock.Now, Argon: testParams}
	for _, f := range opts {
		f(&o)
	}
	return &testEnv{svc: NewService(db, rec, o), db: db, clock: clock, rec: rec}
}

// events returns the committed audit events, oldest first.
func (e *testEnv) events(t *testing.T) []recorded {
	t.Helper()
	rows, err := e.db.Read.Query(`SELECT actor_id, actor_name, action, outcome, target_type, target_id, client_ip, details
		FROM test_audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []recorded
	for rows.Next() {
		var r recorded
		var details string
		if err := rows.Scan(&r.ActorID, &r.ActorName, &r.Action, &r.Outcome, &r.TargetType, &r.TargetID, &r.ClientIP, &details); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastEvent returns the most recent event, failing when there is none.
func (e *testEnv) lastEvent(t *testing.T) recorded {
	t.Helper()
	evs := e.events(t)
	if len(evs) == 0 {
		t.Fatal("no audit events recorded")
	}
	return evs[len(evs)-1]
}

// wantLastEvent checks the action and outcome of the most recent event.
func (e *testEnv) wantLastEvent(t *testing.T, action, outcome string) recorded {
	t.Helper()
	ev := e.lastEvent(t)
	if ev.Action != action || ev.Outcome != outcome {
		t.Fatalf("last audit event = %s/%s, want %s/%s", ev.Action, ev.Outcome, action, outcome)
	}
	return ev
}

func (e *testEnv) countEvents(t *testing.T, action string) int {
	t.Helper()
	n := 0
	for _, ev := range e.events(t) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// mustCreate creates an enabled user with goodPassword.
func (e *testEnv) mustCreate(t *testing.T, username string, role Role) User {
	t.Helper()
	u, err := e.svc.CreateUser(context.Background(), username, "", role, goodPassword, false)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

func (e *testEnv) countRows(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Read.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// nopRecorder accepts every event.
type nopRecorder struct{}

func (nopRecorder) Record(context.Context, *store.Tx, audit.Event) error { return nil }
