package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// TestWakeAcrossInstances: two instances on one PostgreSQL schema; an
// approval committed through one reaches the other's listener, carrying
// the refund id, and an approval rolled back reaches no one.
func TestWakeAcrossInstances(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	open := func() *DB {
		db, err := OpenURL(context.Background(), url, PoolConfig{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()

	got := make(chan string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ListenWake(ctx, func(id string) { got <- id }, func(err error) { t.Logf("listener: %v", err) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	next := func(what string) string {
		t.Helper()
		select {
		case id := <-got:
			return id
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up: %s", what)
			return ""
		}
	}
	if id := next("listening"); id != "" {
		t.Fatalf("first wake-up %q, want the empty one of a listener that starts", id)
	}

	refundInsert(t, a, refundNew("R-undone", 1000, refundT0), "")
	refundInsert(t, a, refundNew("R-kept", 1000, refundT0), "")
	undo := errors.New("undo")
	if err := a.TxAt(context.Background(), refundT0, func(tx *Tx) error {
		if ok, err := tx.ApproveRefund(context.Background(), "R-undone", Decision{By: 2, ByName: "minh"}); err != nil || !ok {
			t.Fatalf("approve: %v %v", ok, err)
		}
		return undo
	}); !errors.Is(err, undo) {
		t.Fatalf("rolled back approval: %v", err)
	}
	refundTx(t, a, refundT0, func(tx *Tx) error {
		_, err := tx.ApproveRefund(context.Background(), "R-kept", Decision{By: 2, ByName: "minh"})
		return err
	})
	// Notifications arrive in commit order: the first after the rolled
	// back one would have been that one.
	if id := next("approval on the other instance"); id != "R-kept" {
		t.Fatalf("wake-up for %q, want R-kept (a rolled back approval must not wake anyone)", id)
	}
}

// On SQLite there is nothing to listen to: ListenWake returns at once.
func TestListenWakeSQLite(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir()+"/desk.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.ListenWake(context.Background(), func(string) { t.Error("woken on SQLite") }, nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ListenWake did not return on SQLite")
	}
}
