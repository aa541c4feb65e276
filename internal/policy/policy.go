package policy

import (
	"fmt"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
)

// Action is something a user may ask to do: use a part of the desk, or act
// on one refund.
type Action string

// Actions on a part of the desk; they need no refund.
const (
	// RefundWork: look up transactions, open the refund form and the refund
	// pages, list refunds, and hear when NeoX stops answering.
	RefundWork Action = "refunds.work"
	// Request: record a new refund request.
	Request Action = "refund.request"
	// ViewAll: see every requester's refunds (lists, requester filter, the
	// desk's dashboard figures); without it a user sees their own.
	ViewAll Action = "refunds.view_all"
	// ViewApprovals: the approval queue.
	ViewApprovals Action = "approvals.view"
	// ViewAttention: refunds that need a person, suspicious notifications
	// and the COL sweep's findings.
	ViewAttention Action = "attention.view"
	// ViewAudit: the audit trail, its events and its verification.
	ViewAudit Action = "audit.view"
	// Export: the audit trail as CSV.
	Export Action = "audit.export"
	// ManageUsers: add, disable, enable users, reset passwords, set roles.
	ManageUsers Action = "users.manage"
	// ManageApprovalPolicy: change the approval rules and approver limits.
	ManageApprovalPolicy Action = "approval_policy.manage"
	// ManageAPIKeys: create, list and revoke the keys of /api/v1.
	ManageAPIKeys Action = "api_keys.manage"
	// ManageWebhooks: register and remove outbound webhook endpoints.
	ManageWebhooks Action = "webhooks.manage"
	// ViewDeliveries: the notification delivery log (emails and webhooks).
	ViewDeliveries Action = "deliveries.view"
	// BulkRequest: upload a file of refunds, preview it, submit its valid
	// rows as refund requests, and see one's own batches (the people who
	// may Request; each row is still a Request of its own).
	BulkRequest Action = "refunds.bulk_request"
)

// Actions on one refund; Decide reads the Subject for them.
const (
	View    Action = "refund.view"
	Cancel  Action = "refund.cancel"
	Approve Action = "refund.approve"
	Reject  Action = "refund.reject"
	// Resolve: record by hand the outcome NeoX's portal shows for a refund
	// that needs attention.
	Resolve Action = "refund.resolve"
)

// Actions lists every action, for tests that walk them all.
func Actions() []Action {
	return []Action{RefundWork, Request, ViewAll, ViewApprovals, ViewAttention, ViewAudit, Export, ManageUsers,
		ManageApprovalPolicy, ManageAPIKeys, ManageWebhooks, ViewDeliveries, BulkRequest, View, Cancel, Approve, Reject, Resolve}
}

// Actor is who asks: the signed-in user, or an API key (Role APIKey, with
// its Scopes; ID is then the key's id negated, so it is nobody's user id).
type Actor struct {
	ID     int64
	Role   Role
	Scopes Scopes // APIKey only
}

// Subject is the refund an action is about, as the rules read it.
type Subject struct {
	RequestedBy int64  // the maker's user id
	Approval    string // the in-house decision: PENDING, APPROVED, REJECTED, CANCELLED
	Submission  string // NeoX's side: NOT_SENT, QUEUED, SENDING, PROCESSING, UNKNOWN, SUCCEEDED, FAILED
	// NeedsAttention: no final answer from NeoX in time (refunds.Refund.NeedsAttention).
	NeedsAttention bool
	// For the approval policy: the limits per currency read the amount.
	API      string
	Amount   int64 // minor units
	Currency string
	// Required is how many distinct approvals the refund needs (snapshotted
	// when it was requested; 0 and 1 both mean one), ApprovedBy who gave
	// one so far.
	Required   int
	ApprovedBy []int64
}

// The states the rules read, spelled as package refunds stores them (its
// tests check that they agree).
const (
	approvalPending   = "PENDING"
	submissionRunning = "PROCESSING"
	submissionUnknown = "UNKNOWN"
)

// Reason says why an action is refused.
type Reason string

// Reasons.
const (
	ReasonRole     Reason = "role"          // the actor's role may not do this at all
	ReasonNotOwner Reason = "not_owner"     // only the refund's maker may (or: staff see only their own)
	ReasonSelf     Reason = "self_approval" // nobody decides a refund they requested
	ReasonState    Reason = "state"         // the refund is not in a state that allows it
	// ReasonSecond: this approver already gave one of the two approvals the
	// refund needs; the other must come from someone else.
	ReasonSecond Reason = "same_approver"
	// ReasonLimit: the amount is above this approver's limit in its
	// currency; someone allowed must approve.
	ReasonLimit Reason = "over_limit"
)

