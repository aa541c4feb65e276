package refunds

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// attnService has all three products (fakes answering lookups only) on a
// test clock; nothing is sent: tests put refunds in the state they need.
func attnService(t *testing.T, opts Options) (*Service, *store.DB, *clock.Fake) {
	t.Helper()
	db := openDB(t)
	clk := newClock()
	opts.Now = clk.Now
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150000}, nil
	}}
	s := newService(t, db, Gateways{PG: &fakePG{queryPT: paidPG(10_000_000, 0, "CC")}, GC: gc,
		COL: &fakeCOL{getTxn: paidCOL(10_000_000, 0)}}, opts)
	return s, db, clk
}

var gcRefNo int

// approvedIn creates and approves a refund of api, then puts it in
// submission with attempts, as the worker would have left it.
func approvedIn(t *testing.T, s *Service, db *store.DB, api API, submission string, attempts int) Refund {
	t.Helper()
	var req NewRequest
	switch api {
	case APIPG:
		req = NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1000, ReasonCode: "X"}
	case APIGC:
		gcRefNo++
		req = NewRequest{API: APIGC, TransactionRef: "CO" + strings.Repeat("1", gcRefNo), ReasonCode: "X", FeeChargeWay: "OUR"}
	case APICOL:
		req = colRequest(1000, "")
	}
	r := approved(t, s, req)
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = ?, attempts = ? WHERE id = ?`, submission, attempts, r.ID); err != nil {
		t.Fatal(err)
	}
	return mustGet(t, s, r.ID)
}

func mark(t *testing.T, s *Service) time.Time {
	t.Helper()
	next, err := s.markAttention(context.Background())
	if err != nil {
		t.Fatalf("markAttention: %v", err)
	}
	return next
}

// TestAttentionThresholdsPerProduct: each product's threshold, counted
// from approval, moves a refund still waiting on NeoX into needs
// attention, once, with its audit event; the state itself never changes.
func TestAttentionThresholdsPerProduct(t *testing.T) {
	opts := Options{AttentionAfter: map[API]time.Duration{APIPG: 4 * time.Hour, APIGC: time.Hour, APICOL: 8 * time.Hour}}
	tests := []struct {
		api        API
		submission string
		wait       time.Duration // after approval
		want       bool
	}{
		{APIGC, SubProcessing, 59 * time.Minute, false},
		{APIGC, SubProcessing, 61 * time.Minute, true},
		{APIPG, SubProcessing, 61 * time.Minute, false},
		{APIPG, SubProcessing, 4*time.Hour + time.Minute, true},
		{APIPG, SubUnknown, 4*time.Hour + time.Minute, true},
		{APICOL, SubProcessing, 7 * time.Hour, false},
		{APICOL, SubProcessing, 8*time.Hour + time.Minute, true},
		// Never sent, or final: not for a person.
		{APIGC, SubQueued, 48 * time.Hour, false},
		{APIGC, SubSucceeded, 48 * time.Hour, false},
		{APIGC, SubFailed, 48 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.api)+"/"+tt.submission+"/"+tt.wait.String(), func(t *testing.T) {
			s, db, clk := attnService(t, opts)
			r := approvedIn(t, s, db, tt.api, tt.submission, 1)
			clk.Advance(tt.wait)
			mark(t, s)
			mark(t, s) // idempotent
			got := mustGet(t, s, r.ID)
			if got.Submission != tt.submission {
				t.Errorf("submission changed to %s", got.Submission)
			}
			if flagged := !got.AttentionSince.IsZero(); flagged != tt.want {
				t.Fatalf("flagged = %v, want %v", flagged, tt.want)
			}
			events := auditRows(t, db, audit.ActionRefundNeedsAttention)
			if !tt.want {
				if len(events) != 0 {
					t.Errorf("%d needs-attention events", len(events))
				}
				return
			}
			if got.AttentionReason != AttentionNoFinalAnswer || !got.NeedsAttention() {
				t.Errorf("reason %q, in queue %v", got.AttentionReason, got.NeedsAttention())
			}
			if len(events) != 1 || events[0].Actor != "system" || events[0].Details["reason"] != AttentionNoFinalAnswer ||
				events[0].Details["api"] != string(tt.api) {
				t.Errorf("audit = %+v", events)
			}
			q, err := s.Attention(context.Background())
			if err != nil || len(q) != 1 || q[0].ID != r.ID {
				t.Errorf("queue = %v, %v", q, err)
			}
			if n, err := s.AttentionCount(context.Background()); err != nil || n != 1 {
				t.Errorf("count = %d, %v", n, err)
			}
		})
	}
}

// TestAttentionNextDue: markAttention says when the next waiting refund
// falls due, so the worker wakes for it.
func TestAttentionNextDue(t *testing.T) {
	s, db, clk := attnService(t, Options{AttentionAfter: map[API]time.Duration{APIGC: time.Hour}})
	if next := mark(t, s); !next.IsZero() {
		t.Errorf("nothing waits, next = %v", next)
	}
	r := approvedIn(t, s, db, APIGC, SubProcessing, 1)
	next := mark(t, s)
	if want := r.DecidedAt.Add(time.Hour); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}
	clk.Advance(2 * time.Hour)
	if next := mark(t, s); !next.IsZero() {
		t.Errorf("after flagging, next = %v", next)
	}
}

// TestAttentionUnknownAfterRetries: an UNKNOWN outcome that survived
// UnknownAttempts sends needs a person long before the time threshold.
func TestAttentionUnknownAfterRetries(t *testing.T) {
	for _, tt := range []struct {
		submission string
		attempts   int
		want       string
	}{
		{SubUnknown, 2, ""},
		{SubUnknown, 3, AttentionUnknownAfterRetries},
		{SubUnknown, 9, AttentionUnknownAfterRetries},
		{SubProcessing, 9, ""}, // NeoX has it; only the time threshold applies
	} {
		s, db, _ := attnService(t, Options{UnknownAttempts: 3})
		r := approvedIn(t, s, db, APICOL, tt.submission, tt.attempts)
		mark(t, s)
		if got := mustGet(t, s, r.ID); got.AttentionReason != tt.want {
			t.Errorf("%s after %d attempts: reason %q, want %q", tt.submission, tt.attempts, got.AttentionReason, tt.want)
		}
	}
}

// TestUnknownInAttentionIsStillRetried: needs attention does not stop the
// worker: an UNKNOWN refund is resent with its one id and NeoX's answer
// settles it, which takes it off the queue.
func TestUnknownInAttentionIsStillRetried(t *testing.T) {
	db := openDB(t)
	var calls recorder
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0), getRefund: func(context.Context, string) (neox.COLRefund, error) {
		return neox.COLRefund{}, notFoundCOL()
	}, refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
		if calls.add(r.RequestID) <= 3 {
			return neox.COLRefund{}, unknownErr("refund")
		}
		return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "APPROVED", Status: "SUCCESS"}, nil
	}}
	opts := fastOpts()
	opts.UnknownAttempts = 2
	opts.RetryBase, opts.RetryMax = 200*time.Millisecond, 200*time.Millisecond
	s := newService(t, db, Gateways{COL: col}, opts)
	r := approved(t, s, colRequest(1000, ""))
	// Put it in needs attention as the worker's check would after 2 sends.
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'UNKNOWN', attempts = 2 WHERE id = ?`, r.ID); err != nil {
		t.Fatal(err)
	}
	mark(t, s)
	if got := mustGet(t, s, r.ID); !got.NeedsAttention() {
		t.Fatalf("not in needs attention: %+v", got)
	}
	runWorker(t, s)
	got := waitSubmission(t, s, r.ID, SubSucceeded)
	if got.NeedsAttention() || got.ResolvedManually() || got.AttentionReason != AttentionUnknownAfterRetries {
		t.Errorf("after NeoX answered: in queue %v, manual %v, reason %q", got.NeedsAttention(), got.ResolvedManually(), got.AttentionReason)
	}
	for _, id := range calls.all() {
		if id != r.ID {
			t.Fatalf("sent under another id: %s", id)
		}
	}
	if q, _ := s.Attention(context.Background()); len(q) != 0 {
		t.Errorf("queue still lists %d", len(q))
	}
}

