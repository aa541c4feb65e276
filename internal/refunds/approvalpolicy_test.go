package refunds

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// manager3 is a third manager, for rules that need two approvers besides
// a maker who is a manager.
var manager3 = Actor{ID: 6, Name: "an", Role: policy.Manager}

// addUsers stores the test actors as users, in id order, so the check
// "somebody could approve this" sees them.
func addUsers(t *testing.T, db *store.DB, disabled ...int64) {
	t.Helper()
	err := db.TxAt(context.Background(), newClock().Now(), func(tx *store.Tx) error {
		for _, a := range []Actor{staff, manager, manager2, admin, staff2, manager3} {
			u, err := tx.InsertUser(context.Background(), store.UserRecord{Username: a.Name, Role: string(a.Role)}, "x")
			if err != nil {
				return err
			}
			if u.ID != a.ID {
				t.Fatalf("user %s got id %d, want %d", a.Name, u.ID, a.ID)
			}
		}
		for _, id := range disabled {
			if err := tx.SetDisabled(context.Background(), id, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// policyService is a COL service over a 10 billion đồng transaction with
// the users stored, whose NeoX counts the refunds sent.
func policyService(t *testing.T, disabled ...int64) (*Service, *store.DB, *atomic.Int32) {
	t.Helper()
	db := openDB(t)
	addUsers(t, db, disabled...)
	var sends atomic.Int32
	col := &fakeCOL{getTxn: paidCOL(10_000_000_000, 0),
		refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			sends.Add(1)
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING", NeoResponseID: "nr"}, nil
		}}
	return newService(t, db, Gateways{COL: col}, Options{Now: newClock().Now}), db, &sends
}

func setPolicy(t *testing.T, s *Service, a policy.Approvals) policy.Approvals {
	t.Helper()
	cur, err := s.ApprovalPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.SetApprovalPolicy(context.Background(), admin, cur.Version, a)
	if err != nil {
		t.Fatalf("set policy: %v", err)
	}
	return out
}

func vndDual(above int64, limits ...policy.Limit) policy.Approvals {
	return policy.Approvals{Rules: []policy.Rule{{Currency: "VND", DualAbove: above}}, Limits: limits}
}

func approve(t *testing.T, s *Service, a Actor, id string) Refund {
	t.Helper()
	r, err := s.Approve(context.Background(), a, id, "")
	if err != nil {
		t.Fatalf("%s approves: %v", a.Name, err)
	}
	return r
}

// TestNoPolicyIsTodaysRule: with no approval policy stored, one manager
// approves any amount, and a request is never refused for want of
// approvers (none exist here).
func TestNoPolicyIsTodaysRule(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(10_000_000_000, 0)}}, Options{Now: newClock().Now})
	r := mustCreate(t, s, staff, colRequest(9_000_000_000, "k"))
	if r.Rule.Version != 0 || r.Required() != 1 || r.Rule.Matched {
		t.Fatalf("rule = %+v", r.Rule)
	}
	r = approve(t, s, manager, r.ID)
	if r.Approval != ApprovalApproved || r.Submission != SubQueued || r.DecidedBy != manager.ID || len(r.Approvals) != 1 {
		t.Fatalf("after one approval: %s/%s by %d, %d approvals", r.Approval, r.Submission, r.DecidedBy, len(r.Approvals))
	}
}

// TestRequiredApprovals walks the rule's tiers at and around each
// threshold.
func TestRequiredApprovals(t *testing.T) {
	s, db, _ := policyService(t)
	setPolicy(t, s, policy.Approvals{Rules: []policy.Rule{{Currency: "VND", AutoUpTo: 100_000, DualAbove: 5_000_000}}})
	tests := []struct {
		amount   int64
		required int
		approval string
	}{
		{1, 0, ApprovalApproved},
		{100_000, 0, ApprovalApproved},
		{100_001, 1, ApprovalPending},
		{5_000_000, 1, ApprovalPending},
		{5_000_001, 2, ApprovalPending},
	}
	for i, tt := range tests {
		r := mustCreate(t, s, staff, colRequest(tt.amount, string(rune('a'+i))))
		if r.Required() != tt.required || r.Approval != tt.approval || r.Rule.Version != 1 || !r.Rule.Matched {
			t.Errorf("%d: required %d, %s, rule %+v; want %d, %s", tt.amount, r.Required(), r.Approval, r.Rule, tt.required, tt.approval)
		}
		if tt.required == 0 && (!r.ByPolicy() || r.Submission != SubQueued || r.DecidedByName != policyApprover) {
			t.Errorf("%d: auto-approved refund = %s by %q, by policy %v", tt.amount, r.Submission, r.DecidedByName, r.ByPolicy())
		}
	}
	ev := auditRows(t, db, audit.ActionRefundApproved)
	if len(ev) != 2 || ev[0].Actor != policyApprover || ev[0].Details["by_policy"] != true || ev[0].Details["rule"] == nil {
		t.Fatalf("policy approvals audited = %+v", ev)
	}
}

// TestRuleChoice: a product's own rule beats its currency's; another
// currency's limits never apply (no conversion).
func TestRuleChoice(t *testing.T) {
	s, _, _ := policyService(t)
	setPolicy(t, s, policy.Approvals{Rules: []policy.Rule{
		{Currency: "VND", DualAbove: 5_000_000},
		{Currency: "VND", API: "COL", DualAbove: 50_000_000},
		{Currency: "USD", DualAbove: 1},
	}})
	r := mustCreate(t, s, staff, colRequest(10_000_000, "k"))
	if r.Required() != 1 || r.Rule.Rule.API != "COL" {
		t.Fatalf("COL rule not chosen: %+v", r.Rule)
	}
}

func TestTwoDistinctApprovers(t *testing.T) {
	s, db, sends := policyService(t)
	setPolicy(t, s, vndDual(5_000_000))
	stop := runWorker(t, s)
	defer stop()
	r := mustCreate(t, s, staff, colRequest(6_000_000, "k"))
	if r.Required() != 2 {
		t.Fatalf("required = %d", r.Required())
	}
	r = approve(t, s, manager, r.ID)
	if r.Approval != ApprovalPending || r.Submission != SubNotSent || !r.AwaitingSecond() ||
		len(r.Approvals) != 1 || r.Approvals[0].ByName != "minh" || r.Approvals[0].Step != 1 {
		t.Fatalf("after the first approval: %s/%s, approvals %+v", r.Approval, r.Submission, r.Approvals)
	}
	for _, tt := range []struct {
		who  Actor
		want error
	}{{manager, ErrSameApprover}, {staff, ErrForbidden}, {admin, ErrForbidden}} {
		if _, err := s.Approve(context.Background(), tt.who, r.ID, ""); !errors.Is(err, tt.want) {
			t.Errorf("%s approves again: %v, want %v", tt.who.Name, err, tt.want)
		}
	}
	r = approve(t, s, manager2, r.ID)
	if r.Approval != ApprovalApproved || r.DecidedBy != manager2.ID || len(r.Approvals) != 2 || r.Approvals[1].ByName != "tuan" {
		t.Fatalf("after the second approval: %s by %d, approvals %+v", r.Approval, r.DecidedBy, r.Approvals)
	}
	waitFor(t, "the refund sent", func() bool { return mustGet(t, s, r.ID).Submission == SubProcessing })
	if n := sends.Load(); n != 1 {
		t.Errorf("sent %d times", n)
	}
	if g, a := auditRows(t, db, audit.ActionRefundApprovalGiven), auditRows(t, db, audit.ActionRefundApproved); len(g) != 1 || len(a) != 1 ||
		g[0].Actor != "minh" || a[0].Actor != "tuan" || a[0].Details["step"] != float64(2) {
		t.Errorf("audit: given %+v, approved %+v", g, a)
	}
}

// TestMakerManagerNeedsTwoOthers: a manager's own request needs two other
// managers above the threshold.
func TestMakerManagerNeedsTwoOthers(t *testing.T) {
	s, _, _ := policyService(t)
	setPolicy(t, s, vndDual(5_000_000))
	r := mustCreate(t, s, manager, colRequest(6_000_000, "k"))
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("maker approves: %v", err)
	}
	approve(t, s, manager2, r.ID)
	if r = approve(t, s, manager3, r.ID); r.Approval != ApprovalApproved {
		t.Fatalf("approval = %s", r.Approval)
	}
}

