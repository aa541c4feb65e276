package policy

import (
	"errors"
	"testing"
)

func TestRuleRequired(t *testing.T) {
	tests := []struct {
		rule   Rule
		amount int64
		want   int
	}{
		{Rule{}, 1 << 60, 1},
		{Rule{AutoUpTo: 100}, 100, 0},
		{Rule{AutoUpTo: 100}, 101, 1},
		{Rule{DualAbove: 5_000_000}, 5_000_000, 1},
		{Rule{DualAbove: 5_000_000}, 5_000_001, 2},
		{Rule{AutoUpTo: 10, DualAbove: 20}, 10, 0},
		{Rule{AutoUpTo: 10, DualAbove: 20}, 20, 1},
		{Rule{AutoUpTo: 10, DualAbove: 20}, 21, 2},
	}
	for _, tt := range tests {
		if got := tt.rule.Required(tt.amount); got != tt.want {
			t.Errorf("%+v.Required(%d) = %d, want %d", tt.rule, tt.amount, got, tt.want)
		}
	}
}

func TestRuleForAndSnapshot(t *testing.T) {
	a := Approvals{Version: 3, Rules: []Rule{
		{Currency: "VND", API: "PG", DualAbove: 1},
		{Currency: "VND", DualAbove: 100},
		{Currency: "USD", AutoUpTo: 5},
	}}
	tests := []struct {
		api, cur string
		ok       bool
		want     Rule
	}{
		{"PG", "VND", true, a.Rules[0]},
		{"GC", "VND", true, a.Rules[1]},
		{"COL", "vnd", true, a.Rules[1]},
		{"GC", "USD", true, a.Rules[2]},
		{"GC", "EUR", false, Rule{}},
	}
	for _, tt := range tests {
		got, ok := a.RuleFor(tt.api, tt.cur)
		if ok != tt.ok || got != tt.want {
			t.Errorf("RuleFor(%s, %s) = %+v %v", tt.api, tt.cur, got, ok)
		}
	}
	if s := a.Snapshot("GC", "EUR", 1<<50); s.Required != 1 || s.Matched || s.Version != 3 {
		t.Errorf("no rule: %+v", s)
	}
	if s := a.Snapshot("GC", "USD", 5); s.Required != 0 || !s.Matched {
		t.Errorf("auto: %+v", s)
	}
}

func TestDecideApprovalPolicy(t *testing.T) {
	const me, maker = 7, 8
	p := Policy{}.With(Approvals{Version: 1, Limits: []Limit{{UserID: me, Currency: "VND", UpTo: 1000}}})
	base := Subject{RequestedBy: maker, Approval: "PENDING", Currency: "VND", Amount: 1000, Required: 2}
	mgr := Actor{ID: me, Role: Manager}
	tests := []struct {
		name   string
		s      func(Subject) Subject
		action Action
		want   Reason
	}{
		{"at the limit", func(s Subject) Subject { return s }, Approve, ""},
		{"over the limit", func(s Subject) Subject { s.Amount = 1001; return s }, Approve, ReasonLimit},
		{"other currency has no limit", func(s Subject) Subject { s.Amount, s.Currency = 1<<40, "USD"; return s }, Approve, ""},
		{"already gave the first", func(s Subject) Subject { s.ApprovedBy = []int64{me}; return s }, Approve, ReasonSecond},
		{"second after another", func(s Subject) Subject { s.ApprovedBy = []int64{9}; return s }, Approve, ""},
		{"own refund first", func(s Subject) Subject { s.RequestedBy, s.Amount = me, 5000; return s }, Approve, ReasonSelf},
		{"reject over the limit", func(s Subject) Subject { s.Amount = 5000; return s }, Reject, ""},
		{"reject after own approval", func(s Subject) Subject { s.ApprovedBy = []int64{me}; return s }, Reject, ""},
		{"decided", func(s Subject) Subject { s.Approval = "APPROVED"; return s }, Approve, ReasonState},
	}
	for _, tt := range tests {
		checkDecision(t, tt.name, p.Decide(mgr, tt.action, tt.s(base)), tt.want)
	}
	var d *Denial
	if err := p.Decide(mgr, Approve, Subject{RequestedBy: maker, Approval: "PENDING", Currency: "VND", Amount: 1001}); !errors.As(err, &d) || !errors.Is(err, ErrForbidden) {
		t.Errorf("over the limit is not forbidden: %v", err)
	}
	// Without an approval policy the limits are not read.
	if err := (Policy{}).Decide(mgr, Approve, base); err != nil {
		t.Errorf("no policy: %v", err)
	}
}

func TestApprovable(t *testing.T) {
	const maker = 1
	people := []Candidate{
		{Actor: Actor{ID: 1, Role: Manager}},
		{Actor: Actor{ID: 2, Role: Manager}},
		{Actor: Actor{ID: 3, Role: Manager}, Disabled: true},
		{Actor: Actor{ID: 4, Role: Admin}},
		{Actor: Actor{ID: 5, Role: Staff}},
		{Actor: Actor{ID: 6, Role: Manager}},
	}
	limits := Policy{}.With(Approvals{Limits: []Limit{{UserID: 2, Currency: "VND", UpTo: 100}}})
	tests := []struct {
		name     string
		p        Policy
		amount   int64
		required int
		able     int // -1: approvable
	}{
		{"auto needs nobody", limits, 1 << 40, 0, -1},
		{"one of two others", limits, 1000, 1, -1},
		{"two others within limits", limits, 100, 2, -1},
		{"only one covers the amount", limits, 101, 2, 1},
		{"no limits, two others", Policy{}, 1 << 40, 2, -1},
	}
	for _, tt := range tests {
		err := tt.p.Approvable(maker, Subject{Currency: "VND", Amount: tt.amount}, tt.required, people)
		var sf *Shortfall
		switch {
		case tt.able < 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.able >= 0 && (!errors.As(err, &sf) || sf.Able != tt.able || !errors.Is(err, ErrNoApprover)):
			t.Errorf("%s: %v, want %d able", tt.name, err, tt.able)
		}
	}
}

func TestPresetsAreStateBankTiers(t *testing.T) {
	want := []int64{5_000_000, 100_000_000, 1_500_000_000}
	got := Presets()
	if len(got) != len(want) {
		t.Fatalf("presets = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("preset %d = %d, want %d", i, got[i], want[i])
		}
	}
}