func flagged(t *testing.T, s *Service, db *store.DB, clk *clock.Fake, api API, submission string) Refund {
	t.Helper()
	r := approvedIn(t, s, db, api, submission, 1)
	clk.Advance(DefaultAttentionAfter(api) + time.Minute)
	mark(t, s)
	r = mustGet(t, s, r.ID)
	if !r.NeedsAttention() {
		t.Fatalf("refund not in needs attention: %+v", r)
	}
	return r
}

// TestResolveValidation: bad input is refused field by field and changes
// nothing; only managers resolve; only refunds in needs attention.
func TestResolveValidation(t *testing.T) {
	s, db, clk := attnService(t, Options{})
	r := flagged(t, s, db, clk, APIGC, SubProcessing)
	ok := Resolution{Outcome: SubFailed, Note: "Portal shows FAILED: payer bank returned it", Ref: "RF-20250601-000000123"}
	tests := []struct {
		name  string
		res   Resolution
		field string
	}{
		{"no outcome", Resolution{Note: ok.Note, Ref: ok.Ref}, "outcome"},
		{"outcome not final", Resolution{Outcome: SubProcessing, Note: ok.Note, Ref: ok.Ref}, "outcome"},
		{"outcome made up", Resolution{Outcome: "REFUNDED", Note: ok.Note, Ref: ok.Ref}, "outcome"},
		{"no note", Resolution{Outcome: SubFailed, Note: "  ", Ref: ok.Ref}, "note"},
		{"note too long", Resolution{Outcome: SubFailed, Note: strings.Repeat("ạ", MaxResolutionNote+1), Ref: ok.Ref}, "note"},
		{"no reference", Resolution{Outcome: SubFailed, Note: ok.Note}, "ref"},
		{"reference too long", Resolution{Outcome: SubFailed, Note: ok.Note, Ref: strings.Repeat("R", MaxResolutionRef+1)}, "ref"},
		{"reference on two lines", Resolution{Outcome: SubFailed, Note: ok.Note, Ref: "RF-1\nRF-2"}, "ref"},
	}
	for _, tt := range tests {
		_, err := s.Resolve(context.Background(), manager, r.ID, tt.res)
		v, isV := IsValidation(err)
		if !isV || v.Fields[tt.field].IsZero() {
			t.Errorf("%s: err = %v, want a message on %s", tt.name, err, tt.field)
		}
	}
	for _, a := range []Actor{staff, admin} {
		if _, err := s.Resolve(context.Background(), a, r.ID, ok); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: err = %v, want ErrForbidden", a.Role, err)
		}
	}
	if _, err := s.Resolve(context.Background(), manager, "no-such-id", ok); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubProcessing || got.ResolvedManually() {
		t.Fatalf("refused input changed the refund: %+v", got)
	}
	if n := len(auditRows(t, db, audit.ActionRefundResolved)); n != 0 {
		t.Fatalf("%d resolution events after refusals", n)
	}

	// Not in needs attention (just approved and processing), or mid-call.
	other := approvedIn(t, s, db, APICOL, SubProcessing, 1)
	if _, err := s.Resolve(context.Background(), manager, other.ID, ok); !errors.Is(err, ErrConflict) {
		t.Errorf("refund not in needs attention: %v", err)
	}
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SENDING' WHERE id = ?`, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(context.Background(), manager, r.ID, ok); !errors.Is(err, ErrConflict) {
		t.Errorf("refund mid-call: %v", err)
	}
}

