package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenURL(context.Background(), storetest.URL(t, ""), PoolConfig{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenAppliesPragmasOnEveryConnection(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite itself; this package's SQLite run covers it")
	}
	db := openTest(t)
	ctx := context.Background()
	for name, pool := range map[string]*sql.DB{"write": db.Write, "read": db.Read} {
		var mode string
		var fk, sync, busy int
		if err := pool.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		pool.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		pool.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		pool.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		if mode != "wal" || fk != 1 || sync != 2 || busy != 5000 {
			t.Errorf("%s pool: journal_mode=%s foreign_keys=%d synchronous=%d busy_timeout=%d", name, mode, fk, sync, busy)
		}
	}
	if _, err := db.Read.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("read pool accepted a write")
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		before, err := db.Applied(ctx)
		if err != nil || len(before) == 0 {
			t.Fatalf("applied = %v, %v", before, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		after, _ := db.Applied(ctx)
		if len(after) != len(before) {
			t.Errorf("migrations re-applied: %v -> %v", before, after)
		}
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.stx.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES ('a', 'b')"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		var n int
		db.Read.QueryRowContext(ctx, "SELECT count(*) FROM settings").Scan(&n)
		if n != 0 {
			t.Errorf("rolled-back row is visible: %d rows", n)
		}
	})
}

// AfterCommit's functions run once the commit is done, never for a
// transaction that rolls back.
func TestAfterCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		var ran []string
		err := db.Tx(ctx, func(tx *Tx) error {
			tx.AfterCommit(func() {
				// The row is committed: another connection reads it.
				var n int
				db.Read.QueryRowContext(ctx, "SELECT count(*) FROM settings WHERE key = 'a'").Scan(&n)
				ran = append(ran, fmt.Sprintf("committed %d", n))
			})
			_, err := tx.stx.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES ('a', 'b')")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Tx(ctx, func(tx *Tx) error {
			tx.AfterCommit(func() { ran = append(ran, "rolled back") })
			return errors.New("boom")
		})
		if want := []string{"committed 1"}; !slices.Equal(ran, want) {
			t.Errorf("after commit ran %q, want %q", ran, want)
		}
	})
}

// Concurrent read-modify-write transactions must serialize, not fail with
// SQLITE_BUSY and not lose updates.
func TestConcurrentWritersSerialize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		if _, err := db.Write.ExecContext(ctx, "INSERT INTO login_throttle(key, failures, last_failure, locked_until) VALUES ('n', 0, '', '')"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.Tx(ctx, func(tx *Tx) error {
					var v int
					// PostgreSQL runs writers side by side (READ COMMITTED): a
					// read a write depends on locks its row.
					lock := ""
					if db.Postgres() {
						lock = " FOR UPDATE"
					}
					if err := tx.stx.QueryRowContext(ctx, "SELECT failures FROM login_throttle WHERE key='n'"+lock).Scan(&v); err != nil {
						return err
					}
					_, err := tx.stx.ExecContext(ctx, "UPDATE login_throttle SET failures = ? WHERE key='n'", v+1)
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var v int
		db.Read.QueryRowContext(ctx, "SELECT failures FROM login_throttle WHERE key='n'").Scan(&v)
		if v != 50 {
			t.Errorf("counter = %d, want 50", v)
		}
	})
}

// TestOpenSaysWhyItCannot: the reasons a start fails reach the operator
// in words: permission denied and a read-only file system name the
// setting to change, where SQLite alone says "unable to open database
// file (14)".
func TestOpenSaysWhyItCannot(t *testing.T) {
	perm := &fs.PathError{Op: "open", Path: "/srv/desk/refunddesk.db", Err: syscall.EACCES}
	ro := &fs.PathError{Op: "open", Path: "/srv/desk/refunddesk.db", Err: syscall.EROFS}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{perm, "permission denied: the user running Refund Desk must be able to read and write"},
		{ro, "the file system is read-only; choose a writable DATA_DIR or DB_PATH"},
	} {
		if got := openProblem("database x", tt.err).Error(); !strings.Contains(got, tt.want) || !strings.Contains(got, "DB_PATH") {
			t.Errorf("%v → %q", tt.err, got)
		}
	}
	// For real: a path under a regular file cannot be a database.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), filepath.Join(file, "desk.db")); err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("under a file: %v", err)
	}
	if os.Geteuid() != 0 { // root ignores permissions
		dir := filepath.Join(t.TempDir(), "locked")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), filepath.Join(dir, "desk.db")); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("unwritable directory: %v", err)
		}
	}
}

// TestOpenDoesNotBlameMigrations: a database that another process keeps
// locked opens at once when its migrations are applied (no write is
// needed), instead of failing after the busy timeout as "migration 0001".
func TestOpenDoesNotBlameMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desk.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.Begin() // _txlock=immediate: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('holder', x'00')`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open while another process writes: %v", err)
	}
	again.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("open waited %v for a lock it did not need", d)
	}
}