func TestRejectAfterFirstApproval(t *testing.T) {
	s, _, _ := policyService(t)
	setPolicy(t, s, vndDual(5_000_000))
	for i, rejecter := range []Actor{manager2, manager} { // another approver, or the first one
		r := mustCreate(t, s, staff, colRequest(6_000_000, string(rune('a'+i))))
		approve(t, s, manager, r.ID)
		r, err := s.Reject(context.Background(), rejecter, r.ID, "wrong customer")
		if err != nil || r.Approval != ApprovalRejected {
			t.Fatalf("%s rejects: %v, %s", rejecter.Name, err, r.Approval)
		}
		if _, err := s.Approve(context.Background(), manager3, r.ID, ""); !errors.Is(err, ErrConflict) {
			t.Errorf("approving a rejected refund: %v", err)
		}
	}
}

func TestApproverLimits(t *testing.T) {
	s, db, _ := policyService(t)
	setPolicy(t, s, policy.Approvals{Limits: []policy.Limit{
		{UserID: manager.ID, Currency: "VND", UpTo: 1_000_000},
		{UserID: manager2.ID, Currency: "USD", UpTo: 1}, // another currency: no limit in VND
	}})
	r := mustCreate(t, s, staff, colRequest(2_000_000, "k"))
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); !errors.Is(err, ErrOverLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	if cur := mustGet(t, s, r.ID); cur.Approval != ApprovalPending || len(cur.Approvals) != 0 {
		t.Fatalf("refused approval changed the refund: %s, %d approvals", cur.Approval, len(cur.Approvals))
	}
	if len(auditRows(t, db, audit.ActionRefundApproved)) != 0 {
		t.Error("refused approval audited as approved")
	}
	small := mustCreate(t, s, staff, colRequest(1_000_000, "small"))
	if approve(t, s, manager, small.ID).Approval != ApprovalApproved {
		t.Error("at the limit: not approved")
	}
	if approve(t, s, manager2, r.ID).Approval != ApprovalApproved {
		t.Error("manager without a VND limit could not approve")
	}
}