// TestResolveRecordsManualDecision: the outcome, who, when, note and NeoX
// reference are kept on the refund and in one audit event.
func TestResolveRecordsManualDecision(t *testing.T) {
	for _, outcome := range []string{SubSucceeded, SubFailed} {
		for _, from := range []string{SubProcessing, SubUnknown} {
			s, db, clk := attnService(t, Options{})
			r := flagged(t, s, db, clk, APIGC, from)
			got, err := s.Resolve(context.Background(), manager, r.ID, Resolution{Outcome: " " + outcome + " ",
				Note: "  Seen in the portal  ", Ref: " RF-1 "})
			if err != nil {
				t.Fatalf("%s→%s: %v", from, outcome, err)
			}
			if got.Submission != outcome || !got.Final() || got.NeedsAttention() || !got.ResolvedManually() ||
				got.ResolvedBy != manager.ID || got.ResolvedByName != manager.Name || got.ResolutionNote != "Seen in the portal" ||
				got.ResolutionRef != "RF-1" || got.FinalAt.IsZero() || got.AttentionSince.IsZero() {
				t.Errorf("%s→%s: refund = %+v", from, outcome, got)
			}
			ev := auditRows(t, db, audit.ActionRefundResolved)
			if len(ev) != 1 || ev[0].Actor != manager.Name || ev[0].Details["to"] != outcome || ev[0].Details["from"] != from ||
				ev[0].Details["note"] != "Seen in the portal" || ev[0].Details["neox_ref"] != "RF-1" || ev[0].Details["manual"] != true {
				t.Errorf("%s→%s: audit = %+v", from, outcome, ev)
			}
			// Resolved is final: a second resolution conflicts.
			if _, err := s.Resolve(context.Background(), manager2, r.ID, Resolution{Outcome: SubSucceeded, Note: "n", Ref: "r"}); !errors.Is(err, ErrConflict) {
				t.Errorf("second resolution: %v", err)
			}
		}
	}
}

