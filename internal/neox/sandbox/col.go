package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// handleCOLRefund serves POST /v2/col/refund-requests.
func (s *Sandbox) handleCOLRefund(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		RequestID         string          `json:"requestId"`
		CollectionTransID string          `json:"collectionTransId"`
		Amount            json.RawMessage `json:"amount"`
		BankSwiftCode     string          `json:"bankSwiftCode"`
		BankAccountNumber string          `json:"bankAccountNumber"`
		BankAccountName   string          `json:"bankAccountName"`
		BankBranch        string          `json:"bankBranch"`
	}
	err := json.Unmarshal(body, &req)
	amount, aerr := strconv.ParseInt(string(req.Amount), 10, 64)
	if err != nil || aerr != nil || req.RequestID == "" || req.CollectionTransID == "" || amount <= 0 {
		writeJSON(w, http.StatusOK, failEnvelope("VALIDATION_ERROR"))
		return
	}
	fp := fingerprint(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered(w, "COL", req.RequestID, fp, func() { writeJSON(w, http.StatusOK, failEnvelope("DUPLICATE_REQUEST_ID")) }) {
		return
	}
	env := s.colAccept(req.RequestID, req.CollectionTransID, amount,
		[4]string{req.BankSwiftCode, req.BankAccountNumber, req.BankAccountName, req.BankBranch})
	b, _ := json.Marshal(env)
	s.remember("COL", req.RequestID, fp, http.StatusOK, b)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// colAccept validates and records a COL refund; call with s.mu held.
func (s *Sandbox) colAccept(reqID, txnID string, amount int64, bank [4]string) envelope {
	t, ok := s.st.colTxns[txnID]
	switch {
	case !ok:
		return failEnvelope("RESOURCE_NOT_FOUND")
	case t.Status != "SUCCESS" && !t.Refundable:
		return failEnvelope("TRANSACTION_NOT_REFUNDABLE")
	case amount > t.Amount-t.RefundedAmount-s.st.colInfl[txnID]:
		return failEnvelope("AMOUNT_EXCEEDS_REFUNDABLE")
	case t.Outcome == OutcomeInsufficientBalance:
		return failEnvelope("INSUFFICIENT_BALANCE")
	}
	if bank[0] == "" && bank[1] == "" { // refund to the payer's account
		bank = [4]string{t.BankSwiftCode, t.BankAccountNumber, t.BankAccountName, ""}
	}
	s.st.colInfl[txnID] += amount
	ref := &colRefund{Refund: Refund{API: "COL", RequestID: reqID, Target: txnID, ApprovalStatus: "PENDING",
		Amount: amount, Currency: "VND", CreatedAt: nowUTC()},
		bankSwift: bank[0], bankAccount: bank[1], bankName: bank[2], bankBranch: bank[3], note: "Waiting for approval"}
	s.st.colRefs[reqID] = ref
	s.st.refunds = append(s.st.refunds, &ref.Refund)
	s.colWebhook(ref)
	s.background(func(ctx context.Context) { s.settleCOL(ctx, t, ref) })
	return okEnvelope(s.colData(ref))
}

// settleCOL walks PENDING → APPROVED → SUCCESS|FAILED, or PENDING → REJECTED.
func (s *Sandbox) settleCOL(ctx context.Context, t *CollectionTransaction, ref *colRefund) {
	if !sleep(ctx, s.cfg.SettleDelay) {
		return
	}
	s.mu.Lock()
	if t.Outcome == OutcomeReject {
		ref.ApprovalStatus, ref.note = "REJECTED", "Rejected by NeoX operations: refund reason not supported"
		s.st.colInfl[t.ID] -= ref.Amount
		s.colWebhook(ref)
		s.mu.Unlock()
		return
	}
	ref.ApprovalStatus, ref.Status, ref.note = "APPROVED", "PROCESSING", "Approved"
	ref.NeoRefundID = refundTransID(s.nextSeq())
	s.colWebhook(ref)
	s.mu.Unlock()
	if !sleep(ctx, s.cfg.SettleDelay) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.colInfl[t.ID] -= ref.Amount
	if t.Outcome == OutcomeFail {
		ref.Status, ref.FailedReason, ref.note = "FAILED", "Beneficiary account is closed (bank code 1114)", "Refund failed"
	} else {
		ref.Status, ref.note = "SUCCESS", "Refund completed"
		t.RefundedAmount += ref.Amount
	}
	s.colWebhook(ref)
}

// colData renders a refund as the API's data object; call with s.mu held.
func (s *Sandbox) colData(r *colRefund) map[string]any {
	d := map[string]any{"merchantCode": s.cfg.MerchantCode, "requestId": r.RequestID, "collectionTransId": r.Target,
		"refundTransId": r.NeoRefundID, "approvalStatus": r.ApprovalStatus, "status": r.Status,
		"bankSwiftCode": r.bankSwift, "bankAccountNumber": r.bankAccount, "bankAccountName": r.bankName,
		"amount": r.Amount, "note": r.note, "failedReason": r.FailedReason, "createdAt": r.CreatedAt.Format(time.RFC3339Nano)}
	for k, v := range d {
		if v == "" {
			delete(d, k)
		}
	}
	return d
}

// colWebhook queues a signed COL REFUND event (newer payload); call with s.mu held.
func (s *Sandbox) colWebhook(r *colRefund) {
	s.sendOpenAPIWebhook(hookCOL, map[string]string{"merchantCode": s.cfg.MerchantCode, "requestId": r.RequestID,
		"type": "REFUND", "collectionTransId": r.Target, "approvalStatus": r.ApprovalStatus, "status": r.Status,
		"bankSwiftCode": r.bankSwift, "bankAccountNumber": r.bankAccount, "bankAccountName": r.bankName,
		"amount": strconv.FormatInt(r.Amount, 10), "note": r.note, "failedReason": r.FailedReason,
		"createdAt": r.CreatedAt.Format(time.RFC3339Nano)}, s.cfg.COLWebhookSecret)
}

// handleCOLGet serves GET /v2/col/refund-requests/{requestId}.
func (s *Sandbox) handleCOLGet(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	ref, ok := s.st.colRefs[r.PathValue("requestId")]
	var data map[string]any
	if ok {
		data = s.colData(ref)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, failEnvelope("RESOURCE_NOT_FOUND"))
		return
	}
	writeJSON(w, http.StatusOK, okEnvelope(data))
}

