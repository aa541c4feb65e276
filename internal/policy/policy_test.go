package policy

import (
	"errors"
	"fmt"
	"testing"
)

var (
	approvals   = []string{"PENDING", "APPROVED", "REJECTED", "CANCELLED"}
	submissions = []string{"NOT_SENT", "QUEUED", "SENDING", "PROCESSING", "UNKNOWN", "SUCCEEDED", "FAILED"}
	// Every role, plus what a broken session or row could carry.
	allRoles = []Role{Staff, Manager, Admin, "", "root"}
)

// before is what the desk answered before this package, written out from
// the four places that decided it then: the route table's access levels
// (staffUp, managers, admins), the handlers' canSee, CanApprove, CanCancel
// and canResolve, and the domain's guardDecision, Cancel, Create and
// Resolve checks, in the order they ran. "" is allowed.
func before(role Role, action Action, own bool, s Subject) Reason {
	staffUp := role == "staff" || role == "manager"
	managers := role == "manager"
	admins := role == "admin"
	gate := func(ok bool) Reason {
		if ok {
			return ""
		}
		return ReasonRole
	}
	switch action {
	case RefundWork, Request, BulkRequest: // GET /transactions, /refunds/new, POST /refunds, GET /refunds; Create; /batches
		return gate(staffUp)
	case ViewAll: // refund list and dashboard: u.Role == RoleManager sees all
		return gate(managers)
	case ViewApprovals, ViewAttention, ViewAudit, Export: // managers routes
		return gate(managers)
	case ManageUsers, ManageApprovalPolicy, ManageAPIKeys, ManageWebhooks: // admins routes
		return gate(admins)
	case ViewDeliveries: // the delivery log: managers and admins
		return gate(managers || admins)
	case View: // staffUp route, then canSee: manager or maker
		if !staffUp {
			return ReasonRole
		}
		if !(role == "manager" || own) {
			return ReasonNotOwner
		}
		return ""
	case Cancel: // staffUp route; Cancel: maker only; then UPDATE ... WHERE approval = 'PENDING'
		if !staffUp {
			return ReasonRole
		}
		if !own {
			return ReasonNotOwner
		}
		if s.Approval != "PENDING" {
			return ReasonState
		}
		return ""
	case Approve, Reject: // managers route; guardDecision: role, self, pending
		if !managers {
			return ReasonRole
		}
		if own {
			return ReasonSelf
		}
		if s.Approval != "PENDING" {
			return ReasonState
		}
		return ""
	case Resolve: // managers route; Resolve: role, then in the transaction the state
		if !managers {
			return ReasonRole
		}
		if !s.NeedsAttention || (s.Submission != "PROCESSING" && s.Submission != "UNKNOWN") {
			return ReasonState
		}
		return ""
	}
	panic("unknown action " + action)
}

// TestDecideMatchesBefore walks every role × action × own/other refund ×
// approval state × submission state × needs attention and checks the
// answer and its reason against the rules as they were.
func TestDecideMatchesBefore(t *testing.T) {
	var p Policy
	const me, other = 7, 8
	n := 0
	for _, role := range allRoles {
		for _, action := range Actions() {
			for _, own := range []bool{true, false} {
				for _, ap := range approvals {
					for _, sub := range submissions {
						for _, att := range []bool{false, true} {
							s := Subject{RequestedBy: other, Approval: ap, Submission: sub, NeedsAttention: att,
								API: "PG", Amount: 100_000, Currency: "VND"}
							if own {
								s.RequestedBy = me
							}
							want := before(role, action, own, s)
							err := p.Decide(Actor{ID: me, Role: role}, action, s)
							checkDecision(t, fmt.Sprintf("%q %s own=%v %s/%s attention=%v", role, action, own, ap, sub, att), err, want)
							if got := p.Can(Actor{ID: me, Role: role}, action, s); got != (want == "") {
								t.Errorf("Can disagrees with Decide")
							}
							n++
						}
					}
				}
			}
		}
	}
	if n != len(allRoles)*len(Actions())*2*len(approvals)*len(submissions)*2 {
		t.Fatalf("walked %d cases", n)
	}
}

func checkDecision(t *testing.T, name string, err error, want Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: %v, want allowed", name, err)
		}
		return
	}
	var d *Denial
	if !errors.As(err, &d) {
		t.Errorf("%s: %v, want a denial (%s)", name, err, want)
		return
	}
	if d.Reason != want {
		t.Errorf("%s: reason %s, want %s", name, d.Reason, want)
	}
	kind := ErrForbidden
	if want == ReasonState {
		kind = ErrConflict
	}
	if !errors.Is(err, kind) {
		t.Errorf("%s: %v is not %v", name, err, kind)
	}
}

// TestPermitsByRole is the role table as a person reads it.
func TestPermitsByRole(t *testing.T) {
	var p Policy
	want := map[Role][]Action{
		Staff:   {RefundWork, Request, BulkRequest, View, Cancel},
		Manager: {RefundWork, Request, BulkRequest, View, Cancel, ViewAll, ViewApprovals, ViewAttention, ViewAudit, Export, Approve, Reject, Resolve, ViewDeliveries},
		Admin:   {ManageUsers, ManageApprovalPolicy, ManageAPIKeys, ManageWebhooks, ViewDeliveries},
		"":      nil,
		"root":  nil,
	}
	for role, actions := range want {
		allowed := map[Action]bool{}
		for _, a := range actions {
			allowed[a] = true
		}
		for _, a := range Actions() {
			if got := p.Permits(Actor{ID: 1, Role: role}, a); got != allowed[a] {
				t.Errorf("Permits(%q, %s) = %v, want %v", role, a, got, allowed[a])
			}
		}
	}
}

// TestNobodyOwnsWithoutID: a zero actor id (no user) is nobody's maker.
func TestNobodyOwnsWithoutID(t *testing.T) {
	var p Policy
	s := Subject{RequestedBy: 0, Approval: "PENDING"}
	if p.Can(Actor{Role: Staff}, View, s) || p.Can(Actor{Role: Staff}, Cancel, s) {
		t.Error("an actor without id owns a refund without maker")
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"staff": Staff, " Manager ": Manager, "ADMIN": Admin} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "root", "managers", "staff\x00"} {
		if _, err := ParseRole(in); !errors.Is(err, ErrUnknownRole) {
			t.Errorf("ParseRole(%q) error = %v, want ErrUnknownRole", in, err)
		}
	}
	if got := RoleNames(); got != "staff, manager or admin" {
		t.Errorf("RoleNames() = %q", got)
	}
	for _, r := range Roles() {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
	}
}
