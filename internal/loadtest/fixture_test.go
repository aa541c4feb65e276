package loadtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// fixtureVersion changes whenever the generated rows change, so a cached
// fixture of an older shape is never reused. 2: the audit events are
// indexed for search and the chain's head row set by AuditAdoptImported
// (migration 0015 dropped the indexing trigger).
const fixtureVersion = 2

// Users the fixture's rows belong to. The harness creates these users in
// this order on an empty users table (the first admin takes id 1), so the
// fixture's requested_by ids 2..fxStaff+1 are real staff accounts.
const (
	fxStaff    = 50
	fxManagers = 50
)

func staffName(i int) string   { return fmt.Sprintf("staff%02d", i) }
func managerName(i int) string { return fmt.Sprintf("manager%02d", i) }

// fxBase is the time of the first fixture row; rows are spaced so that the
// last one is still in the past, and new events continue the chain in order.
var fxBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// fixtureRefundID is refund i's id: UUID-shaped and deterministic, so
// audit rows can target it without a lookup table.
func fixtureRefundID(i int64) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// fixtureTxnRef is the transaction of refund i: five refunds per transaction.
// fixtureAmount is fixture refund i's amount in VND (PG and COL).
func fixtureAmount(i int64) int64 { return 10_000 + (i*7919)%5_000_000 }

func fixtureTxnRef(api string, i int64) string { return fmt.Sprintf("FX%s%08d", api, i/5) }

var fxAPIs = [3]string{"PG", "GC", "COL"}

// fixturePath returns the cached fixture for the given sizes, building it
// (once; later runs reuse the file) when it is missing. The cache is keyed
// by the fixture's version and sizes, not by the schema: the app applies
// newer migrations to the copy when it opens it.
func fixturePath(tb testing.TB, refunds, events int64) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("refunddesk-loadtest-v%d-%d-%d.db", fixtureVersion, refunds, events))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + ".building"
	_ = os.Remove(tmp)
	buildFixture(tb, tmp, refunds, events)
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(tmp + suffix)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("built fixture %s (%d refunds, %d audit events) in %s", path, refunds, events, time.Since(start).Round(time.Second))
	return path
}

