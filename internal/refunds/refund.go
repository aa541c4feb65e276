// Package refunds is the refund domain: validation and refundable-amount
// rules, the two status axes (in-house approval, submission to NeoX), the
// submission worker (a transactional outbox with retries and
// reconciliation) and the application of NeoX webhooks.
//
// A refund's id is a UUID minted once by Create; it is also the NeoX
// requestId, committed before the first call and reused on every retry, so
// NeoX's de-duplication holds across timeouts and crashes.
//
// Decisions where NeoX's docs are silent or vague:
//
//   - Amounts: see ParseAmount (VND, thousands separators, no decimals).
//   - Refundable = paid − refunded (NeoX, live) − reserved here, where
//     reserved counts pending refunds and approved ones not yet final. A
//     PROCESSING refund NeoX already counts in refundedAmount is counted
//     twice: the rule errs towards refusing, never towards over-refunding.
//   - PG: a REFUND answer with code 0 or 99 means PROCESSING; the IPN
//     (neo_ResponseCode 0 → SUCCEEDED, 99 → PROCESSING, other → FAILED)
//     settles it, or, failing that, polling QUERY_PT (see pgSettled).
//   - "Request id already held" answers (PG code 19, DUPLICATE_REQUEST_ID)
//     mean NeoX has the refund: PROCESSING, settled by webhook or polling.
//   - GC: the answer's status is final when SUCCESS or FAILED; reconcile
//     and polling read the collection order (REFUND_PROCESS → PROCESSING,
//     REFUND_SUCCESS → SUCCEEDED). GC webhooks carry NeoX's refund id, so
//     they are matched by it or by the collection order.
//   - COL: approvalStatus REJECTED or status FAILED → FAILED (note and
//     failedReason verbatim), status SUCCESS → SUCCEEDED, else PROCESSING.
//   - Webhook dedupe key: see dedupeKey; repeated deliveries bump a counter
//     on the stored event and are audited, nothing else changes.
package refunds

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// API names a NeoX product.
type API string

// The NeoX products a refund can go through.
const (
	APIPG  API = "PG"
	APIGC  API = "GC"
	APICOL API = "COL"
)

// Actor is the signed-in user acting on a refund.
type Actor struct {
	ID   int64
	Name string
	Role policy.Role
	// Scopes are an API key's (Role policy.APIKey; ID is then minus the
	// key's id).
	Scopes policy.Scopes
	// Lang is the language of the actor's session: NeoX calls made while
	// they wait (an approval re-asks NeoX for live numbers) ask NeoX to
	// answer in it (see neox.Lang).
	Lang string
}

// In-house approval states.
const (
	ApprovalPending   = "PENDING"
	ApprovalApproved  = "APPROVED"
	ApprovalRejected  = "REJECTED"
	ApprovalCancelled = "CANCELLED"
)

// Submission states (sending to NeoX and NeoX's outcome).
const (
	SubNotSent    = "NOT_SENT"
	SubQueued     = "QUEUED"
	SubSending    = "SENDING"
	SubProcessing = "PROCESSING"
	SubSucceeded  = "SUCCEEDED"
	SubFailed     = "FAILED"
	SubUnknown    = "UNKNOWN"
)

// Errors returned by the Service, each of a kind the handlers render
// (internal/fault): 404, 409, 403, 403; ErrNotConfigured is a conflict
// with the desk's configuration (the lookup page says so in its place).
var (
	ErrNotFound      = fault.New(fault.NotFound, "refund not found")
	ErrConflict      = fault.New(fault.Conflict, "refund is not in a state that allows this")
	ErrSelfApproval  = fault.New(fault.Forbidden, "nobody may decide on a refund they requested")
	ErrForbidden     = fault.New(fault.Forbidden, "not allowed for this role")
	ErrNotConfigured = fault.New(fault.Conflict, "this NeoX product is not configured")
	// ErrOverLimit: the amount is above the approver's limit in its
	// currency (the approval policy in force at the decision).
	ErrOverLimit = fault.New(fault.Forbidden, "the amount is above this approver's limit")
	// ErrSameApprover: this approver gave the first of two approvals; the
	// second must come from someone else.
	ErrSameApprover = fault.New(fault.Forbidden, "the second approval must come from another approver")
)

// ValidationError carries a message per form field (a catalogue key with
// its values; internal/fault). Field names: api, transaction_ref,
// payment_id, amount, reason_code, reason_text, fee_charge_way,
// sub_merchant_id, bank_swift, bank_account_number, bank_account_name,
// bank_branch, note, outcome, ref, sort, approval, submission, on, cursor.
type ValidationError struct {
	Fields fault.Fields
}

// Error summarises the fields in English, in a stable order, for logs.
func (e *ValidationError) Error() string { return "invalid refund: " + e.Fields.Summary() }

// Format is a message with its values kept apart.
type Format = product.Format

// Kind is fault.Invalid.
func (e *ValidationError) Kind() fault.Kind { return fault.Invalid }

// FieldMessages returns the field messages (fault.FieldError).
func (e *ValidationError) FieldMessages() fault.Fields { return e.Fields }

func invalid(field string, msg fault.Msg) *ValidationError {
	return &ValidationError{Fields: fault.Fields{field: msg}}
}

// IsValidation reports whether err is a *ValidationError and returns it.
func IsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v)
	return v, ok
}

