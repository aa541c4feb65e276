package refunds

import (
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// TestSubjectStates: the policy spells the states it reads itself (it
// imports nothing); this checks that it reads this package's states as
// meant, through Subject.
func TestSubjectStates(t *testing.T) {
	var p policy.Policy
	mine := Refund{RequestedBy: staff.ID, Approval: ApprovalPending, Submission: SubNotSent}
	if !p.Can(staff.Policy(), policy.Cancel, mine.Subject()) || !p.Can(manager.Policy(), policy.Approve, mine.Subject()) {
		t.Error("a pending refund is not pending to the policy")
	}
	for _, sub := range []string{SubProcessing, SubUnknown} {
		r := Refund{RequestedBy: staff.ID, Approval: ApprovalApproved, Submission: sub, AttentionSince: time.Now()}
		if !r.NeedsAttention() || !p.Can(manager.Policy(), policy.Resolve, r.Subject()) {
			t.Errorf("%s in needs attention cannot be resolved", sub)
		}
	}
	for _, sub := range []string{SubQueued, SubSending, SubSucceeded, SubFailed} {
		r := Refund{RequestedBy: staff.ID, Approval: ApprovalApproved, Submission: sub, AttentionSince: time.Now()}
		if p.Can(manager.Policy(), policy.Resolve, r.Subject()) {
			t.Errorf("%s can be resolved", sub)
		}
	}
}

// TestAllowErrors: the policy's refusals become the Service's errors,
// with the reason kept.
func TestAllowErrors(t *testing.T) {
	s := &Service{}
	pending := Refund{ID: "r1", RequestedBy: staff.ID, Approval: ApprovalPending}
	decided := Refund{ID: "r2", RequestedBy: staff.ID, Approval: ApprovalRejected}
	tests := []struct {
		name   string
		actor  Actor
		action policy.Action
		r      Refund
		want   error
		reason policy.Reason
	}{
		{"maker cancels", staff, policy.Cancel, pending, nil, ""},
		{"other cancels", staff2, policy.Cancel, pending, ErrForbidden, policy.ReasonNotOwner},
		{"admin cancels", Actor{ID: staff.ID, Role: policy.Admin}, policy.Cancel, pending, ErrForbidden, policy.ReasonRole},
		{"cancel decided", staff, policy.Cancel, decided, ErrConflict, ""},
		{"staff approves", staff2, policy.Approve, pending, ErrForbidden, policy.ReasonRole},
		{"maker approves", Actor{ID: staff.ID, Role: policy.Manager}, policy.Approve, pending, ErrSelfApproval, policy.ReasonSelf},
		{"approve decided", manager, policy.Approve, decided, ErrConflict, ""},
		{"manager approves", manager, policy.Approve, pending, nil, ""},
	}
	for _, tt := range tests {
		err := s.allow(tt.actor, tt.action, tt.r)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		var d *policy.Denial
		if tt.reason != "" && (!errors.As(err, &d) || d.Reason != tt.reason) {
			t.Errorf("%s: %v, want reason %s", tt.name, err, tt.reason)
		}
	}
	if err := s.permit(admin, policy.Request); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin may request: %v", err)
	}
}
