package refunds

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// row is a refund as the dashboard sees it, for direct inserts.
type row struct {
	api                API
	currency           string
	amount             int64
	by                 int64
	requested, decided time.Time
	final              time.Time
	approval, sub      string
	reason, msg, code  string
}

var insertSQL = `INSERT INTO refunds (id, api, transaction_ref, amount, currency, requested_by, requested_by_name,
	requested_at, approval, decided_by, decided_at, submission, updated_at, final_at, failed_reason, neox_message, neox_code)
	VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertRows writes rows the application never writes as such (past days,
// any state), with SQL of the test's own on a plain transaction.
func insertRows(t testing.TB, tx *sql.Tx, start int, rows ...row) {
	t.Helper()
	st, err := tx.PrepareContext(context.Background(), insertSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, r := range rows {
		cur := r.currency
		if cur == "" {
			cur = "VND"
		}
		var decidedBy int64
		if !r.decided.IsZero() {
			decidedBy = 99
		}
		if _, err := st.Exec(fmt.Sprintf("r%08d", start+i), string(r.api), fmt.Sprintf("T%d", start+i), r.amount, cur, r.by,
			fmtTime(r.requested), r.approval, decidedBy, fmtTime(r.decided), r.sub, fmtTime(r.requested), fmtTime(r.final),
			r.reason, r.msg, r.code); err != nil {
			t.Fatal(err)
		}
	}
}

func seed(t testing.TB, db *store.DB, rows ...row) {
	t.Helper()
	rawTx(t, db, func(tx *sql.Tx) { insertRows(t, tx, 0, rows...) })
}

// rawTx runs fn in a transaction on the writer pool and commits it.
func rawTx(t testing.TB, db *store.DB, fn func(tx *sql.Tx)) {
	t.Helper()
	tx, err := db.Write.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	fn(tx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardFigures(t *testing.T) {
	zone := time.FixedZone("ICT", 7*3600)
	// 25 Nov 2026, 10:00 in Ho Chi Minh City: "today" began at 24 Nov 17:00 UTC.
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, zone)
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	h := time.Hour
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{Now: func() time.Time { return now }})
	seed(t, db,
		// Pending: the oldest waits 5 h.
		row{api: APIPG, amount: 1000, by: 1, requested: at(5 * h), approval: ApprovalPending, sub: SubNotSent},
		row{api: APIGC, amount: 2000, by: 2, requested: at(1 * h), approval: ApprovalPending, sub: SubNotSent},
		// Succeeded today: PG 300k + 200k VND, GC 1500 USD (minor units).
		row{api: APIPG, amount: 300_000, by: 1, requested: at(4 * h), decided: at(3 * h), final: at(2 * h), approval: ApprovalApproved, sub: SubSucceeded},
		row{api: APIPG, amount: 200_000, by: 2, requested: at(6 * h), decided: at(5 * h), final: at(1 * h), approval: ApprovalApproved, sub: SubSucceeded},
		row{api: APIGC, currency: "USD", amount: 1500, by: 2, requested: at(3 * h), decided: at(2 * h), final: at(h / 2), approval: ApprovalApproved, sub: SubSucceeded},
		// Succeeded yesterday (this month, not today); the just-before-midnight
		// one counts for the 24th in Vietnam although it is the 24th in UTC too.
		row{api: APIPG, amount: 700_000, by: 1, requested: at(30 * h), decided: at(29 * h), final: at(27 * h), approval: ApprovalApproved, sub: SubSucceeded},
		row{api: APICOL, amount: 50_000, by: 1, requested: at(12 * h), decided: at(11 * h), final: at(10*h + time.Minute), approval: ApprovalApproved, sub: SubSucceeded},
		// Succeeded last month: in the 30-day window, not in this month.
		row{api: APICOL, amount: 999_000, by: 1, requested: at(26 * 24 * h), decided: at(26*24*h - 2*h), final: at(26*24*h - 3*h), approval: ApprovalApproved, sub: SubSucceeded},
		// Succeeded long ago: outside everything.
		row{api: APIPG, amount: 5_000_000, by: 1, requested: at(90 * 24 * h), decided: at(90 * 24 * h), final: at(89 * 24 * h), approval: ApprovalApproved, sub: SubSucceeded},
		// Failures in the window.
		row{api: APICOL, amount: 10_000, by: 1, requested: at(8 * h), decided: at(7 * h), final: at(6 * h), approval: ApprovalApproved, sub: SubFailed, reason: "Account closed"},
		row{api: APICOL, amount: 10_000, by: 2, requested: at(9 * h), decided: at(8 * h), final: at(7 * h), approval: ApprovalApproved, sub: SubFailed, reason: "Account closed"},
		row{api: APIPG, amount: 10_000, by: 1, requested: at(9 * h), decided: at(8 * h), final: at(4 * h), approval: ApprovalApproved, sub: SubFailed, msg: "Refund amount exceeds", code: "14"},
		row{api: APIPG, amount: 10_000, by: 1, requested: at(9 * h), decided: at(8 * h), final: at(4 * h), approval: ApprovalApproved, sub: SubFailed, code: "99"},
		// Stuck.
		row{api: APIPG, amount: 10_000, by: 1, requested: at(20 * h), decided: at(19 * h), approval: ApprovalApproved, sub: SubUnknown},
		row{api: APICOL, amount: 10_000, by: 2, requested: at(3 * h), decided: at(2 * h), approval: ApprovalApproved, sub: SubProcessing},
		row{api: APICOL, amount: 10_000, by: 2, requested: at(50 * h), decided: at(48 * h), approval: ApprovalApproved, sub: SubProcessing},
		// Rejected and cancelled: final, but not NeoX outcomes.
		row{api: APIPG, amount: 10_000, by: 1, requested: at(9 * h), decided: at(8 * h), final: at(8 * h), approval: ApprovalRejected, sub: SubNotSent},
		row{api: APIPG, amount: 10_000, by: 1, requested: at(9 * h), decided: at(8 * h), final: at(8 * h), approval: ApprovalCancelled, sub: SubNotSent},
	)
	ctx := context.Background()
	d, err := s.Dashboard(ctx, DashboardQuery{Now: now, Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	if d.Pending.Count != 2 || !d.Pending.OldestAt.Equal(at(5*h)) {
		t.Errorf("pending = %+v", d.Pending)
	}
	if d.Unknown.Count != 1 || d.Processing.Count != 2 || !d.Processing.OldestAt.Equal(at(48*h)) {
		t.Errorf("unknown = %+v, processing = %+v", d.Unknown, d.Processing)
	}
	wantToday := []AmountTotal{{APIPG, "VND", 2, 500_000}, {APIGC, "USD", 1, 1500}}
	if fmt.Sprint(d.Today) != fmt.Sprint(wantToday) {
		t.Errorf("today = %+v, want %+v", d.Today, wantToday)
	}
	wantMonth := []AmountTotal{{APIPG, "VND", 3, 1_200_000}, {APIGC, "USD", 1, 1500}, {APICOL, "VND", 1, 50_000}}
	if fmt.Sprint(d.Month) != fmt.Sprint(wantMonth) {
		t.Errorf("month = %+v, want %+v", d.Month, wantMonth)
	}
	wantOutcomes := []OutcomeCount{{APIPG, 3, 2}, {APIGC, 1, 0}, {APICOL, 2, 2}}
	if fmt.Sprint(d.Outcomes) != fmt.Sprint(wantOutcomes) || d.FailedTotal != 4 {
		t.Errorf("outcomes = %+v (failed %d), want %+v", d.Outcomes, d.FailedTotal, wantOutcomes)
	}
	wantReasons := []ReasonCount{{"Account closed", 2}, {"Refund amount exceeds", 1}, {"code 99", 1}}
	if fmt.Sprint(d.FailureReasons) != fmt.Sprint(wantReasons) {
		t.Errorf("reasons = %+v, want %+v", d.FailureReasons, wantReasons)
	}
	// Request → approval over the 13 approved in the window (the 90-day-old
	// one is out): 1 h ×11, 2 h ×2 → median 1 h.
	if d.ToApproval.Samples != 13 || d.ToApproval.Value != h {
		t.Errorf("to approval = %+v", d.ToApproval)
	}
	// Approval → final over the 10 settled in the window: 59 min, 1 h ×4,
	// 1.5 h, 2 h, 4 h ×3 → the mean of the middle two, 1 h 15 min.
	if d.ToFinal.Samples != 10 || d.ToFinal.Value != 75*time.Minute {
		t.Errorf("to final = %+v", d.ToFinal)
	}
	if !d.TodayFrom.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, zone)) || !d.MonthFrom.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, zone)) ||
		!d.WindowFrom.Equal(time.Date(2026, 10, 27, 0, 0, 0, 0, zone)) {
		t.Errorf("periods: today %s month %s window %s", d.TodayFrom, d.MonthFrom, d.WindowFrom)
	}

	mine, err := s.Dashboard(ctx, DashboardQuery{Now: now, Zone: zone, RequestedBy: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range mine.Mine {
		got[c.Status] = c.Count
	}
	if len(mine.Mine) != len(DashboardStatuses) || mine.MineTotal != 6 || got[ApprovalPending] != 1 ||
		got[SubSucceeded] != 2 || got[SubFailed] != 1 || got[SubProcessing] != 2 || got[SubUnknown] != 0 {
		t.Errorf("mine = %+v (total %d)", mine.Mine, mine.MineTotal)
	}
	if len(mine.Today) != 0 || mine.Pending.Count != 0 {
		t.Errorf("a maker's dashboard carries manager figures: %+v", mine)
	}
}

func TestDashboardEmpty(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{})
	d, err := s.Dashboard(context.Background(), DashboardQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Pending.Count != 0 || !d.Pending.OldestAt.IsZero() || d.ToFinal.Samples != 0 || len(d.Outcomes) != 3 {
		t.Errorf("empty dashboard = %+v", d)
	}
}

func TestListOnFinal(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{Now: func() time.Time { return now }})
	seed(t, db,
		// Requested long before, settled in the range: listed.
		row{api: APIPG, amount: 1, requested: now.AddDate(0, 0, -3), decided: now.Add(-2 * time.Hour), final: now.Add(-time.Hour), approval: ApprovalApproved, sub: SubSucceeded},
		// Requested in the range, not final: not listed.
		row{api: APIPG, amount: 2, requested: now.Add(-time.Hour), approval: ApprovalPending, sub: SubNotSent},
	)
	rows, _, err := s.List(context.Background(), ListFilter{On: "final", From: now.Add(-2 * time.Hour), To: now}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Amount != 1 {
		t.Errorf("on=final listed %+v", rows)
	}
	if _, _, err := s.List(context.Background(), ListFilter{On: "bogus"}, "", 10); err == nil {
		t.Error("unknown On accepted")
	}
}

// TestDashboardDayCache: days that are over are read once; today, and a
// day that ended less than settleMargin ago, are read on every call.
func TestDashboardDayCache(t *testing.T) {
	zone := time.FixedZone("ICT", 7*3600)
	midnight := time.Date(2026, 11, 25, 0, 0, 0, 0, zone)
	h := time.Hour
	db := openDB(t)
	s := newService(t, db, Gateways{}, Options{})
	n := 0
	add := func(final time.Time, amount int64) {
		t.Helper()
		r := row{api: APIPG, amount: amount, by: 1, requested: final.Add(-2 * h), decided: final.Add(-h), final: final,
			approval: ApprovalApproved, sub: SubSucceeded}
		rawTx(t, db, func(tx *sql.Tx) { insertRows(t, tx, n, r) })
		n++
	}
	month := func(now time.Time) (int64, string) {
		t.Helper()
		d, err := s.Dashboard(context.Background(), DashboardQuery{Now: now, Zone: zone})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, a := range d.Month {
			sum += a.Amount
		}
		return sum, fmt.Sprint(d.Today, d.Month, d.Outcomes, d.ToApproval, d.ToFinal)
	}

	add(midnight.Add(-30*time.Second), 100) // 24th, 23:59:30
	add(midnight.Add(-5*h), 200)            // 24th, 19:00
	add(midnight.Add(-30*h), 400)           // 23rd

	// One minute after midnight the 24th is still read live: a refund
	// that took its timestamp at 23:59:50 and committed late still counts.
	justAfter := midnight.Add(time.Minute)
	if got, _ := month(justAfter); got != 700 {
		t.Fatalf("month at 00:01 = %d, want 700", got)
	}
	add(midnight.Add(-10*time.Second), 1000)
	if got, _ := month(justAfter); got != 1700 {
		t.Errorf("a late commit on a day that just ended is missed: month = %d, want 1700", got)
	}

	// Later that day the 24th is over: its figures are kept, and a second
	// call gives the same figures from the cache.
	later := midnight.Add(10 * h)
	sum1, all1 := month(later)
	sum2, all2 := month(later)
	if sum1 != 1700 || all1 != all2 {
		t.Errorf("cached figures differ: %d %s, then %d %s", sum1, all1, sum2, all2)
	}
	// Today is live.
	add(midnight.Add(9*h), 5000)
	if got, _ := month(later); got != 6700 {
		t.Errorf("today's refund missing: month = %d, want 6700", got)
	}
	// A past day is not read again: a row written into it now (which the
	// application never does, final_at is the time of the change) is not
	// seen. This is what makes the window cost one day of reading.
	add(midnight.Add(-29*h), 90_000)
	if got, _ := month(later); got != 6700 {
		t.Errorf("past day read again: month = %d, want 6700 (cache not used)", got)
	}
	// A new service (a restart) reads everything again.
	s = newService(t, db, Gateways{}, Options{})
	if got, _ := month(later); got != 96_700 {
		t.Errorf("after restart month = %d, want 96700", got)
	}
}

// TestMakerCountsFollowEveryChange: the per-maker counts kept by the
// triggers of migration 0009 match a count over the refunds table after
// requests, approvals, rejections, cancellations, the worker's sends and
// NeoX's answers, and raw reassignments and deletions.
func TestMakerCountsFollowEveryChange(t *testing.T) {
	db := openDB(t)
	pg := &fakePG{queryPT: paidPG(10_000_000, 0, "CC"),
		refund: func(_ context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
			if r.Amount == 13 { // NeoX refuses this one
				return neox.PGRefundResult{}, &neox.RejectedError{API: "PG", Op: "refund", Code: "33", Message: "Invalid amount"}
			}
			return neox.PGRefundResult{TransID: "T-" + r.RequestID}, nil
		}}
	s := newService(t, db, Gateways{PG: pg}, fastOpts())
	runWorker(t, s)
	req := func(amount int64) NewRequest {
		return NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: amount, ReasonCode: "X"}
	}
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		q := func(query string) string {
			rows, err := db.Read.Query(query)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := ""
			for rows.Next() {
				var by int64
				var st string
				var n int
				if err := rows.Scan(&by, &st, &n); err != nil {
					t.Fatal(err)
				}
				out += fmt.Sprintf("%d/%s=%d ", by, st, n)
			}
			return out
		}
		kept := q(`SELECT requested_by, status, n FROM refund_maker_counts WHERE n <> 0 ORDER BY 1, 2`)
		counted := q(`SELECT requested_by, CASE approval WHEN 'APPROVED' THEN submission ELSE approval END, count(*)
			FROM refunds GROUP BY 1, 2 ORDER BY 1, 2`)
		if kept != counted || kept == "" {
			t.Errorf("%s: kept counts %q, counted %q", when, kept, counted)
		}
	}

	var ids []string
	for i, a := range []Actor{staff, staff, staff2, staff2, staff} {
		ids = append(ids, mustCreate(t, s, a, req(int64(10+i))).ID)
	}
	check("after requests")
	for _, id := range ids[:4] { // 13 fails at NeoX
		if _, err := s.Approve(ctx, manager, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Reject(ctx, manager, mustCreate(t, s, staff2, req(20)).ID, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(ctx, staff, ids[4]); err != nil {
		t.Fatal(err)
	}
	waitSubmission(t, s, ids[3], SubFailed)
	for _, id := range ids[:3] {
		waitSubmission(t, s, id, SubProcessing)
	}
	check("after decisions and sends")

	if _, err := db.Write.Exec(`UPDATE refunds SET requested_by = 77 WHERE id = ?`, ids[0]); err != nil {
		t.Fatal(err)
	}
	// The cancelled one: nothing refers to it.
	if _, err := db.Write.Exec(`DELETE FROM refunds WHERE id = ?`, ids[4]); err != nil {
		t.Fatal(err)
	}
	check("after a reassignment and a deletion")
}