// Refund is one refund request and everything known about its outcome.
// BankAccountNumber is the full number as stored; display code uses
// MaskedAccount.
type Refund struct {
	ID                 string
	API                API
	TransactionRef     string // PG transaction id, GC collectionOrderId, COL collectionTransId
	PaymentID          string // PG payment id
	Amount             int64  // minor units of Currency
	Currency           string
	PaymentMethod      string // PG: QR | ATM | CC
	ReasonCode         string
	ReasonText         string
	FeeChargeWay       string // GC: OUR | BEN
	SubMerchantID      string
	BankSwift          string
	BankAccountNumber  string
	BankAccountName    string
	BankBranch         string
	RequestedBy        int64
	RequestedByName    string
	RequestedAt        time.Time
	Approval           string
	Submission         string
	DecidedBy          int64
	DecidedByName      string
	DecisionNote       string
	DecidedAt          time.Time
	NeoXRefundID       string
	NeoXApprovalStatus string
	NeoXStatus         string
	NeoXCode           string
	NeoXMessage        string
	NeoXResponseID     string
	FailedReason       string
	LastError          string
	Attempts           int
	NextAttemptAt      time.Time
	UpdatedAt          time.Time
	FinalAt            time.Time
	// Lang is the language of the maker's session when they asked
	// (NewRequest.Lang): the worker's NeoX calls pass it to the product as
	// Accept-Language, so NeoX's messages come back in the maker's language.
	Lang string

	// Needs attention: AttentionSince is when the worker handed the refund
	// to a person ("" never), AttentionReason why (AttentionNoFinalAnswer,
	// AttentionUnknownAfterRetries). It is kept after the refund becomes
	// final, as history; the queue lists only refunds still not final.
	AttentionSince  time.Time
	AttentionReason string
	// Manual resolution: ResolvedAt non-zero means the final state was set
	// by the manager ResolvedBy from what NeoX's portal showed, not by NeoX.
	ResolvedBy     int64
	ResolvedByName string
	ResolvedAt     time.Time
	ResolutionNote string
	ResolutionRef  string // NeoX's reference for the refund, as the manager read it

	// The approval rule that applied when the refund was requested
	// (snapshotted; later policy changes never touch it), and the
	// approvals given so far, in order. Refunds from before approval
	// policies: version 0, one approval.
	Rule      policy.Snapshot
	Approvals []Approval

	refundedBase int64 // PG: payment refundedAmount before the first send, -1 unknown
	baseAt       time.Time
}

// Approval is one approval a refund received.
type Approval struct {
	Step       int
	By         int64
	ByName     string
	Role       policy.Role
	Note       string
	ApprovedAt time.Time
}

// Required is how many approvals the refund needs: 0 when the policy
// approved it itself, else 1 or 2.
func (r Refund) Required() int { return r.Rule.Required }

// ByPolicy reports whether the approval policy approved the refund itself
// (its amount was at most the rule's auto-approve floor).
func (r Refund) ByPolicy() bool { return r.Rule.Required == 0 && r.Approval != ApprovalPending }

// AwaitingSecond reports whether the refund has one of the two approvals it
// needs.
func (r Refund) AwaitingSecond() bool {
	return r.Approval == ApprovalPending && r.Rule.Required >= 2 && len(r.Approvals) == 1
}

// Final reports whether nothing more will happen to the refund: rejected,
// cancelled, or NeoX's outcome is SUCCEEDED or FAILED.
func (r Refund) Final() bool {
	return r.Approval == ApprovalRejected || r.Approval == ApprovalCancelled ||
		r.Submission == SubSucceeded || r.Submission == SubFailed
}

// InFlight reports whether the refund is approved and NeoX's outcome is not
// final yet (queued, sending, processing or unknown): the detail page keeps
// refreshing while it is true.
func (r Refund) InFlight() bool {
	return r.Approval == ApprovalApproved && !r.Final()
}

// reserves reports whether the amount still counts against what can be
// refunded: pending, or approved and not final. A SUCCEEDED refund is
// counted by NeoX's own refundedAmount instead.
func (r Refund) reserves() bool { return !r.Final() }

// MaskedAccount returns the bank account number with all but the last four
// characters replaced by '•'.
func (r Refund) MaskedAccount() string { return maskAccount(r.BankAccountNumber) }

func maskAccount(s string) string {
	rs := []rune(s)
	if len(rs) <= 4 {
		return strings.Repeat("•", len(rs))
	}
	return strings.Repeat("•", len(rs)-4) + string(rs[len(rs)-4:])
}

// Attempt is one claim of a refund by the submission worker.
type Attempt struct {
	N              int
	StartedAt      time.Time
	FinishedAt     time.Time // zero while the call runs
	Outcome        string    // success | rejected | unknown | reconciled | interrupted
	NeoXCode       string
	NeoXMessage    string
	NeoXResponseID string
	LatencyMS      int64
}

// WebhookEvent is a stored webhook (raw body with account numbers masked).
type WebhookEvent struct {
	ID             int64
	API            API
	RefundID       string // "" when the refund is unknown
	EventRef       string // the id the event carried
	EventStatus    string
	ReceivedAt     time.Time
	LastReceivedAt time.Time
	Deliveries     int
	Verified       bool
	Applied        string
	Reason         string // why a suspicious delivery was refused (Reason…)
	RawBody        string
}

func conflict(r Refund) error {
	return fmt.Errorf("%w: approval %s, submission %s", ErrConflict, r.Approval, r.Submission)
}
