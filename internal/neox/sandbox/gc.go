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
	case !ok || !o.visibleTo(sub):
		return failEnvelope("RESOURCE_NOT_FOUND")
	case o.Status != "SUCCESS":
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
		ref.Status, ref.FailedReason, o.Status = "FAILED", "Payer bank returned the transfer", "SUCCESS"
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

// handleGCOrder serves GET /v2/gc/collection-orders/{collectionOrderId}
// with the documented data fields, no more: amounts are JSON numbers in
// major units. An order of a sub-merchant is found only when the request
// names it in subMerchantId.
func (s *Sandbox) handleGCOrder(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	o, ok := s.st.gcOrders[r.PathValue("id")]
	ok = ok && o.visibleTo(r.URL.Query().Get("subMerchantId"))
	var data map[string]any
	if ok {
		data = s.gcOrderData(o)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, failEnvelope("RESOURCE_NOT_FOUND"))
		return
	}
	writeJSON(w, http.StatusOK, okEnvelope(data))
}

// visibleTo reports whether a call naming subMerchantId sub may see the
// order: an order of a sub-merchant only with that id, others always.
func (o *CollectionOrder) visibleTo(sub string) bool {
	return o.SubMerchantID == "" || o.SubMerchantID == sub
}

// gcOrderData is the documented data object of an order; call with s.mu held.
func (s *Sandbox) gcOrderData(o *CollectionOrder) map[string]any {
	merchant, typ, payCur := o.MerchantID, o.OrderType, o.PayCurrency
	if merchant == "" {
		merchant = s.cfg.MerchantCode
	}
	if typ == "" {
		typ = "TRADE_COLLECTION"
	}
	if payCur == "" {
		payCur = o.Currency
	}
	return map[string]any{"requestId": o.RequestID, "orderId": o.ID, "merchantId": merchant,
		"amount": json.Number(neox.FormatMinor(o.Amount, o.Currency)), "payAmount": json.Number(neox.FormatMinor(o.PayAmount, payCur)),
		"currency": o.Currency, "payCurrency": payCur, "orderType": typ, "status": o.Status, "recBankCode": o.RecBankCode}
}
