package policy

import (
	"errors"
	"testing"
)

// TestAPIKeyPermits: an API key may request with scope create and read
// with scope read, and nothing else, whatever the refund's state or owner.
func TestAPIKeyPermits(t *testing.T) {
	var p Policy
	want := map[Scopes][]Action{
		0:                       nil,
		ScopeRead:               {RefundWork, View, ViewAll},
		ScopeCreate:             {Request},
		ScopeRead | ScopeCreate: {RefundWork, View, ViewAll, Request},
		0xff:                    {RefundWork, View, ViewAll, Request},
	}
	const key = -3
	for scopes, actions := range want {
		allowed := map[Action]bool{}
		for _, a := range actions {
			allowed[a] = true
		}
		a := Actor{ID: key, Role: APIKey, Scopes: scopes}
		for _, action := range Actions() {
			if got := p.Permits(a, action); got != allowed[action] {
				t.Errorf("Permits(key %s, %s) = %v, want %v", scopes, action, got, allowed[action])
			}
			for _, ap := range approvals {
				for _, sub := range submissions {
					for _, maker := range []int64{key, 8} {
						s := Subject{RequestedBy: maker, Approval: ap, Submission: sub, NeedsAttention: true, Currency: "VND", Amount: 1}
						err := p.Decide(a, action, s)
						if (err == nil) != allowed[action] {
							t.Errorf("Decide(key %s, %s, %s/%s by %d) = %v", scopes, action, ap, sub, maker, err)
						}
						if err != nil && !errors.Is(err, ErrForbidden) {
							t.Errorf("Decide(key %s, %s): %v is not ErrForbidden", scopes, action, err)
						}
					}
				}
			}
		}
	}
	// Under an approval policy that would let anyone approve anything.
	ap := p.With(Approvals{Rules: []Rule{{Currency: "VND", AutoUpTo: 1 << 40}}})
	for _, action := range []Action{Approve, Reject, Resolve, Export, Cancel, ManageAPIKeys, ManageUsers} {
		if ap.Can(Actor{ID: -1, Role: APIKey, Scopes: 0xff}, action, Subject{Approval: "PENDING", NeedsAttention: true, Submission: "UNKNOWN"}) {
			t.Errorf("an API key may %s", action)
		}
	}
}

func TestAPIKeyIsNoUserRole(t *testing.T) {
	if APIKey.Valid() {
		t.Error("APIKey is a valid user role")
	}
	if _, err := ParseRole("apikey"); err == nil {
		t.Error("ParseRole accepts apikey")
	}
}

func TestParseScopes(t *testing.T) {
	for in, want := range map[string]Scopes{"read": ScopeRead, "create": ScopeCreate, "read create": ScopeRead | ScopeCreate, " CREATE,read ": ScopeRead | ScopeCreate} {
		if got, err := ParseScopes(in); err != nil || got != want {
			t.Errorf("ParseScopes(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", " ", "approve", "read admin"} {
		if _, err := ParseScopes(in); err == nil {
			t.Errorf("ParseScopes(%q) accepted", in)
		}
	}
	if s := (ScopeRead | ScopeCreate).String(); s != "read create" {
		t.Errorf("String() = %q", s)
	}
}
