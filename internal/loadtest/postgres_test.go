package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// pgInstances is how many app instances share the PostgreSQL database in
// a load run: the "two instances behind a load balancer".
const pgInstances = 2

// onPostgres reports whether this run is on PostgreSQL
// (STORE_TEST_DIALECT=postgres, the server named by TEST_DATABASE_URL).
func onPostgres() bool { return os.Getenv(storetest.EnvDialect) == storetest.Postgres }

// pgAdminURL is TEST_DATABASE_URL; without it the test is skipped, or
// failed under CI=true, as storetest does.
func pgAdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(storetest.EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL load test", storetest.EnvURL)
		}
		tb.Skipf("PostgreSQL load test skipped: set %s=postgres://...", storetest.EnvURL)
	}
	return u
}

// withDatabase is the server URL u naming database name instead.
func withDatabase(tb testing.TB, u, name string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("%s: %v", storetest.EnvURL, err)
	}
	p.Path = "/" + name
	return p.String()
}

// pgFixture returns the URL of a fresh PostgreSQL database holding the load
// fixture, dropped when tb ends. The fixture is copied from the SQLite one
// by store.CopyToPostgres (what `refunddesk migrate-to-postgres` runs) into
// a template database once; every run clones the template, which costs a
// file copy instead of a bulk load. The template is keyed like the SQLite
// fixture (version and sizes): the app migrates the clone when it opens it.
func pgFixture(tb testing.TB, refunds, events int64) string {
	tb.Helper()
	admin := pgAdminURL(tb)
	ctx := context.Background()
	template := fmt.Sprintf("refunddesk_loadtest_v%d_%d_%d", fixtureVersion, refunds, events)
	exists := func(name string) bool {
		var n int
		pgExec(tb, admin, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n)
		})
		return n > 0
	}
	if !exists(template) {
		buildPGFixture(tb, admin, template, refunds, events)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "refunddesk_loadrun_" + hex.EncodeToString(b[:])
	start := time.Now()
	pgExec(tb, admin, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+template)
		return err
	})
	tb.Logf("cloned PostgreSQL fixture %s into %s in %s", template, name, time.Since(start).Round(time.Millisecond))
	tb.Cleanup(func() {
		pgExec(tb, admin, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			return err
		})
	})
	return withDatabase(tb, admin, name)
}

// buildPGFixture fills a new database from the (cached) SQLite fixture and
// renames it to template only when complete, so an interrupted build is
// never taken for a fixture.
func buildPGFixture(tb testing.TB, admin, template string, refunds, events int64) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	building := template + "_building"
	pgExec(tb, admin, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `CREATE DATABASE `+building)
		return err
	})
	target := withDatabase(tb, admin, building)
	pgExec(tb, target, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS citext; CREATE EXTENSION IF NOT EXISTS pg_trgm`)
		return err
	})
	// From a copy of the SQLite fixture: the copy migrates its source.
	src := copyFixture(tb, fixturePath(tb, refunds, events), tb.TempDir())
	counts, err := store.CopyFileToPostgres(ctx, src, target, func(p store.CopyProgress) {
		if p.Done && p.Index == "" && p.Rows > 0 {
			tb.Logf("copied %s: %d rows in %s", p.Table, p.Rows, p.Elapsed.Round(time.Millisecond))
		}
	})
	if err != nil {
		tb.Fatalf("copy the fixture to PostgreSQL: %v", err)
	}
	// Statistics, as the SQLite fixture has them.
	pgExec(tb, target, func(c *pgx.Conn) error { _, err := c.Exec(ctx, `VACUUM ANALYZE`); return err })
	pgExec(tb, admin, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `ALTER DATABASE `+building+` RENAME TO `+template)
		return err
	})
	var rows int64
	for _, c := range counts {
		rows += c.Rows
	}
	tb.Logf("built PostgreSQL fixture %s in %s: %d rows", template, time.Since(start).Round(time.Second), rows)
}

// pgExec runs fn on a connection of its own to u.
func pgExec(tb testing.TB, u string, fn func(*pgx.Conn) error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer c.Close(context.Background())
	if err := fn(c); err != nil {
		tb.Fatalf("PostgreSQL: %v", err)
	}
}

// newPGWorld starts instances apps on the PostgreSQL database dsn, all
// calling one sandbox of the test's own (as several instances call the
// one NeoX), with every instance's BASE_URL the first one's (the proxy's
// public name). NeoX's webhooks go to the first instance.
func newPGWorld(t testing.TB, dsn string, fxRefunds int64, users, instances int) *world {
	t.Helper()
	sb := sandbox.New(sandbox.Config{MerchantCode: "LOAD01", PGSecretKey: "pg-load-secret",
		ClientID: "gc-load", ClientSecret: "gc-load-secret", COLClientID: "col-load", COLClientSecret: "col-load-secret",
		GCWebhookSecret: "gc-load-hook", COLWebhookSecret: "col-load-hook", SettleDelay: 20 * time.Millisecond, Seed: true})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	opts := append(worldOptions(), apptest.WithEnv("DATABASE_URL", dsn), apptest.WithEnv("NEOX_MODE", "live"),
		apptest.WithEnv("NEOX_PG_URL", sb.URL()), apptest.WithEnv("NEOX_PG_MERCHANT_CODE", "LOAD01"),
		apptest.WithEnv("NEOX_PG_SECRET_KEY", "pg-load-secret"), apptest.WithEnv("NEOX_OPENAPI_URL", sb.URL()),
		apptest.WithEnv("NEOX_GC_CLIENT_ID", "gc-load"), apptest.WithEnv("NEOX_GC_CLIENT_SECRET", "gc-load-secret"),
		apptest.WithEnv("NEOX_GC_WEBHOOK_SECRET", "gc-load-hook"), apptest.WithEnv("NEOX_COL_CLIENT_ID", "col-load"),
		apptest.WithEnv("NEOX_COL_CLIENT_SECRET", "col-load-secret"), apptest.WithEnv("NEOX_COL_WEBHOOK_SECRET", "col-load-hook"))
	first := apptest.Start(t, opts...)
	runs := []*apptest.Running{first}
	for range instances - 1 {
		runs = append(runs, apptest.Start(t, append(opts, apptest.WithEnv("BASE_URL", first.URL))...))
	}
	sb.SetWebhookURLs(first.URL+"/webhooks/neox/pg", first.URL+"/webhooks/neox/gc", first.URL+"/webhooks/neox/col")
	return setUpWorld(t, runs, sb, fxRefunds, users)
}
