package refunds

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// What happened to a webhook delivery.
const (
	HookApplied       = "applied"        // the refund was updated (or confirmed in its state)
	HookDuplicate     = "duplicate"      // the same event arrived before: nothing changed
	HookStale         = "stale"          // older than what we know (out of order, or after a final state)
	HookUnknownRefund = "unknown_refund" // no refund here matches: stored for review
)

// WebhookResult says which refund a delivery concerned and what it did.
type WebhookResult struct {
	RefundID string // "" for an unknown refund
	Applied  string // applied | duplicate | stale | unknown_refund
}

// ApplyPG applies a verified PG refund IPN. neo_ResponseCode 0 means the
// refund succeeded, 99 that it is processing, anything else that it failed
// (code and message kept verbatim). The event is identified by
// (neo_RequestID, neo_ResponseCode, neo_TransactionID).
func (s *Service) ApplyPG(ctx context.Context, ipn neox.PGRefundIPN, raw []byte) (WebhookResult, error) {
	code := strconv.Itoa(ipn.ResponseCode)
	h := hook{api: APIPG, ref: ipn.RequestID, status: code, raw: raw,
		key:  dedupeKey("PG", ipn.RequestID, code, ipn.TransactionID),
		find: func(ctx context.Context, tx *sql.Tx) (Refund, error) { return getRefund(ctx, tx, ipn.RequestID) },
		observe: func(r Refund) observation {
			ob := observation{code: code, message: ipn.ResponseMsg}
			if r.NeoXRefundID == "" {
				ob.neoxRefundID = ipn.TransactionID
			}
			switch ipn.ResponseCode {
			case 0:
				ob.to, ob.status = SubSucceeded, "SUCCESS"
			case 99:
				ob.to, ob.status = SubProcessing, "PROCESSING"
			default:
				ob.to, ob.status, ob.failedReason = SubFailed, "FAILED", ipn.ResponseMsg
			}
			return ob
		},
		details: map[string]any{"amount": ipn.Amount, "fee": ipn.Fee, "payment_id": ipn.PaymentID}}
	return s.applyHook(ctx, h)
}

// ApplyGC applies a verified GC REFUND event. GC events carry NeoX's
// refundRequestId, not ours: the refund is found by that id, or else by its
// collection order (GC refunds a whole order, so at most one refund of an
// order is ever live here). The event is identified by (refundRequestId,
// collectionOrderId, status).
func (s *Service) ApplyGC(ctx context.Context, ev neox.GCRefundEvent, raw []byte) (WebhookResult, error) {
	ref := ev.RefundRequestID
	if ref == "" {
		ref = ev.CollectionOrderID
	}
	h := hook{api: APIGC, ref: ref, status: ev.Status, raw: raw,
		key: dedupeKey("GC", ev.RefundRequestID, ev.CollectionOrderID, ev.Status),
		find: func(ctx context.Context, tx *sql.Tx) (Refund, error) {
			var list []Refund
			var err error
			if ev.RefundRequestID != "" {
				list, err = queryRefunds(ctx, tx, `WHERE api = 'GC' AND neox_refund_id = ? LIMIT 1`, ev.RefundRequestID)
			}
			if err == nil && len(list) == 0 && ev.CollectionOrderID != "" {
				list, err = queryRefunds(ctx, tx, `WHERE api = 'GC' AND transaction_ref = ? AND approval = 'APPROVED'
					ORDER BY (final_at = '') DESC, requested_at DESC LIMIT 1`, ev.CollectionOrderID)
			}
			if err != nil {
				return Refund{}, err
			}
			if len(list) == 0 {
				return Refund{}, ErrNotFound
			}
			return list[0], nil
		},
		observe: func(Refund) observation {
			ob := observation{to: gcStatusObservation(ev.Status), neoxRefundID: ev.RefundRequestID, status: ev.Status,
				message: ev.Note}
			if ob.to == SubFailed {
				ob.failedReason = ev.Note
			}
			return ob
		},
		details: map[string]any{"amount": ev.Amount, "currency": ev.Currency, "collection_order_id": ev.CollectionOrderID}}
	return s.applyHook(ctx, h)
}