// Kinds of refusal: a *Denial unwraps to one of them.
var (
	// ErrForbidden: this person may not, whatever the refund's state.
	ErrForbidden = fault.New(fault.Forbidden, "policy: forbidden")
	// ErrConflict: the person may, but not in the refund's current state
	// (someone else acted first, or it is final).
	ErrConflict = fault.New(fault.Conflict, "policy: not in a state that allows this")
)

// Denial is a refusal with its reason.
type Denial struct {
	Action Action
	Role   Role
	Reason Reason
}

func (d *Denial) Error() string {
	return fmt.Sprintf("policy: %s may not %s (%s)", roleName(d.Role), d.Action, d.Reason)
}

// Unwrap gives the kind: ErrConflict for ReasonState, else ErrForbidden.
func (d *Denial) Unwrap() error {
	if d.Reason == ReasonState {
		return ErrConflict
	}
	return ErrForbidden
}

func roleName(r Role) string {
	if r == "" {
		return "no role"
	}
	return string(r)
}

// Policy holds the rules. The zero value is the desk's rules today:
// staff request refunds and see their own; managers also see everyone's,
// decide other people's pending refunds, resolve those that need
// attention and review the audit trail; admins manage users and nothing
// else. Approvals, when set, adds the approval policy in force: limits per
// approver (read by Decide) and rules per currency (read when a refund is
// requested, then snapshotted on it as Subject.Required).
type Policy struct {
	Approvals *Approvals
}

// With returns p deciding under the approval policy a.
func (p Policy) With(a Approvals) Policy {
	p.Approvals = &a
	return p
}

// Permits reports whether a's role may use action at all: a part of the
// desk, or an action on at least some refunds. The route table and the
// domain's first check use it; Decide also reads the refund.
func (p Policy) Permits(a Actor, action Action) bool {
	if a.Role == APIKey {
		return permitsKey(a.Scopes, action)
	}
	switch action {
	case RefundWork, Request, BulkRequest, View, Cancel:
		return a.Role == Staff || a.Role == Manager
	case ViewAll, ViewApprovals, ViewAttention, ViewAudit, Export, Approve, Reject, Resolve:
		return a.Role == Manager
	case ManageUsers, ManageApprovalPolicy, ManageAPIKeys, ManageWebhooks:
		return a.Role == Admin
	case ViewDeliveries:
		return a.Role == Manager || a.Role == Admin
	}
	return false
}

// Decide says whether a may do action to the refund s: nil, or a *Denial
// (errors.Is ErrForbidden or ErrConflict). The checks run in the order the
// answers matter to the person: role, then whose refund it is, then its
// state. For actions on a part of the desk s is not read.
func (p Policy) Decide(a Actor, action Action, s Subject) error {
	deny := func(r Reason) error { return &Denial{Action: action, Role: a.Role, Reason: r} }
	if !p.Permits(a, action) {
		return deny(ReasonRole)
	}
	own := a.ID != 0 && s.RequestedBy == a.ID
	switch action {
	case View:
		if !own && !p.Permits(a, ViewAll) {
			return deny(ReasonNotOwner)
		}
	case Cancel:
		// Only the maker withdraws a request, while it awaits a decision.
		if !own {
			return deny(ReasonNotOwner)
		}
		if s.Approval != approvalPending {
			return deny(ReasonState)
		}
	case Approve, Reject:
		// Maker–checker: someone else decides, while it is pending.
		if own {
			return deny(ReasonSelf)
		}
		if s.Approval != approvalPending {
			return deny(ReasonState)
		}
		if action == Approve {
			// Two approvals come from two people; each within their own
			// limit, as the policy in force now says.
			if s.approvedBy(a.ID) {
				return deny(ReasonSecond)
			}
			if p.Approvals != nil && !p.Approvals.WithinLimit(a.ID, s.Currency, s.Amount) {
				return deny(ReasonLimit)
			}
		}
	case Resolve:
		// Only while it needs attention and no NeoX call is running.
		if !s.NeedsAttention || (s.Submission != submissionRunning && s.Submission != submissionUnknown) {
			return deny(ReasonState)
		}
	}
	return nil
}

// Can reports whether Decide allows it.
func (p Policy) Can(a Actor, action Action, s Subject) bool { return p.Decide(a, action, s) == nil }