// handleCOLList serves GET /v2/col/refund-requests?pageIndex&pageSize&dateFr&dateTo&status.
func (s *Sandbox) handleCOLList(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	idx, err1 := atoiDefault(q.Get("pageIndex"), 1)
	size, err2 := atoiDefault(q.Get("pageSize"), 20)
	from, err3 := timeParam(q.Get("dateFr"))
	to, err4 := timeParam(q.Get("dateTo"))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || idx < 1 || size < 1 || size > neox.MaxCOLPageSize {
		writeJSON(w, http.StatusOK, failEnvelope("VALIDATION_ERROR"))
		return
	}
	status := q.Get("status")
	s.mu.Lock()
	var match []*colRefund
	for _, ref := range s.st.colRefs {
		if (!from.IsZero() && ref.CreatedAt.Before(from)) || (!to.IsZero() && ref.CreatedAt.After(to)) ||
			(status != "" && status != ref.ApprovalStatus && status != ref.Status) {
			continue
		}
		match = append(match, ref)
	}
	slices.SortFunc(match, func(a, b *colRefund) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.RequestID, b.RequestID)
	})
	docs := []map[string]any{}
	for i := (idx - 1) * size; i < len(match) && i < idx*size; i++ {
		docs = append(docs, s.colData(match[i]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, okEnvelope(map[string]any{"totalDocs": len(match),
		"totalPages": (len(match) + size - 1) / size, "docs": docs}))
}

// handleCOLTransaction serves GET /v2/col/transactions/{transId} with the
// documented data fields, no more: amount, fee and refundedAmount are
// JSON strings in this call.
func (s *Sandbox) handleCOLTransaction(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	t, ok := s.st.colTxns[r.PathValue("id")]
	var data map[string]any
	if ok {
		data = s.colTransactionData(t)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, failEnvelope("RESOURCE_NOT_FOUND"))
		return
	}
	writeJSON(w, http.StatusOK, okEnvelope(data))
}

// colTransactionData is the documented data object of a transaction; call
// with s.mu held. The contents of serviceInfomation (sic) and
// debitorInformation are not documented: these are the sandbox's own.
func (s *Sandbox) colTransactionData(t *CollectionTransaction) map[string]any {
	reconcile, payout := t.ReconcileStatus, t.PayoutStatus
	if reconcile == "" {
		reconcile = "RECONCILED"
	}
	if payout == "" {
		payout = "SUCCESS"
	}
	transDate, updated := t.TransDate, t.UpdatedAt
	if transDate.IsZero() {
		transDate = t.CreatedAt
	}
	if updated.IsZero() {
		updated = t.CreatedAt
	}
	va := t.VirtualAccountID
	if va == "" {
		va = "VA" + t.ID
	}
	vaReq := t.VirtualAccountRequestID
	if vaReq == "" {
		vaReq = "VAR-" + t.ID
	}
	name := t.AccountName
	if name == "" {
		name = "NEOX " + s.cfg.MerchantCode
	}
	return map[string]any{"merchantCode": s.cfg.MerchantCode, "transId": t.ID,
		"transDate": transDate.UTC().Format(time.RFC3339), "virtualAccountRequestId": vaReq, "virtualAccountId": va,
		"accountName": name, "amount": strconv.FormatInt(t.Amount, 10), "fee": strconv.FormatInt(t.Fee, 10),
		"refundedAmount": strconv.FormatInt(t.RefundedAmount, 10), "status": t.Status,
		"reconcileStatus": reconcile, "payoutStatus": payout,
		"serviceInfomation":  map[string]any{"serviceCode": "COLLECTION"},
		"debitorInformation": map[string]any{"bankSwiftCode": t.BankSwiftCode, "accountName": t.BankAccountName},
		"Note":               t.Note, "createdAt": t.CreatedAt.UTC().Format(time.RFC3339),
		"updatedAt": updated.UTC().Format(time.RFC3339)}
}

func atoiDefault(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

func timeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
