// Package storetest gives tests a fresh, empty database per test for each
// database the store supports: a SQLite file in the test's temp directory,
// and a PostgreSQL schema of its own when TEST_DATABASE_URL names a server
// (postgres://...). The schema is dropped when the test ends, so tests stay
// independent and can run in parallel against one server.
//
// Without TEST_DATABASE_URL the PostgreSQL cases are skipped with a message;
// with CI=true they fail instead, so CI cannot pass without running them.
//
// It does not import the store (the store's own tests use it); tests open
// what URL returns with store.OpenURL.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The dialects, as subtest names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Dialects lists every database the store runs on.
var Dialects = []string{SQLite, Postgres}

// EnvURL is the variable naming the PostgreSQL server tests may use.
const EnvURL = "TEST_DATABASE_URL"

// Each runs fn as one subtest per dialect (named "sqlite" and "postgres").
// DialectOf(t) inside fn, and URL(t, "") there, name the subtest's one.
func Each(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// EnvDialect chooses the dialect of tests outside Each: "postgres" runs a
// whole package's tests on PostgreSQL (.ci/run does so for the packages
// heavy on the database); unset or "sqlite" is SQLite.
const EnvDialect = "STORE_TEST_DIALECT"

// DialectOf returns the dialect of the Each subtest t runs in (at any
// depth), or outside Each the one STORE_TEST_DIALECT names (SQLite when
// unset).
func DialectOf(t testing.TB) string {
	for _, part := range strings.Split(t.Name(), "/")[1:] {
		if part == Postgres || part == SQLite {
			return part
		}
	}
	if os.Getenv(EnvDialect) == Postgres {
		return Postgres
	}
	return SQLite
}

// URL returns the location of a fresh, empty database of dialect for t
// ("" means DialectOf(t)): a SQLite file path, or a postgres:// URL whose
// search_path is a new schema dropped at the end of t. It skips t (fails it
// when CI=true) when dialect is PostgreSQL and TEST_DATABASE_URL is unset.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == "" {
		dialect = DialectOf(t)
	}
	if dialect != Postgres {
		return filepath.Join(t.TempDir(), "desk.db")
	}
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL cases (.ci/run starts a server and sets it)", EnvURL)
		}
		t.Skipf("PostgreSQL case skipped: set %s=postgres://... to run it (.ci/run does)", EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if err := extensions(ctx, conn); err != nil {
		t.Fatalf("prepare test database: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns the PostgreSQL URL u with search_path set to
// schema and then public (where the extensions live).
func WithSearchPath(u, schema string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set("search_path", schema+",public")
	p.RawQuery = q.Encode()
	return p.String()
}

var extOnce sync.Mutex
var extDone bool

// extensions installs, once per process, the extensions the migrations use
// into public, so every test schema shares them (an extension belongs to a
// database, not a schema). Other test processes may race: a lost race is
// retried.
func extensions(ctx context.Context, conn *pgx.Conn) error {
	extOnce.Lock()
	defer extOnce.Unlock()
	if extDone {
		return nil
	}
	var err error
	for range 5 {
		_, err = conn.Exec(ctx, `SELECT pg_advisory_lock(727166);
			CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
			CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
			SELECT pg_advisory_unlock(727166)`)
		if err == nil {
			extDone = true
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