// ApplyCOL applies a verified COL REFUND event: approvalStatus REJECTED or
// status FAILED fail the refund (note and failedReason verbatim), status
// SUCCESS completes it, anything else confirms it is processing. The event
// is identified by (requestId, approvalStatus, status).
func (s *Service) ApplyCOL(ctx context.Context, ev neox.COLRefundEvent, raw []byte) (WebhookResult, error) {
	h := hook{api: APICOL, ref: ev.RequestID, status: joinStatus(ev.ApprovalStatus, ev.Status), raw: raw,
		key:  dedupeKey("COL", ev.RequestID, ev.ApprovalStatus, ev.Status),
		find: func(ctx context.Context, tx *sql.Tx) (Refund, error) { return getRefund(ctx, tx, ev.RequestID) },
		observe: func(r Refund) observation {
			if ev.ApprovalStatus == "PENDING" && ev.Status == "" && r.NeoXApprovalStatus != "" && r.NeoXApprovalStatus != "PENDING" {
				return observation{} // NeoX decided already: an older event
			}
			return colObservation(ev.ApprovalStatus, ev.Status, "", ev.Note, ev.FailedReason, "")
		},
		details: map[string]any{"amount": ev.Amount, "collection_trans_id": ev.CollectionTransID}}
	return s.applyHook(ctx, h)
}

func joinStatus(approval, status string) string {
	if status == "" {
		return approval
	}
	return approval + "/" + status
}

type hook struct {
	api     API
	key     string
	ref     string // the id the event carried
	status  string
	raw     []byte
	find    func(context.Context, *sql.Tx) (Refund, error)
	observe func(Refund) observation
	details map[string]any
}

// dedupeKey identifies an event by what it says, not by its bytes, so a
// redelivery with reordered fields or another createdAt is still a duplicate.
func dedupeKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// applyHook dedupes, stores and applies one delivery in one transaction.
func (s *Service) applyHook(ctx context.Context, h hook) (WebhookResult, error) {
	var res WebhookResult
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res = WebhookResult{}
		now := fmtTime(s.now())
		var evID int64
		var refundID sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, refund_id FROM webhook_events WHERE dedupe_key = ?`, h.key).
			Scan(&evID, &refundID)
		switch {
		case err == nil:
			res = WebhookResult{RefundID: refundID.String, Applied: HookDuplicate}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET deliveries = deliveries + 1,
				last_received_at = ? WHERE id = ?`, now, evID); err != nil {
				return err
			}
			return s.auditHook(ctx, tx, h, res)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("refunds: webhook dedupe: %w", err)
		}

		r, err := h.find(ctx, tx)
		switch {
		case errors.Is(err, ErrNotFound):
			res.Applied = HookUnknownRefund
		case err != nil:
			return err
		default:
			res.RefundID = r.ID
			ob := h.observe(r)
			switch {
			case r.Approval != ApprovalApproved || isFinalSub(r.Submission):
				res.Applied = HookStale
			case ob.to != "" && (forward(r.Submission, ob.to) || ob.to == r.Submission):
				res.Applied = HookApplied
				if _, err := s.advance(ctx, tx, r, ob, "neox", "webhook"); err != nil {
					return err
				}
			default:
				res.Applied = HookStale
			}
		}
		var rid any
		if res.RefundID != "" {
			rid = res.RefundID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (api, dedupe_key, refund_id, event_ref, event_status,
			received_at, last_received_at, verified, applied, raw_body) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
			string(h.api), h.key, rid, h.ref, h.status, now, now, res.Applied, maskBody(h.raw)); err != nil {
			return fmt.Errorf("refunds: store webhook: %w", err)
		}
		return s.auditHook(ctx, tx, h, res)
	})
	if err != nil {
		return WebhookResult{}, err
	}
	if res.Applied == HookUnknownRefund {
		s.log.Warn("refunds: webhook for an unknown refund", "api", h.api, "ref", h.ref, "status", h.status)
	}
	return res, nil
}

func (s *Service) auditHook(ctx context.Context, tx *sql.Tx, h hook, res WebhookResult) error {
	d := map[string]any{"api": string(h.api), "applied": res.Applied, "event_ref": h.ref, "event_status": h.status,
		"verified": true}
	for k, v := range h.details {
		d[k] = v
	}
	e := audit.Event{ActorName: "neox", Action: audit.ActionWebhookReceived, Outcome: audit.OutcomeSuccess,
		TargetType: "refund", TargetID: res.RefundID, Details: d}
	if res.RefundID == "" {
		e.Outcome, e.TargetType, e.TargetID = audit.OutcomeUnknown, "webhook", h.ref
	}
	return s.rec.Record(ctx, tx, e)
}

// accountField matches JSON string members whose key names an account
// number or the PG receiver blob, so their values can be masked.
var accountField = regexp.MustCompile(`(?i)("[a-z_]*(?:accountnumber|account_number|receiver)"\s*:\s*")([^"]*)(")`)

// maskBody masks bank account numbers in a raw webhook body, keeping the
// rest byte for byte.
func maskBody(raw []byte) string {
	return accountField.ReplaceAllStringFunc(string(raw), func(m string) string {
		p := accountField.FindStringSubmatch(m)
		return p[1] + maskAccount(p[2]) + p[3]
	})
}
