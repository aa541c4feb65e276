package audit

import (
	"context"
	"time"
)

// Event is one audited fact. Record sets Time from the Log's clock (a value
// set by the caller is ignored, so nobody can backdate an event), and fills
// the origin fields (actor, IP, user agent, request id) from the context
// when they are empty.
type Event struct {
	Time       time.Time
	ActorID    int64  // 0 for system or neox
	ActorName  string // username snapshot, or "system" / "neox"
	ActorRole  string
	Action     string // one of the Action* constants
	Outcome    string // one of the Outcome* constants
	TargetType string // "user", "refund", "session", "webhook", "config", "audit"
	TargetID   string
	ClientIP   string
	UserAgent  string
	RequestID  string
	// Details is stored as JSON. Keys that look secret are redacted and
	// bank account numbers masked by Record; callers should still not pass them.
	Details map[string]any
}

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
	OutcomeUnknown = "unknown"
)

// Actions recorded by the application.
const (
	ActionLogin          = "auth.login"
	ActionLoginFailed    = "auth.login_failed"
	ActionLoginThrottled = "auth.login_throttled"
	ActionLogout         = "auth.logout"
	ActionSessionRevoked = "auth.sessions_revoked"
	ActionPasswordChange = "auth.password_changed"

	ActionUserCreated       = "user.created"
	ActionUserDisabled      = "user.disabled"
	ActionUserEnabled       = "user.enabled"
	ActionUserPasswordReset = "user.password_reset"
	ActionUserRoleChanged   = "user.role_changed"

	// Two-factor sign-in (auth/secondfactor.go). None ever carries a
	// secret, a code or a link's token.
	ActionMFAVerified      = "auth.mfa_verified"      // the second step of a sign-in
	ActionMFAFailed        = "auth.mfa_failed"        // a wrong, reused or throttled code at sign-in
	ActionMFAEnrolled      = "mfa.enrolled"           // an authenticator confirmed (or a wrong confirming code)
	ActionMFADisabled      = "mfa.disabled"           // turned off by its owner
	ActionMFAReset         = "mfa.reset"              // removed by an admin or the CLI
	ActionMFARecoveryUsed  = "mfa.recovery_code_used" // a recovery code used up
	ActionMFAStepUp        = "mfa.step_up"            // a code asked for before approving above the limit
	ActionMFAEnrolLink     = "mfa.enrol_link_issued"  // an admin-issued enrolment link
	ActionMFAEnrolLinkUsed = "mfa.enrol_link_used"    // an enrolment link opened
	ActionMFAPolicy        = "mfa.policy_changed"     // the roles that must use a second factor
	ActionMFAKeyAdded      = "mfa.key_added"          // a security key or passkey registered
	ActionMFAKeyRemoved    = "mfa.key_removed"        // a security key removed by its owner
	ActionMFAKeyUsed       = "mfa.key_used"           // a security key used to sign in

	ActionRefundRequested = "refund.requested"
	ActionRefundApproved  = "refund.approved"
	ActionRefundRejected  = "refund.rejected"
	ActionRefundCancelled = "refund.cancelled"
	ActionRefundState     = "refund.state_changed"
	// ActionRefundApprovalGiven: the first of the two approvals a refund
	// needs (it stays pending); ActionRefundApproved is the one that
	// completes them, or the approval policy's own below its floor.
	ActionRefundApprovalGiven = "refund.approval_given"
	// ActionApprovalPolicyChanged: an admin stored a new version of the
	// approval policy.
	ActionApprovalPolicyChanged = "approval_policy.changed"
	// API keys of /api/v1 (internal/apikeys). None ever carries a key.
	ActionAPIKeyCreated = "apikey.created"
	ActionAPIKeyRevoked = "apikey.revoked"
	ActionAPIKeyUsed    = "apikey.used" // every authenticated API request
	// ActionRefundNeedsAttention: the worker handed a refund with no final
	// answer to a person; ActionRefundResolved: a manager settled it from
	// what NeoX's portal showed (a manual decision, not NeoX's word).
	ActionRefundNeedsAttention = "refund.needs_attention"
	ActionRefundResolved       = "refund.resolved_manually"
	ActionCOLSweep             = "neox.col_sweep" // a daily comparison of NeoX's COL refund list with the desk

	ActionNeoXCall        = "neox.call"
	ActionWebhookReceived = "webhook.received"
	ActionConfigStartup   = "config.startup"
	ActionAuditExport     = "audit.exported"
	ActionRefundsExport   = "refunds.exported" // a refunds list downloaded as CSV
	ActionAuditCheckpoint = "audit.checkpoint"
	ActionBatchUploaded   = "batch.uploaded"  // a refund file previewed and kept as a batch
	ActionBatchSubmitted  = "batch.submitted" // a batch's valid rows made into refund requests

	// ActionAccessDenied is a request refused by the app's rules: a role
	// without access (403), a cross-origin form post, another user's
	// refund, self-approval, a decision that lost a race (409).
	// details.reason says which, details.method and details.path the
	// request. Recorded through a Limiter.
	ActionAccessDenied = "access.denied"
)

// Origin says who is acting and from where; handlers put it in the request
// context so domain code can record events without knowing about HTTP.
type Origin struct {
	ActorID   int64
	ActorName string
	ActorRole string
	ClientIP  string
	UserAgent string
	RequestID string
}

type originKey struct{}

// WithOrigin returns a context carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin stored in ctx, if any.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

// fillOrigin copies origin fields from ctx into e where e leaves them empty.
func (e *Event) fillOrigin(ctx context.Context) {
	o, ok := OriginFrom(ctx)
	if !ok {
		return
	}
	if e.ActorID == 0 && e.ActorName == "" {
		e.ActorID, e.ActorName, e.ActorRole = o.ActorID, o.ActorName, o.ActorRole
	}
	if e.ClientIP == "" {
		e.ClientIP = o.ClientIP
	}
	if e.UserAgent == "" {
		e.UserAgent = o.UserAgent
	}
	if e.RequestID == "" {
		e.RequestID = o.RequestID
	}
}
