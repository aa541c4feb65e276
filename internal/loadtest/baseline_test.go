package loadtest

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// bareHandler serves a fixed page of size bytes on loopback with a plain
// net/http server and drives it like the virtual users drive the app: the
// floor that the Go HTTP stack and this machine put under every route.
func bareHandler(t testing.TB, users, size int, d time.Duration) RouteStats {
	t.Helper()
	page := []byte("<!doctype html><title>x</title>" + strings.Repeat("x", max(size-31, 0)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	w := &world{rec: newRecorder(), tr: newTransport()}
	defer w.tr.CloseIdleConnections()
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range users {
		c := newClient(w.tr)
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := c.Get(base + "/")
				if err != nil {
					continue
				}
				buf := make([]byte, 32<<10)
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				w.rec.add("bare", time.Since(t0))
			}
		})
	}
	wg.Wait()
	_, all := w.rec.stats(time.Since(start))
	all.Route = "bare net/http handler"
	return all
}

// InsertRates compares the audit append with a bare insert of a row of
// the same size, one commit each, on the same pragmas (store.Open).
type InsertRates struct {
	BarePerSecond       float64 `json:"bare_per_second"`
	AuditPerSecond      float64 `json:"audit_per_second"`       // fresh database
	AuditLargePerSecond float64 `json:"audit_large_per_second"` // on the loaded fixture, 0 if not measured
	BareMicros          float64 `json:"bare_us"`
	AuditMicros         float64 `json:"audit_us"`
	AuditLargeMicros    float64 `json:"audit_large_us"`
	RowBytes            int     `json:"row_bytes"`
}

func auditEvent(i int) audit.Event {
	return audit.Event{ActorID: 7, ActorName: "manager01", ActorRole: "manager", Action: audit.ActionRefundApproved,
		Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: fixtureRefundID(int64(i)), ClientIP: "10.20.30.40",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		RequestID: "0123456789abcdef", Details: map[string]any{"amount": 10000, "api": "PG", "from": "PENDING", "to": "APPROVED"}}
}

// rate runs fn repeatedly for d and returns calls per second and µs per call.
func rate(t testing.TB, d time.Duration, fn func(i int) error) (float64, float64) {
	t.Helper()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		if err := fn(n); err != nil {
			t.Fatal(err)
		}
		n++
	}
	el := time.Since(start)
	return float64(n) / el.Seconds(), float64(el.Microseconds()) / float64(n)
}

// insertRates measures a bare insert and audit.RecordNow on a fresh
// database, and, when big is not nil, RecordNow on the loaded one.
func insertRates(t testing.TB, d time.Duration, big *audit.Log) InsertRates {
	t.Helper()
	ctx := context.Background()
	// A fresh database of the run's kind: a file, or a new PostgreSQL schema.
	fresh, ddl := filepath.Join(t.TempDir(), "bare.db"), `CREATE TABLE bare (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)`
	if onPostgres() {
		fresh = storetest.URL(t, storetest.Postgres)
		ddl = `CREATE TABLE bare (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload TEXT NOT NULL)`
	}
	db, err := store.OpenURL(ctx, fresh, store.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The same bytes an audit row stores: the fixture row's columns and hash.
	r := fixtureEvent(1, 1)
	r.prevHash, r.hash = audit.GenesisHash, audit.GenesisHash
	payload := strings.Join([]string{r.at, r.actorName, r.actorRole, r.action, r.outcome, r.targetType, r.target, r.ip,
		r.ua, r.requestID, r.details, r.prevHash, r.hash}, "|")
	if _, err := db.Write.ExecContext(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	var out InsertRates
	out.RowBytes = len(payload)
	out.BarePerSecond, out.BareMicros = rate(t, d, func(int) error {
		return db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Raw().ExecContext(ctx, `INSERT INTO bare (payload) VALUES (?)`, payload)
			return err
		})
	})
	al := audit.New(db, nil)
	out.AuditPerSecond, out.AuditMicros = rate(t, d, func(i int) error { return al.RecordNow(ctx, auditEvent(i)) })
	if big != nil {
		out.AuditLargePerSecond, out.AuditLargeMicros = rate(t, d, func(i int) error { return big.RecordNow(ctx, auditEvent(i)) })
	}
	return out
}