// copyFixture copies the cached fixture into dir and returns the copy's path.
func copyFixture(tb testing.TB, src, dir string) string {
	tb.Helper()
	dst := filepath.Join(dir, "refunddesk.db")
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// buildFixture creates the schema at path and fills it in bulk: refunds
// rows of every final state and events audit rows with a correct hash chain.
func buildFixture(tb testing.TB, path string, refunds, events int64) {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	// Building only: a crash means rebuilding, so durability is not wanted.
	for _, p := range []string{`PRAGMA synchronous = OFF`, `PRAGMA cache_size = -262144`} {
		if _, err := db.Write.ExecContext(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	const chunk = 100_000
	for from := int64(0); from < refunds; from += chunk {
		to := min(from+chunk, refunds)
		err := db.Tx(ctx, func(tx *store.Tx) error { return insertRefunds(ctx, tx, from, to) })
		if err != nil {
			tb.Fatalf("insert refunds: %v", err)
		}
	}
	prev := audit.GenesisHash
	hs := &chainHasher{h: sha256.New()}
	for from := int64(0); from < events; from += chunk {
		to := min(from+chunk, events)
		err := db.Tx(ctx, func(tx *store.Tx) error {
			var err error
			prev, err = insertEvents(ctx, tx, hs, from, to, refunds, prev)
			return err
		})
		if err != nil {
			tb.Fatalf("insert audit events: %v", err)
		}
	}
	// The events went in behind the store's back: index them for search and
	// move the chain's head row to the newest, as appends would have.
	if err := db.Tx(ctx, func(tx *store.Tx) error { _, err := tx.AuditAdoptImported(ctx); return err }); err != nil {
		tb.Fatalf("adopt audit events: %v", err)
	}
	if _, err := db.Write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Write.ExecContext(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

// multiInsert runs "INSERT INTO table (cols) VALUES (...),(...)" for rows
// of ncol values each, batch rows per statement.
type multiInsert struct {
	tx    *store.Tx
	head  string
	ncol  int
	batch int
	args  []any
	stmt  *sql.Stmt
}

func (m *multiInsert) add(ctx context.Context, vals ...any) error {
	m.args = append(m.args, vals...)
	if len(m.args) == m.ncol*m.batch {
		return m.flush(ctx)
	}
	return nil
}

func (m *multiInsert) query(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", m.ncol), ",") + ")"
	return m.head + " VALUES " + strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

func (m *multiInsert) flush(ctx context.Context) error {
	rows := len(m.args) / m.ncol
	if rows == 0 {
		return nil
	}
	defer func() { m.args = m.args[:0] }()
	if rows != m.batch {
		_, err := m.tx.Raw().ExecContext(ctx, m.query(rows), m.args...)
		return err
	}
	if m.stmt == nil {
		var err error
		if m.stmt, err = m.tx.Raw().PrepareContext(ctx, m.query(rows)); err != nil {
			return err
		}
	}
	_, err := m.stmt.ExecContext(ctx, m.args...)
	return err
}

func (m *multiInsert) close(ctx context.Context) error {
	err := m.flush(ctx)
	if m.stmt != nil {
		m.stmt.Close()
	}
	return err
}

// insertRefunds writes refunds [from, to): 70% approved and succeeded, 8%
// approved and failed at NeoX, 15% rejected, 7% cancelled; none pending or
// in flight, so the worker and the approvals queue start idle.
func insertRefunds(ctx context.Context, tx *store.Tx, from, to int64) error {
	m := &multiInsert{tx: tx, ncol: 24, batch: 40, head: `INSERT INTO refunds (id, api, transaction_ref, payment_id, amount,
		currency, payment_method, reason_code, reason_text, requested_by, requested_by_name, requested_at,
		approval, decided_by, decided_by_name, decided_at, decision_note, submission, neox_refund_id,
		neox_status, failed_reason, attempts, updated_at, final_at)`}
	for i := from; i < to; i++ {
		api := fxAPIs[i%3]
		payment, currency, method := "", "VND", ""
		amount := fixtureAmount(i)
		if api == "PG" {
			payment, method = strconv.FormatInt(3_000_000+i/5, 10), "ATM"
		}
		if api == "GC" {
			currency, amount = "USD", 100+(i*31)%500_000
		}
		staff := i % fxStaff
		mgr := (i / 7) % fxManagers
		at := fxBase.Add(time.Duration(i) * 50 * time.Second)
		requested := store.FormatTime(at)
		decided := store.FormatTime(at.Add(20 * time.Minute))
		final := store.FormatTime(at.Add(21 * time.Minute))
		approval, submission, neoxID, neoxStatus, failed, note, attempts := "APPROVED", "SUCCEEDED",
			fmt.Sprintf("RF%010d", i), "SUCCESS", "", "", 1
		switch p := i % 100; {
		case p < 70:
		case p < 78:
			submission, neoxStatus, failed = "FAILED", "FAILED", "Refund rejected by issuing bank"
		case p < 93:
			approval, submission, neoxID, neoxStatus, note, attempts = "REJECTED", "NOT_SENT", "", "", "customer already compensated in store", 0
		default:
			approval, submission, neoxID, neoxStatus, attempts = "CANCELLED", "NOT_SENT", "", "", 0
			mgr, decided = -1, ""
		}
		decidedBy, decidedName := int64(0), ""
		if mgr >= 0 {
			decidedBy, decidedName = int64(2+fxStaff+mgr), managerName(int(mgr))
		}
		if err := m.add(ctx, fixtureRefundID(i), api, fixtureTxnRef(api, i), payment, amount,
			currency, method, "customer_request", fmt.Sprintf("order %d returned by customer", i), 2+staff, staffName(int(staff)), requested,
			approval, decidedBy, decidedName, decided, note, submission, neoxID,
			neoxStatus, failed, attempts, final, final); err != nil {
			return err
		}
	}
	return m.close(ctx)
}

var fxActions = [...]string{audit.ActionLogin, audit.ActionRefundRequested, audit.ActionRefundApproved, audit.ActionNeoXCall,
	audit.ActionWebhookReceived, audit.ActionRefundState, audit.ActionLoginFailed, audit.ActionRefundRejected}

// auditRow is an audit_events row as stored.
type auditRow struct {
	seq                                                       int64
	at                                                        string
	actorID                                                   int64
	actorName, actorRole, action, outcome, targetType, target string
	ip, ua, requestID, details, prevHash, hash                string
}

// chainHasher computes the canonical hash documented in internal/audit/doc.go
// ("Canonical encoding"); the CI test verifies the result with audit.Verify.
type chainHasher struct {
	h   hash.Hash
	buf []byte
}

func (c *chainHasher) field(s string) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(s)))
	c.buf = append(c.buf, s...)
}

func (c *chainHasher) sum(r *auditRow) string {
	c.buf = c.buf[:0]
	for _, s := range []string{r.prevHash, "refunddesk.audit.v1", strconv.FormatInt(r.seq, 10), r.at,
		strconv.FormatInt(r.actorID, 10), r.actorName, r.actorRole, r.action, r.outcome, r.targetType, r.target,
		r.ip, r.ua, r.requestID, r.details} {
		c.field(s)
	}
	c.h.Reset()
	c.h.Write(c.buf)
	var out [sha256.Size]byte
	return hex.EncodeToString(c.h.Sum(out[:0]))
}

// fixtureEvent is audit event seq (1-based): one every 10 seconds, a mix of
// actions by the fixture's users, 2% failures, about five events per refund.
func fixtureEvent(seq, refunds int64) auditRow {
	who := seq % (fxStaff + fxManagers)
	name, role, id := staffName(int(who)), "staff", 2+who
	if who >= fxStaff {
		name, role = managerName(int(who-fxStaff)), "manager"
	}
	outcome := audit.OutcomeSuccess
	if seq%50 == 0 {
		outcome = audit.OutcomeFailure
	}
	rid := (seq * 7919) % max(refunds, 1)
	return auditRow{seq: seq, at: store.FormatTime(fxBase.Add(time.Duration(seq) * 10 * time.Second)),
		actorID: id, actorName: name, actorRole: role, action: fxActions[seq%int64(len(fxActions))], outcome: outcome,
		targetType: "refund", target: fixtureRefundID(rid), ip: "10.20.30.40",
		ua:        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		requestID: fmt.Sprintf("%016x", seq*2654435761),
		details:   fmt.Sprintf(`{"amount":%d,"api":"PG","from":"QUEUED","to":"PROCESSING","note":"fixture event %d"}`, 10_000+seq%90_000, seq)}
}

func insertEvents(ctx context.Context, tx *store.Tx, hs *chainHasher, from, to, refunds int64, prev string) (string, error) {
	m := &multiInsert{tx: tx, ncol: 15, batch: 60, head: `INSERT INTO audit_events (seq, at, actor_id, actor_name,
		actor_role, action, outcome, target_type, target_id, client_ip, user_agent, request_id, details, prev_hash, hash)`}
	for seq := from + 1; seq <= to; seq++ {
		r := fixtureEvent(seq, refunds)
		r.prevHash = prev
		r.hash = hs.sum(&r)
		prev = r.hash
		if err := m.add(ctx, r.seq, r.at, r.actorID, r.actorName, r.actorRole, r.action, r.outcome, r.targetType,
			r.target, r.ip, r.ua, r.requestID, r.details, r.prevHash, r.hash); err != nil {
			return "", err
		}
	}
	return prev, m.close(ctx)
}