// TestResolveRaces: two managers at once, and a manager racing NeoX's
// webhook, end with exactly one final state and one record of it.
func TestResolveRaces(t *testing.T) {
	t.Run("two managers", func(t *testing.T) {
		for range 5 {
			s, db, clk := attnService(t, Options{})
			r := flagged(t, s, db, clk, APIGC, SubProcessing)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, m := range []Actor{manager, manager2} {
				wg.Go(func() {
					outcome := []string{SubSucceeded, SubFailed}[i]
					_, errs[i] = s.Resolve(context.Background(), m, r.ID, Resolution{Outcome: outcome, Note: "portal", Ref: "RF"})
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrConflict):
					t.Fatalf("unexpected: %v", err)
				}
			}
			if won != 1 || len(auditRows(t, db, audit.ActionRefundResolved)) != 1 {
				t.Fatalf("won %d, %d events", won, len(auditRows(t, db, audit.ActionRefundResolved)))
			}
		}
	})
	t.Run("manager and webhook", func(t *testing.T) {
		for range 5 {
			s, db, clk := attnService(t, Options{})
			r := flagged(t, s, db, clk, APICOL, SubProcessing)
			var wg sync.WaitGroup
			var resErr, hookErr error
			var hook WebhookResult
			wg.Go(func() {
				_, resErr = s.Resolve(context.Background(), manager, r.ID, Resolution{Outcome: SubFailed, Note: "portal", Ref: "RF"})
			})
			wg.Go(func() {
				hook, hookErr = s.ApplyCOL(context.Background(), neox.COLRefundEvent{RequestID: r.ID, Type: "REFUND",
					CollectionTransID: "CT1", ApprovalStatus: "APPROVED", Status: "SUCCESS", Amount: "1000"}, []byte(`{}`))
			})
			wg.Wait()
			if hookErr != nil || (resErr != nil && !errors.Is(resErr, ErrConflict)) {
				t.Fatalf("resolve %v, webhook %v", resErr, hookErr)
			}
			got := mustGet(t, s, r.ID)
			manual := len(auditRows(t, db, audit.ActionRefundResolved))
			byNeoX := 0
			for _, e := range auditRows(t, db, audit.ActionRefundState) {
				if e.Target == r.ID && e.Details["to"] == SubSucceeded {
					byNeoX++
				}
			}
			switch {
			case resErr == nil: // the manager first: FAILED stays; the webhook did not apply
				if got.Submission != SubFailed || !got.ResolvedManually() || manual != 1 || byNeoX != 0 {
					t.Fatalf("manager won: %s manual=%v events %d/%d, hook %+v", got.Submission, got.ResolvedManually(), manual, byNeoX, hook)
				}
			default: // NeoX first: SUCCEEDED, no manual record
				if got.Submission != SubSucceeded || got.ResolvedManually() || manual != 0 || byNeoX != 1 {
					t.Fatalf("webhook won: %s manual=%v events %d/%d", got.Submission, got.ResolvedManually(), manual, byNeoX)
				}
			}
		}
	})
}