// TestNobodyCanApprove: a request the people there are could never approve
// is refused when made, says why, and stores nothing.
func TestNobodyCanApprove(t *testing.T) {
	tests := []struct {
		name     string
		policy   policy.Approvals
		disabled []int64
		maker    Actor
		amount   int64
		key      string
	}{
		{"every manager's limit is lower", policy.Approvals{Limits: []policy.Limit{
			{UserID: manager.ID, Currency: "VND", UpTo: 1_000_000}, {UserID: manager2.ID, Currency: "VND", UpTo: 1_000_000},
			{UserID: manager3.ID, Currency: "VND", UpTo: 0}}}, nil, staff, 2_000_000, "policy.nobody"},
		{"the only manager allowed is the maker", policy.Approvals{Limits: []policy.Limit{
			{UserID: manager2.ID, Currency: "VND", UpTo: 1}, {UserID: manager3.ID, Currency: "VND", UpTo: 1}}}, nil, manager, 2_000_000, "policy.nobody"},
		{"the manager allowed is disabled", policy.Approvals{Limits: []policy.Limit{
			{UserID: manager2.ID, Currency: "VND", UpTo: 1}, {UserID: manager3.ID, Currency: "VND", UpTo: 1}}}, []int64{manager.ID}, staff, 2_000_000, "policy.nobody"},
		{"two needed, one allowed", vndDual(1_000_000,
			policy.Limit{UserID: manager.ID, Currency: "VND", UpTo: 1_000_000}, policy.Limit{UserID: manager2.ID, Currency: "VND", UpTo: 1_000_000}),
			nil, staff, 2_000_000, "policy.needs_two"},
		{"two needed, the maker is one of two", vndDual(1_000_000, policy.Limit{UserID: manager3.ID, Currency: "VND", UpTo: 0}),
			nil, manager, 2_000_000, "policy.needs_two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, db, _ := policyService(t, tt.disabled...)
			setPolicy(t, s, tt.policy)
			_, err := s.Create(context.Background(), tt.maker, colRequest(tt.amount, "k"))
			v, ok := IsValidation(err)
			if !ok || v.Fields["amount"].Key != tt.key {
				t.Fatalf("err = %v, want %s on amount", err, tt.key)
			}
			if rs, err := db.PendingRefunds(context.Background()); err != nil || len(rs) != 0 {
				t.Errorf("refused request stored: %d, %v", len(rs), err)
			}
			if len(auditRows(t, db, audit.ActionRefundRequested)) != 0 {
				t.Error("refused request audited as requested")
			}
			// Under the limits it is requested as usual.
			if _, err := s.Create(context.Background(), tt.maker, colRequest(1, "small")); err != nil {
				t.Errorf("small request: %v", err)
			}
		})
	}
}

