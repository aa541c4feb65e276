package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// handleGCRefund serves POST /v2/gc/refund-requests.
func (s *Sandbox) handleGCRefund(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		RequestID         string `json:"requestId"`
		CollectionOrderID string `json:"collectionOrderId"`
		FeeChargeWay      string `json:"feeChargeWay"`
		SubMerchantID     string `json:"subMerchantId"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.RequestID == "" || req.CollectionOrderID == "" ||
		(req.FeeChargeWay != "OUR" && req.FeeChargeWay != "BEN") {
		writeJSON(w, http.StatusOK, failEnvelope("VALIDATION_ERROR"))
		return
	}
	fp := fingerprint(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered(w, "GC", req.RequestID, fp, func() { writeJSON(w, http.StatusOK, failEnvelope("DUPLICATE_REQUEST_ID")) }) {
		return
	}
	env := s.gcAccept(req.RequestID, req.CollectionOrderID, req.FeeChargeWay, req.SubMerchantID)
	b, _ := json.Marshal(env)
	s.remember("GC", req.RequestID, fp, http.StatusOK, b)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// gcAccept validates and records a GC refund; call with s.mu held.
func (s *Sandbox) gcAccept(reqID, orderID, fee, sub string) envelope {
	o, ok := s.st.gcOrders[orderID]
	switch {
	case !ok:
		return failEnvelope("RESOURCE_NOT_FOUND")
	case o.Status != "PAID":
		return failEnvelope("ORDER_NOT_REFUNDABLE")
	case o.Outcome == OutcomeInsufficientBalance:
		return failEnvelope("INSUFFICIENT_BALANCE")
	}
	o.Status = "REFUND_PROCESS"
	n := s.nextSeq()
	ref := &gcRefund{Refund: Refund{API: "GC", RequestID: reqID, Target: o.ID,
		NeoRefundID: fmt.Sprintf("RF-%s-%09d", time.Now().UTC().Format("20060102"), n),
		Status:      "PROCESSING", Amount: o.Amount, Currency: o.Currency, CreatedAt: nowUTC()}, fee: fee, subMerchant: sub}
	s.st.gcRefs[reqID] = ref
	s.st.refunds = append(s.st.refunds, &ref.Refund)
	s.gcWebhook(o, ref, "Refund request received")
	s.background(func(ctx context.Context) { s.settleGC(ctx, o, ref) })
	return okEnvelope(map[string]any{"collectionOrderId": o.ID, "refundRequestId": ref.NeoRefundID, "status": "PROCESSING"})
}

func (s *Sandbox) settleGC(ctx context.Context, o *CollectionOrder, ref *gcRefund) {
	if !sleep(ctx, s.cfg.SettleDelay) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	note := "Refund completed"
	if o.Outcome == OutcomeFail {
		ref.Status, ref.FailedReason, o.Status = "FAILED", "Payer bank returned the transfer", "PAID"
		note = ref.FailedReason
	} else {
		ref.Status, o.Status = "SUCCESS", "REFUND_SUCCESS"
	}
	s.gcWebhook(o, ref, note)
}

// gcWebhook queues a signed GC REFUND event; call with s.mu held.
func (s *Sandbox) gcWebhook(o *CollectionOrder, ref *gcRefund, note string) {
	s.sendOpenAPIWebhook(hookGC, map[string]string{"refundRequestId": ref.NeoRefundID, "type": "REFUND",
		"merchantCode": s.cfg.MerchantCode, "collectionOrderId": o.ID, "amount": neox.FormatMinor(o.Amount, o.Currency),
		"currency": o.Currency, "status": ref.Status, "note": note, "createdAt": ref.CreatedAt.Format(time.RFC3339Nano)},
		s.cfg.GCWebhookSecret)
}

// handleGCOrder serves GET /v2/gc/collection-orders/{id} (assumed path).
func (s *Sandbox) handleGCOrder(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	o, ok := s.st.gcOrders[r.PathValue("id")]
	var data map[string]any
	if ok {
		data = map[string]any{"id": o.ID, "collectionOrderId": o.ID, "status": o.Status, "currency": o.Currency,
			"amount": neox.FormatMinor(o.Amount, o.Currency), "merchantCode": s.cfg.MerchantCode,
			"createdAt": o.CreatedAt.UTC().Format(time.RFC3339)}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, failEnvelope("RESOURCE_NOT_FOUND"))
		return
	}
	writeJSON(w, http.StatusOK, okEnvelope(data))
}