// TestWorkerFlagsWhenDue: the worker wakes for the moment a refund falls
// due, not at its next poll (an hour here), and flags it once.
func TestWorkerFlagsWhenDue(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150000}, nil
	}, refund: func(_ context.Context, r neox.GCRefundRequest) (neox.GCRefundResult, error) {
		return neox.GCRefundResult{RefundRequestID: "RF-1", Status: "PROCESSING"}, nil
	}}
	opts := fastOpts() // PollInterval: an hour
	opts.AttentionAfter = map[API]time.Duration{APIGC: 300 * time.Millisecond}
	s := newService(t, db, Gateways{GC: gc}, opts)
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"})
	var got Refund
	waitFor(t, "needs attention", func() bool {
		got = mustGet(t, s, r.ID)
		return got.NeedsAttention()
	})
	if got.Submission != SubProcessing || got.AttentionReason != AttentionNoFinalAnswer {
		t.Errorf("flagged as %s (%s)", got.Submission, got.AttentionReason)
	}
	if n := len(auditRows(t, db, audit.ActionRefundNeedsAttention)); n != 1 {
		t.Errorf("%d needs-attention events", n)
	}
}

// TestResolveRacesTheWorkersResend: a manager resolves an UNKNOWN refund
// while the worker claims it for a resend. Either the resolution wins and
// nothing is sent, or the claim wins (the resolution is refused) and
// NeoX's answer settles it: one final state, never both.
func TestResolveRacesTheWorkersResend(t *testing.T) {
	for range 10 {
		db := openDB(t)
		var sent atomic.Int32
		col := &fakeCOL{getTxn: paidCOL(1_000_000, 0), getRefund: func(context.Context, string) (neox.COLRefund, error) {
			return neox.COLRefund{}, notFoundCOL()
		}, refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			sent.Add(1)
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "APPROVED", Status: "SUCCESS"}, nil
		}}
		s := newService(t, db, Gateways{COL: col}, Options{UnknownAttempts: 1})
		r := approved(t, s, colRequest(1000, ""))
		if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'UNKNOWN', attempts = 1 WHERE id = ?`, r.ID); err != nil {
			t.Fatal(err)
		}
		mark(t, s)
		var wg sync.WaitGroup
		var resErr, sendErr error
		ctx := context.Background()
		wg.Go(func() {
			_, resErr = s.Resolve(ctx, manager, r.ID, Resolution{Outcome: SubFailed, Note: "portal", Ref: "RF"})
		})
		wg.Go(func() { sendErr = s.send(ctx, ctx, r.ID) })
		wg.Wait()
		got := mustGet(t, s, r.ID)
		switch {
		case resErr == nil:
			if !errors.Is(sendErr, ErrConflict) || sent.Load() != 0 || got.Submission != SubFailed || !got.ResolvedManually() {
				t.Fatalf("resolution won, yet send %v, %d calls, %s", sendErr, sent.Load(), got.Submission)
			}
		case errors.Is(resErr, ErrConflict):
			if sendErr != nil || sent.Load() != 1 || got.Submission != SubSucceeded || got.ResolvedManually() {
				t.Fatalf("send won, yet %v, %d calls, %s manual=%v", sendErr, sent.Load(), got.Submission, got.ResolvedManually())
			}
		default:
			t.Fatalf("resolve: %v", resErr)
		}
	}
}