// TestPolicyChangeKeepsRequestedRefunds: a new version applies to new
// requests only.
func TestPolicyChangeKeepsRequestedRefunds(t *testing.T) {
	s, _, _ := policyService(t)
	setPolicy(t, s, vndDual(5_000_000))
	old := mustCreate(t, s, staff, colRequest(6_000_000, "old"))
	if v := setPolicy(t, s, policy.Approvals{}); v.Version != 2 {
		t.Fatalf("version = %d", v.Version)
	}
	fresh := mustCreate(t, s, staff, colRequest(6_000_000, "new"))
	if fresh.Required() != 1 || fresh.Rule.Version != 2 {
		t.Errorf("new refund: %+v", fresh.Rule)
	}
	if r := approve(t, s, manager, old.ID); r.Approval != ApprovalPending || r.Rule.Version != 1 || r.Required() != 2 {
		t.Errorf("old refund after a change: %s, rule %+v", r.Approval, r.Rule)
	}
}

// TestLimitLoweredMidDecision: the page offered Approve, then an admin
// lowered the manager's limit while the approval was under way (here:
// while NeoX was asked for the live numbers): the policy in force at the
// decision refuses it.
func TestLimitLoweredMidDecision(t *testing.T) {
	db := openDB(t)
	addUsers(t, db)
	var s *Service
	var lower atomic.Bool
	col := &fakeCOL{getTxn: func(ctx context.Context, id string) (neox.CollectionTransaction, error) {
		if lower.CompareAndSwap(true, false) {
			cur, err := s.ApprovalPolicy(ctx)
			if err != nil {
				return neox.CollectionTransaction{}, err
			}
			if _, err := s.SetApprovalPolicy(ctx, admin, cur.Version, policy.Approvals{
				Limits: []policy.Limit{{UserID: manager.ID, Currency: "VND", UpTo: 1_000_000}}}); err != nil {
				return neox.CollectionTransaction{}, err
			}
		}
		return paidCOL(10_000_000_000, 0)(ctx, id)
	}}
	s = newService(t, db, Gateways{COL: col}, Options{Now: newClock().Now})
	setPolicy(t, s, policy.Approvals{Limits: []policy.Limit{{UserID: manager.ID, Currency: "VND", UpTo: 5_000_000}}})
	r := mustCreate(t, s, staff, colRequest(2_000_000, "k"))
	p, err := s.PolicyNow(context.Background())
	if err != nil || !p.Can(manager.Policy(), policy.Approve, r.Subject()) {
		t.Fatalf("before the change the manager may approve: %v", err)
	}
	lower.Store(true)
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); !errors.Is(err, ErrOverLimit) {
		t.Fatalf("approve after the limit was lowered: %v", err)
	}
	if lower.Load() {
		t.Fatal("the limit was not lowered during the decision")
	}
	if cur := mustGet(t, s, r.ID); cur.Approval != ApprovalPending || len(cur.Approvals) != 0 {
		t.Errorf("refund changed: %s, %d approvals", cur.Approval, len(cur.Approvals))
	}
	// Raised again, the same approval passes.
	setPolicy(t, s, policy.Approvals{})
	approve(t, s, manager, r.ID)
}

// TestLastStepRace: managers approving the last required step at once
// (real SQLite file, goroutines): one approval completes the refund, the
// others are told someone acted first, and NeoX gets it once.
func TestLastStepRace(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy policy.Approvals
		first  *Actor // the approval given before the race
	}{
		{"one approver", policy.Approvals{}, nil},
		{"second of two", vndDual(5_000_000), &manager},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, db, sends := policyService(t)
			setPolicy(t, s, tt.policy)
			stop := runWorker(t, s)
			defer stop()
			r := mustCreate(t, s, staff, colRequest(6_000_000, "k"))
			if tt.first != nil {
				approve(t, s, *tt.first, r.ID)
			}
			racers := []Actor{manager2, manager3}
			if tt.first == nil {
				racers = append(racers, manager)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(racers))
			start := make(chan struct{})
			for i, a := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = s.Approve(context.Background(), a, r.ID, "")
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrConflict):
					t.Errorf("%s: %v, want a conflict", racers[i].Name, err)
				}
			}
			if won != 1 {
				t.Fatalf("%d approvals completed the refund, want 1", won)
			}
			waitFor(t, "the refund sent", func() bool { return mustGet(t, s, r.ID).Submission == SubProcessing })
			if n := sends.Load(); n != 1 {
				t.Errorf("NeoX got the refund %d times", n)
			}
			if n := len(auditRows(t, db, audit.ActionRefundApproved)); n != 1 {
				t.Errorf("%d approvals audited", n)
			}
			if got := mustGet(t, s, r.ID); len(got.Approvals) != max(got.Required(), 1) {
				t.Errorf("%d approvals stored for %d required", len(got.Approvals), got.Required())
			}
		})
	}
}

