package sandbox

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// Fields covered by neo_SecureHash, as the documented samples show.
// pgCodeBadSignature is NeoX's code for an invalid neo_SecureHash (from
// NeoX's client library; the public error table does not list it).
const pgCodeBadSignature = 98

var (
	pgQuerySigned  = []string{"neo_Command", "neo_MerchantCode", "neo_TransactionID", "neo_Version"}
	pgRefundSigned = []string{"neo_Amount", "neo_Command", "neo_MerchantCode", "neo_PaymentID", "neo_Receiver", "neo_Version"}
)

type pgAnswer struct {
	Code int    `json:"neo_ResponseCode"`
	Data any    `json:"neo_ResponseData"`
	Msg  string `json:"neo_ResponseMsg"`
}

func writePG(w http.ResponseWriter, code int, msg string, data any) []byte {
	b, _ := json.Marshal(pgAnswer{Code: code, Data: data, Msg: msg})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return b
}

// pgFields decodes a PG request into field texts (numbers kept verbatim).
func pgFields(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case nil:
			out[k] = ""
		default:
			return nil, fmt.Errorf("field %s is not a scalar", k)
		}
	}
	return out, nil
}

func signedBy(f map[string]string, names []string, secret string) bool {
	sub := make(map[string]string, len(names))
	for _, n := range names {
		sub[n] = f[n]
	}
	want := neox.PGHash(sub, secret)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(f["neo_SecureHash"])), []byte(want)) == 1
}

// handlePG serves POST /api/v1/paygate/neopay (QUERY_PT and REFUND).
func (s *Sandbox) handlePG(w http.ResponseWriter, r *http.Request, body []byte) {
	f, err := pgFields(body)
	if err != nil {
		writePG(w, 1, "Invalid request", nil)
		return
	}
	if f["neo_MerchantCode"] != s.cfg.MerchantCode {
		writePG(w, 30, "Integration not approved", nil)
		return
	}
	if f["neo_Version"] != "1" {
		writePG(w, 1, "Unsupported version", nil)
		return
	}
	switch f["neo_Command"] {
	case "QUERY_PT":
		if !signedBy(f, pgQuerySigned, s.cfg.PGSecretKey) {
			writePG(w, pgCodeBadSignature, "Invalid signature", nil)
			return
		}
		s.pgQuery(w, f["neo_TransactionID"])
	case "REFUND":
		if !signedBy(f, pgRefundSigned, s.cfg.PGSecretKey) {
			writePG(w, pgCodeBadSignature, "Invalid signature", nil)
			return
		}
		s.pgRefund(w, f)
	default:
		writePG(w, 1, "Unknown command", nil)
	}
}

func (s *Sandbox) pgQuery(w http.ResponseWriter, txnID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.st.pgTxns[txnID]
	if !ok {
		writePG(w, 1, "Transaction not found", nil)
		return
	}
	list := make([]map[string]any, 0, len(t.Payments))
	for _, p := range t.Payments {
		list = append(list, map[string]any{"id": p.ID, "status": p.Status, "amount": p.Amount,
			"refundedAmount": p.RefundedAmount, "paymentMethod": p.Method})
	}
	writePG(w, 0, "Successful", list)
}

func (s *Sandbox) pgRefund(w http.ResponseWriter, f map[string]string) {
	reqID := f["neo_RequestID"]
	fp := fingerprint([]string{f["neo_PaymentID"], f["neo_Amount"], f["neo_Receiver"]})
	s.mu.Lock()
	defer s.mu.Unlock()
	if reqID == "" {
		writePG(w, 1, "neo_RequestID is required", nil)
		return
	}
	if s.answered(w, "PG", reqID, fp, func() { writePG(w, 19, "Duplicated merchant transaction id", nil) }) {
		return
	}
	code, msg, data := s.pgAccept(reqID, f)
	s.remember("PG", reqID, fp, http.StatusOK, writePG(w, code, msg, data))
}

// pgAccept validates and records a refund; call with s.mu held.
func (s *Sandbox) pgAccept(reqID string, f map[string]string) (int, string, any) {
	ps, ok := s.st.pgPayments[f["neo_PaymentID"]]
	if !ok {
		return 1, "Payment not found", nil
	}
	p := ps.payment
	switch p.Status {
	case "SUCCESS":
	case "PROCESSING":
		return 9, "Waiting for payment", nil
	default:
		return 1, "Payment is not refundable (status " + p.Status + ")", nil
	}
	amount, err := strconv.ParseInt(f["neo_Amount"], 10, 64)
	if err != nil || amount <= 0 || amount > p.Amount-p.RefundedAmount-ps.inflight {
		return 33, "Invalid amount", nil
	}
	if p.Method == "QR" {
		rc, err := neox.DecodeReceiver(f["neo_Receiver"])
		if err != nil || rc.AccountName == "" || rc.AccountNumber == "" || rc.SwiftCode == "" {
			return 1, "Receiver is required for QR payments", nil
		}
	}
	ps.inflight += amount
	n := s.nextSeq()
	ref := &Refund{API: "PG", RequestID: reqID, Target: p.ID, NeoRefundID: fmt.Sprintf("RF%010dPG", n),
		Status: "PROCESSING", Amount: amount, Currency: "VND", CreatedAt: nowUTC()}
	s.st.refunds = append(s.st.refunds, ref)
	s.background(func(ctx context.Context) { s.settlePG(ctx, ps, ref) })
	return 0, "Successful", map[string]any{"transId": ref.NeoRefundID}
}

// settlePG ends a PG refund after the settle delay and sends the IPN.
func (s *Sandbox) settlePG(ctx context.Context, ps *pgState, ref *Refund) {
	if !sleep(ctx, s.cfg.SettleDelay) {
		return
	}
	s.mu.Lock()
	ps.inflight -= ref.Amount
	code, msg := 0, "Successful"
	if ps.payment.Outcome == OutcomeFail {
		ref.Status, ref.FailedReason = "FAILED", "Refund rejected by issuing bank"
		code, msg = 1, ref.FailedReason
	} else {
		ref.Status = "SUCCESS"
		ps.payment.RefundedAmount += ref.Amount
	}
	fields := map[string]string{"neo_MerchantCode": s.cfg.MerchantCode, "neo_Command": "REFUND",
		"neo_OrderID": ps.txn.OrderID, "neo_PaymentID": ps.payment.ID, "neo_RequestID": ref.RequestID,
		"neo_TransactionID": ref.NeoRefundID, "neo_Amount": strconv.FormatInt(ref.Amount, 10), "neo_Fee": "0",
		"neo_Version": "1", "neo_ResponseCode": strconv.Itoa(code), "neo_ResponseMsg": msg}
	s.mu.Unlock()
	hash := strings.ToUpper(neox.PGHash(fields, s.cfg.PGSecretKey))
	ipn := map[string]any{}
	for k, v := range fields {
		ipn[k] = v
	}
	ipn["neo_Amount"], ipn["neo_Fee"], ipn["neo_ResponseCode"] = ref.Amount, 0, code
	ipn["neo_SecureHash"] = hash
	body, _ := json.Marshal(ipn)
	s.deliver(ctx, hookPG, body)
}
