package refunds

import (
	"context"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// observation is what NeoX said about a refund (an answer, a query or a
// webhook), mapped onto the submission axis. Empty fields leave the
// stored values alone.
type observation struct {
	to             string // PROCESSING | SUCCEEDED | FAILED; "" = no state information
	neoxRefundID   string
	approvalStatus string
	status         string
	code           string
	message        string
	responseID     string
	failedReason   string
}

// forward reports whether NeoX's word may move a refund from one
// submission state to another. Final states never change; nothing moves
// back; a refund that was never sent cannot be moved by NeoX.
func forward(from, to string) bool {
	switch from {
	case SubQueued, SubSending, SubUnknown:
		return to == SubProcessing || to == SubSucceeded || to == SubFailed
	case SubProcessing:
		return to == SubSucceeded || to == SubFailed
	}
	return false
}

func isFinalSub(s string) bool { return s == SubSucceeded || s == SubFailed }

// advance applies ob to r (read inside tx): NeoX fields are updated, and the
// state moves if the move is forward. It reports whether the state moved.
// actor is "system" (worker) or "neox" (webhook).
func (s *Service) advance(ctx context.Context, tx *store.Tx, r Refund, ob observation, actor, cause string) (bool, error) {
	to := r.Submission
	if ob.to != "" && forward(r.Submission, ob.to) {
		to = ob.to
	}
	if isFinalSub(r.Submission) {
		return false, nil // final: nothing changes, not even the NeoX fields
	}
	now := tx.Now()
	next, final := r.NextAttemptAt, r.FinalAt
	switch {
	case isFinalSub(to):
		next, final = time.Time{}, now
	case to == SubProcessing && r.Submission != SubProcessing:
		next = now.Add(s.pollDelay(r))
	}
	lastErr := r.LastError
	if to != r.Submission {
		lastErr = ""
	}
	ok, err := tx.Transition(ctx, r.ID, r.Submission, store.SubmissionChange{To: to, NeoXRefundID: ob.neoxRefundID,
		ApprovalStatus: ob.approvalStatus, Status: ob.status, Code: ob.code, Message: ob.message,
		ResponseID: ob.responseID, FailedReason: ob.failedReason, LastError: lastErr, NextAttemptAt: next, FinalAt: final})
	if err := changed(ok, err, r); err != nil {
		return false, err
	}
	moved := to != r.Submission
	if moved {
		if err := s.auditState(ctx, tx, r, r.Submission, to, actor, cause, ob); err != nil {
			return false, err
		}
	}
	if r.NeoXRefundID == "" && ob.neoxRefundID != "" {
		// NeoX just told us its refund id: events it sent before are ours.
		if p, ok := s.products.Get(string(r.API)); ok {
			if rp, ok := p.(product.Replayer); ok {
				if err := s.adoptHeld(ctx, tx, r.API, rp, r.ID, ob.neoxRefundID); err != nil {
					return false, err
				}
			}
		}
	}
	return moved, nil
}

func (s *Service) auditState(ctx context.Context, tx *store.Tx, r Refund, from, to, actor, cause string, ob observation) error {
	outcome := audit.OutcomeSuccess
	switch to {
	case SubFailed:
		outcome = audit.OutcomeFailure
	case SubUnknown:
		outcome = audit.OutcomeUnknown
	}
	d := map[string]any{"api": string(r.API), "from": from, "to": to, "cause": cause}
	for k, v := range map[string]string{"neox_refund_id": ob.neoxRefundID, "neox_status": ob.status,
		"neox_approval_status": ob.approvalStatus, "neox_code": ob.code, "neox_message": ob.message,
		"neo_response_id": ob.responseID, "failed_reason": ob.failedReason} {
		if v != "" {
			d[k] = v
		}
	}
	return s.rec.Record(ctx, tx, audit.Event{ActorName: actor, Action: audit.ActionRefundState, Outcome: outcome,
		TargetType: "refund", TargetID: r.ID, Details: d})
}

func (o observation) String() string {
	return fmt.Sprintf("to=%s status=%s approval=%s code=%s", o.to, o.status, o.approvalStatus, o.code)
}