// TestSetApprovalPolicy: admins only, validated, versioned, audited, and a
// stale page cannot overwrite a newer version.
func TestSetApprovalPolicy(t *testing.T) {
	s, db, _ := policyService(t)
	ctx := context.Background()
	for _, a := range []Actor{staff, manager} {
		if _, err := s.SetApprovalPolicy(ctx, a, 0, vndDual(1)); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s sets the policy: %v", a.Name, err)
		}
	}
	for _, bad := range []policy.Approvals{
		{Rules: []policy.Rule{{Currency: "vnd"}}},
		{Rules: []policy.Rule{{Currency: "VND", AutoUpTo: -1}}},
		{Rules: []policy.Rule{{Currency: "VND", AutoUpTo: 10, DualAbove: 10}}},
		{Rules: []policy.Rule{{Currency: "VND"}, {Currency: "VND"}}},
		{Rules: []policy.Rule{{Currency: "VND", API: "ATM"}}},
		{Limits: []policy.Limit{{UserID: 2, Currency: "VND", UpTo: -5}}},
		{Limits: []policy.Limit{{UserID: 2, Currency: "VND", UpTo: 5}, {UserID: 2, Currency: "VND", UpTo: 6}}},
	} {
		if _, err := s.SetApprovalPolicy(ctx, admin, 0, bad); !errors.As(err, new(*ValidationError)) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	setPolicy(t, s, vndDual(5_000_000))
	setPolicy(t, s, vndDual(100_000_000))
	if _, err := s.SetApprovalPolicy(ctx, admin, 1, vndDual(1)); !errors.Is(err, ErrPolicyChanged) {
		t.Errorf("stale base: %v", err)
	}
	cur, _ := s.ApprovalPolicy(ctx)
	if cur.Version != 2 || cur.Rules[0].DualAbove != 100_000_000 {
		t.Errorf("in force: %+v", cur)
	}
	hist, err := s.ApprovalPolicyHistory(ctx, 10)
	if err != nil || len(hist) != 2 || hist[0].Version != 2 || hist[1].CreatedByName != "root" {
		t.Errorf("history: %+v, %v", hist, err)
	}
	if ev := auditRows(t, db, audit.ActionApprovalPolicyChanged); len(ev) != 2 || ev[1].Actor != "root" || ev[1].Target != "2" {
		t.Errorf("audit: %+v", ev)
	}
}

// TestApproveEachReportsPerRefund: bulk approval applies each refund's
// rule and says what happened to each.
func TestApproveEachReportsPerRefund(t *testing.T) {
	s, _, _ := policyService(t)
	setPolicy(t, s, vndDual(5_000_000, policy.Limit{UserID: manager.ID, Currency: "VND", UpTo: 10_000_000}))
	one := mustCreate(t, s, staff, colRequest(1_000_000, "a"))
	two := mustCreate(t, s, staff, colRequest(6_000_000, "b"))
	big := mustCreate(t, s, staff, colRequest(20_000_000, "c"))
	own := mustCreate(t, s, manager, colRequest(1_000, "d"))
	res := s.ApproveEach(context.Background(), manager, []string{one.ID, two.ID, big.ID, own.ID})
	want := []struct {
		partial bool
		err     error
	}{{false, nil}, {true, nil}, {false, ErrOverLimit}, {false, ErrSelfApproval}}
	for i, w := range want {
		if res[i].Partial != w.partial || !errors.Is(res[i].Err, w.err) || (w.err == nil) != (res[i].Err == nil) {
			t.Errorf("%d: partial %v err %v, want %v %v", i, res[i].Partial, res[i].Err, w.partial, w.err)
		}
	}
	if mustGet(t, s, one.ID).Approval != ApprovalApproved || mustGet(t, s, two.ID).Approval != ApprovalPending {
		t.Error("states after bulk")
	}
}
