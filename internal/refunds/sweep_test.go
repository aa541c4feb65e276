package refunds

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// listingCOL is a COL fake that also lists refunds.
type listingCOL struct {
	*fakeCOL
	list func(ctx context.Context, q neox.COLListQuery) (neox.COLRefundPage, error)
}

func (f *listingCOL) ListRefunds(ctx context.Context, _ string, q neox.COLListQuery) (neox.COLRefundPage, error) {
	return f.list(ctx, q)
}

func findingKinds(t *testing.T, s *Service) map[string]string {
	t.Helper()
	fs, err := s.Findings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range fs {
		if _, dup := out[f.RequestID]; dup {
			t.Errorf("two open findings for %s", f.RequestID)
		}
		out[f.RequestID] = f.Kind
	}
	return out
}

// TestCOLSweepAgainstSandbox compares the sandbox's COL refund list (over
// loopback, through the real client) with the desk: what NeoX holds that
// the desk does not, and what the two see differently, is listed; what
// agrees or lies outside the window is not. A second sweep finds the same
// (no duplicates); a difference that is gone is cleared.
func TestCOLSweepAgainstSandbox(t *testing.T) {
	sb := sandbox.New(sandbox.Config{MerchantCode: "SWEEP1", COLClientID: "col-client", COLClientSecret: "col-secret",
		COLWebhookSecret: "col-hook", SettleDelay: time.Hour})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	sb.AddCollectionTransaction(sandbox.CollectionTransaction{ID: "CT1", Status: "SUCCESS", Amount: 10_000_000, CreatedAt: time.Now()})
	col := neox.NewCOL(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "col-client", ClientSecret: "col-secret",
		Scope: "collection", Timeout: 2 * time.Second}, &http.Client{})
	db := openDB(t)
	s := newService(t, db, Gateways{COL: col}, Options{SweepWindow: 24 * time.Hour})

	deskIn := func(submission string) Refund {
		r := approved(t, s, colRequest(1000, ""))
		if _, err := db.Write.Exec(`UPDATE refunds SET submission = ? WHERE id = ?`, submission, r.ID); err != nil {
			t.Fatal(err)
		}
		return r
	}
	neoxHolds := func(id, approval, status string, age time.Duration) {
		sb.AddCOLRefund(sandbox.Refund{RequestID: id, Target: "CT1", ApprovalStatus: approval, Status: status,
			Amount: 1000, CreatedAt: time.Now().Add(-age).UTC()})
	}
	waiting := deskIn(SubProcessing) // NeoX: SUCCESS → differs
	neoxHolds(waiting.ID, "APPROVED", "SUCCESS", time.Minute)
	agreed := deskIn(SubSucceeded) // agrees
	neoxHolds(agreed.ID, "APPROVED", "SUCCESS", time.Minute)
	flipped := deskIn(SubFailed) // NeoX: SUCCESS → differs
	neoxHolds(flipped.ID, "APPROVED", "SUCCESS", time.Minute)
	onTheWay := deskIn(SubProcessing) // both still processing
	neoxHolds(onTheWay.ID, "APPROVED", "PROCESSING", time.Minute)
	neverSent := mustCreate(t, s, staff, colRequest(1000, "")) // pending here, yet NeoX holds it
	neoxHolds(neverSent.ID, "PENDING", "", time.Minute)
	stranger := uuid.NewString() // NeoX holds it; the desk has no record
	neoxHolds(stranger, "APPROVED", "SUCCESS", time.Minute)
	neoxHolds(uuid.NewString(), "APPROVED", "SUCCESS", 3*24*time.Hour) // outside the window

	sw, err := s.SweepNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{waiting.ID: FindingStateDiffers, flipped.ID: FindingStateDiffers,
		neverSent.ID: FindingStateDiffers, stranger: FindingUnknownToDesk}
	if got := findingKinds(t, s); !equalMaps(got, want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	if sw.Error != "" || sw.Pages != 1 || sw.Docs != 6 || sw.Findings != 4 || sw.Finished.IsZero() {
		t.Errorf("sweep = %+v", sw)
	}
	last, err := s.LastSweep(context.Background())
	if err != nil || last.ID != sw.ID || last.Findings != 4 || last.Docs != 6 {
		t.Errorf("last sweep = %+v, %v", last, err)
	}
	fs, _ := s.Findings(context.Background())
	for _, f := range fs {
		if f.RequestID == flipped.ID && (f.DeskSubmission != SubFailed || f.NeoXStatus != "SUCCESS" || f.CollectionTransID != "CT1") {
			t.Errorf("finding keeps both sides: %+v", f)
		}
	}
	firstSeen := map[string]time.Time{}
	for _, f := range fs {
		firstSeen[f.RequestID] = f.FirstSeen
	}

	// Idempotent per (requestId, kind); a difference the desk has caught
	// up with is not shown at once, and the next sweep clears it.
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SUCCEEDED' WHERE id = ?`, waiting.ID); err != nil {
		t.Fatal(err)
	}
	if got := findingKinds(t, s); got[waiting.ID] != "" || len(got) != 3 {
		t.Errorf("after the desk caught up, before a sweep: %v", got)
	}
	sw2, err := s.SweepNow(context.Background())
	if err != nil || sw2.Findings != 3 {
		t.Fatalf("second sweep = %+v, %v", sw2, err)
	}
	delete(want, waiting.ID)
	if got := findingKinds(t, s); !equalMaps(got, want) {
		t.Fatalf("after the desk caught up: %v, want %v", got, want)
	}
	fs, _ = s.Findings(context.Background())
	for _, f := range fs {
		if !f.FirstSeen.Equal(firstSeen[f.RequestID]) {
			t.Errorf("%s: first seen moved: %v → %v", f.RequestID, firstSeen[f.RequestID], f.FirstSeen)
		}
	}
	var rows int
	if err := db.Read.QueryRow(`SELECT count(*) FROM col_sweep_findings`).Scan(&rows); err != nil || rows != 4 {
		t.Errorf("%d finding rows, want 4 (one cleared, none duplicated): %v", rows, err)
	}
	if n := len(auditRows(t, db, audit.ActionCOLSweep)); n != 2 {
		t.Errorf("%d sweep audit events", n)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCOLSweepPagesAndFailures: every page is read (pageSize 500, until
// totalPages); a failure mid-way is recorded and returned in the run, keeps
// what was found, clears nothing, and is not an error of the sweep itself.
func TestCOLSweepPagesAndFailures(t *testing.T) {
	db := openDB(t)
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	var failOn atomic.Int32
	var pages []int
	col := &listingCOL{fakeCOL: &fakeCOL{}, list: func(_ context.Context, q neox.COLListQuery) (neox.COLRefundPage, error) {
		if q.PageSize != neox.MaxCOLPageSize || q.From.IsZero() || !q.From.Before(q.To) {
			t.Errorf("query = %+v", q)
		}
		pages = append(pages, q.PageIndex)
		if int(failOn.Load()) == q.PageIndex {
			return neox.COLRefundPage{}, &neox.UnknownOutcomeError{API: "COL", Op: "list_refunds", Err: errors.New("timeout")}
		}
		return neox.COLRefundPage{TotalDocs: 3, TotalPages: 3, Docs: []neox.COLRefund{{RequestID: ids[q.PageIndex-1],
			ApprovalStatus: "APPROVED", Status: "SUCCESS", Amount: 5, CreatedAt: time.Now()}}}, nil
	}}
	s := newService(t, db, Gateways{COL: col}, Options{})
	sw, err := s.SweepNow(context.Background())
	if err != nil || sw.Pages != 3 || sw.Findings != 3 || sw.Error != "" {
		t.Fatalf("sweep = %+v, %v", sw, err)
	}
	sort.Ints(pages)
	if len(pages) != 3 || pages[2] != 3 {
		t.Errorf("pages read: %v", pages)
	}
	failOn.Store(2)
	sw, err = s.SweepNow(context.Background())
	if err != nil || sw.Error == "" || sw.Pages != 1 || sw.Findings != 3 {
		t.Fatalf("failed sweep = %+v, %v", sw, err)
	}
	last, _ := s.LastSweep(context.Background())
	if last.Error == "" || last.Finished.IsZero() {
		t.Errorf("the failure is not recorded: %+v", last)
	}
	if ev := auditRows(t, db, audit.ActionCOLSweep); len(ev) != 2 || ev[1].Outcome != audit.OutcomeFailure {
		t.Errorf("sweep audit = %+v", ev)
	}
	// A failed sweep is retried within the hour, a good one a day later.
	if d := s.nextSweep(last).Sub(last.StartedAt); d != time.Hour {
		t.Errorf("retry after a failure in %v", d)
	}
	if d := s.nextSweep(Sweep{StartedAt: last.StartedAt, Finished: last.StartedAt}).Sub(last.StartedAt); d != 24*time.Hour {
		t.Errorf("next after a good sweep in %v", d)
	}
}

// TestCOLSweepNeverTwiceAtOnce: a sweep asked for while one runs, on this
// instance or another, is refused.
func TestCOLSweepNeverTwiceAtOnce(t *testing.T) {
	db := openDB(t)
	entered, release := make(chan struct{}), make(chan struct{})
	col := &listingCOL{fakeCOL: &fakeCOL{}, list: func(context.Context, neox.COLListQuery) (neox.COLRefundPage, error) {
		close(entered)
		<-release
		return neox.COLRefundPage{TotalPages: 1}, nil
	}}
	s := newService(t, db, Gateways{COL: col}, Options{})
	done := make(chan error, 1)
	go func() { _, err := s.SweepNow(context.Background()); done <- err }()
	<-entered
	if _, err := s.SweepNow(context.Background()); !errors.Is(err, ErrSweepRunning) {
		t.Errorf("second sweep: %v, want ErrSweepRunning", err)
	}
	// Another instance on the same database: neither a sweep asked for
	// there nor its schedule (based on no run yet) starts a second one.
	other := newService(t, db, Gateways{COL: &listingCOL{fakeCOL: &fakeCOL{}, list: func(context.Context, neox.COLListQuery) (neox.COLRefundPage, error) {
		t.Error("the other instance swept too")
		return neox.COLRefundPage{TotalPages: 1}, nil
	}}}, Options{})
	if _, err := other.SweepNow(context.Background()); !errors.Is(err, ErrSweepRunning) {
		t.Errorf("a sweep asked for on another instance: %v, want ErrSweepRunning", err)
	}
	if _, err := other.sweepNow(context.Background(), 0); !errors.Is(err, ErrSweepRunning) {
		t.Errorf("another instance's schedule: %v, want ErrSweepRunning", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := newService(t, openDB(t), Gateways{}, Options{}).SweepNow(context.Background()); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("without COL: %v", err)
	}
}

// TestWorkerSweepsCOLAtStart: with no sweep on record, the worker runs one
// as soon as it starts, in its own lifetime.
func TestWorkerSweepsCOLAtStart(t *testing.T) {
	db := openDB(t)
	var calls atomic.Int32
	col := &listingCOL{fakeCOL: &fakeCOL{}, list: func(context.Context, neox.COLListQuery) (neox.COLRefundPage, error) {
		calls.Add(1)
		return neox.COLRefundPage{TotalPages: 1}, nil
	}}
	s := newService(t, db, Gateways{COL: col}, fastOpts())
	stop := runWorker(t, s)
	waitFor(t, "a recorded sweep", func() bool {
		sw, err := s.LastSweep(context.Background())
		return err == nil && !sw.Finished.IsZero()
	})
	stop()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d list calls, want 1", n)
	}
}

// sweepingFake is the fourth product (product_seam_test.go) listing its
// refunds too: nothing in the sweep knows it.
type sweepingFake struct {
	*fakeProduct
	mu      sync.Mutex
	listed  []product.Swept
	windows int
}

func (f *sweepingFake) Sweeps() bool { return true }

func (f *sweepingFake) Sweep(_ context.Context, from, to time.Time, found func(product.Swept) error) (int, error) {
	f.mu.Lock()
	f.windows++
	listed := append([]product.Swept(nil), f.listed...)
	f.mu.Unlock()
	for _, x := range listed {
		if x.CreatedAt.Before(from) || x.CreatedAt.After(to) {
			continue
		}
		if err := found(x); err != nil {
			return 1, err
		}
	}
	return 1, nil
}

func (f *sweepingFake) SweptState(_, status string) string {
	switch status {
	case "DONE":
		return product.Succeeded
	case "REFUSED":
		return product.Failed
	}
	return product.Processing
}

// TestFourthProductIsSwept: a product that lists its refunds is swept by
// the desk's own schedule, compared with the desk through the product's
// own state mapping, recorded and audited, like COL.
func TestFourthProductIsSwept(t *testing.T) {
	db := openDB(t)
	fake := &sweepingFake{fakeProduct: &fakeProduct{}}
	reg, err := product.NewRegistry(append(Products(Gateways{}), fake)...)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, db, Gateways{}, Options{Products: reg, PollInterval: time.Hour, SweepWindow: 24 * time.Hour})
	ctx := context.Background()
	if on, every := s.SweepEnabled(); !on || every != DefaultSweepEvery {
		t.Fatalf("sweep enabled = %v, %v", on, every)
	}
	req := NewRequest{API: fakeName, TransactionRef: "V-1", Amount: 1_000, ReasonCode: "DUPLICATE"}
	neverSent := mustCreate(t, s, staff, req)
	agreed := mustCreate(t, s, staff, req)
	if _, err := s.Approve(ctx, manager, agreed.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SUCCEEDED' WHERE id = ?`, agreed.ID); err != nil {
		t.Fatal(err)
	}
	stranger := uuid.NewString()
	now := time.Now()
	fake.listed = []product.Swept{
		{RequestID: neverSent.ID, TargetRef: "V-1", Status: "DONE", Amount: 1_000, CreatedAt: now.Add(-time.Minute)},
		{RequestID: agreed.ID, TargetRef: "V-1", Status: "DONE", Amount: 1_000, CreatedAt: now.Add(-time.Minute)},
		{RequestID: stranger, TargetRef: "V-9", NeoXRefundID: "FX-9", Status: "REFUSED", Amount: 7, CreatedAt: now.Add(-time.Hour)},
		{RequestID: uuid.NewString(), Status: "DONE", CreatedAt: now.Add(-48 * time.Hour)}, // outside the window
	}

	sw, err := s.SweepNow(ctx)
	if err != nil || sw.Error != "" || sw.Pages != 1 || sw.Docs != 3 || sw.Findings != 2 {
		t.Fatalf("sweep = %+v, %v", sw, err)
	}
	want := map[string]string{neverSent.ID: FindingStateDiffers, stranger: FindingUnknownToDesk}
	if got := findingKinds(t, s); !equalMaps(got, want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	fs, _ := s.Findings(ctx)
	for _, f := range fs {
		if f.RequestID == neverSent.ID && (f.API != fakeName || f.DeskApproval != ApprovalPending || f.NeoXStatus != "DONE" ||
			f.CollectionTransID != "V-1") {
			t.Errorf("finding = %+v", f)
		}
		if f.RequestID == stranger && (f.API != fakeName || f.RefundTransID != "FX-9" || f.Amount != 7) {
			t.Errorf("finding = %+v", f)
		}
	}
	ev := auditRows(t, db, audit.ActionCOLSweep)
	if len(ev) != 1 || ev[0].Outcome != audit.OutcomeSuccess || ev[0].Details["api"] != fakeName {
		t.Errorf("sweep audit = %+v", ev)
	}

	// The product's mapping decides at read time too: once the desk agrees
	// with what NeoX listed, the finding is no longer shown.
	if _, err := db.Write.Exec(`UPDATE refunds SET approval = 'APPROVED', submission = 'SUCCEEDED' WHERE id = ?`, neverSent.ID); err != nil {
		t.Fatal(err)
	}
	if got := findingKinds(t, s); len(got) != 1 || got[stranger] == "" {
		t.Errorf("after the desk caught up: %v", got)
	}

	// The worker's schedule sweeps it too: a fresh desk sweeps at start.
	fake2 := &sweepingFake{fakeProduct: &fakeProduct{}}
	reg2, err := product.NewRegistry(append(Products(Gateways{}), fake2)...)
	if err != nil {
		t.Fatal(err)
	}
	opts := fastOpts()
	opts.Products = reg2
	s2 := newService(t, openDB(t), Gateways{}, opts)
	stop := runWorker(t, s2)
	waitFor(t, "a recorded sweep", func() bool {
		sw, err := s2.LastSweep(ctx)
		return err == nil && !sw.Finished.IsZero()
	})
	stop()
	fake2.mu.Lock()
	defer fake2.mu.Unlock()
	if fake2.windows != 1 {
		t.Errorf("%d sweeps of the product, want 1", fake2.windows)
	}
}

// TestSweepClearsOnlyTheListsReadInFull: with two products that sweep, a
// run clears what a product's whole list no longer shows, but nothing of
// a product whose list failed; the failure names the product.
func TestSweepClearsOnlyTheListsReadInFull(t *testing.T) {
	db := openDB(t)
	now := time.Now()
	colStranger, fakeStranger := uuid.NewString(), uuid.NewString()
	var colFails atomic.Bool
	var colDocs atomic.Pointer[[]neox.COLRefund]
	colDocs.Store(&[]neox.COLRefund{{RequestID: colStranger, ApprovalStatus: "APPROVED", Status: "SUCCESS", CreatedAt: now.Add(-time.Minute)}})
	col := &listingCOL{fakeCOL: &fakeCOL{}, list: func(context.Context, neox.COLListQuery) (neox.COLRefundPage, error) {
		if colFails.Load() {
			return neox.COLRefundPage{}, &neox.UnknownOutcomeError{API: "COL", Op: "list_refunds", Err: errors.New("timeout")}
		}
		return neox.COLRefundPage{TotalPages: 1, Docs: *colDocs.Load()}, nil
	}}
	fake := &sweepingFake{fakeProduct: &fakeProduct{},
		listed: []product.Swept{{RequestID: fakeStranger, Status: "DONE", CreatedAt: now.Add(-time.Minute)}}}
	gw := Gateways{COL: col}
	reg, err := product.NewRegistry(append(Products(gw), fake)...)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, db, gw, Options{Products: reg})
	if got := s.Sweepers(); len(got) != 2 || got[1] != fakeName {
		t.Fatalf("sweepers = %v", got)
	}
	ctx := context.Background()
	sw, err := s.SweepNow(ctx)
	want := map[string]string{colStranger: FindingUnknownToDesk, fakeStranger: FindingUnknownToDesk}
	if got := findingKinds(t, s); err != nil || sw.Error != "" || sw.Pages != 2 || !equalMaps(got, want) {
		t.Fatalf("first sweep %+v, %v: findings %v", sw, err, got)
	}
	fs, _ := s.Findings(ctx)
	for _, f := range fs {
		if (f.RequestID == colStranger) != (f.API == "COL") {
			t.Errorf("finding %s from %s's list", f.RequestID, f.API)
		}
	}

	// COL's list fails, the fake's no longer shows its refund.
	colFails.Store(true)
	fake.mu.Lock()
	fake.listed = nil
	fake.mu.Unlock()
	sw, err = s.SweepNow(ctx)
	if err != nil || !strings.HasPrefix(sw.Error, "COL: ") || sw.Findings != 1 {
		t.Fatalf("second sweep = %+v, %v", sw, err)
	}
	if got := findingKinds(t, s); len(got) != 1 || got[colStranger] == "" {
		t.Errorf("after a failed COL list: %v, want COL's finding kept and the fake's cleared", got)
	}
	if ev := auditRows(t, db, audit.ActionCOLSweep); len(ev) != 2 || ev[1].Outcome != audit.OutcomeFailure ||
		ev[1].Details["api"] != "COL,"+fakeName {
		t.Errorf("sweep audit = %+v", ev)
	}

	colFails.Store(false)
	colDocs.Store(&[]neox.COLRefund{})
	if sw, err := s.SweepNow(ctx); err != nil || sw.Error != "" || sw.Findings != 0 {
		t.Fatalf("third sweep = %+v, %v", sw, err)
	}
	if got := findingKinds(t, s); len(got) != 0 {
		t.Errorf("after both lists read in full: %v", got)
	}
}

// panickingSweeper is a product whose list panics.
type panickingSweeper struct{ *sweepingFake }

func (panickingSweeper) Sweep(context.Context, time.Time, time.Time, func(product.Swept) error) (int, error) {
	panic("list bug")
}

// A product whose sweep panics fails the run, which is recorded; the
// caller (the worker) is not taken down.
func TestPanickingSweeperIsAFailedSweep(t *testing.T) {
	db := openDB(t)
	reg, err := product.NewRegistry(append(Products(Gateways{}), panickingSweeper{&sweepingFake{fakeProduct: &fakeProduct{}}})...)
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, db, Gateways{}, Options{Products: reg})
	sw, err := s.SweepNow(context.Background())
	if err != nil || !strings.Contains(sw.Error, "list bug") || sw.Finished.IsZero() {
		t.Fatalf("sweep = %+v, %v", sw, err)
	}
	if ev := auditRows(t, db, audit.ActionCOLSweep); len(ev) != 1 || ev[0].Outcome != audit.OutcomeFailure {
		t.Errorf("sweep audit = %+v", ev)
	}
}
