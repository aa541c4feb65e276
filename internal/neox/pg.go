package neox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// PGPath is the single PG endpoint; the command is in neo_Command.
const PGPath = "/api/v1/paygate/neopay"

// PG codes the client treats specially.
const (
	pgCodeDuplicate = 19 // duplicated merchant transaction id: NeoX holds the request
	// PGCodeBadSignature is "invalid signature": NeoX's own client library
	// defines it, the public error table does not. It is a definite
	// refusal (nothing happened), and it means the desk's merchant code or
	// secret key is wrong, so every signed PG call will be refused alike.
	PGCodeBadSignature = 98
)

// PG is a client of the NeoX payment gateway (QUERY_PT and REFUND).
type PG struct {
	cfg PGConfig
	hc  *http.Client
}

// NewPG returns a PG client. hc nil means a default client; the per-call
// timeout comes from cfg.Timeout.
func NewPG(cfg PGConfig, hc *http.Client) *PG {
	if hc == nil {
		hc = &http.Client{}
	}
	return &PG{cfg: cfg, hc: hc}
}

// Payment is one payment of a PG transaction.
type Payment struct {
	ID             string // NeoX payment id, the target of a refund
	Status         string // SUCCESS | FAILED | PROCESSING
	Method         string // QR | ATM | CC
	Amount         int64  // VND
	RefundedAmount int64  // VND already refunded
}

// Receiver is the beneficiary of a refund of a QR payment. It is sent as
// base64(JSON) in neo_Receiver.
type Receiver struct {
	AccountName   string `json:"accountName"`
	AccountNumber string `json:"accountNumber"`
	SwiftCode     string `json:"swiftCode"`
}

// Encode returns the neo_Receiver value: Base64 (standard, padded) of the
// compact JSON {"accountName":…,"accountNumber":…,"swiftCode":…}.
func (r Receiver) Encode() string {
	b, _ := json.Marshal(r) // a struct of strings always encodes
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeReceiver parses a neo_Receiver value.
func DecodeReceiver(s string) (Receiver, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return Receiver{}, fmt.Errorf("%w: neo_Receiver is not base64", ErrMalformed)
	}
	var r Receiver
	if err := json.Unmarshal(b, &r); err != nil {
		return Receiver{}, fmt.Errorf("%w: neo_Receiver is not JSON", ErrMalformed)
	}
	return r, nil
}

// PGRefundRequest asks NeoX to refund part or all of a PG payment.
type PGRefundRequest struct {
	RequestID string    // our refund id, reused on every retry
	PaymentID string    // NeoX payment id from QueryPT
	Amount    int64     // VND, > 0
	Receiver  *Receiver // required for QR payments
}

// PGRefundResult is NeoX's answer to an accepted refund.
type PGRefundResult struct {
	TransID      string // NeoX refund id
	ResponseCode int    // 0 accepted, 99 processing
	ResponseMsg  string
}

type pgAnswer struct {
	Code *flexInt        `json:"neo_ResponseCode"`
	Data json.RawMessage `json:"neo_ResponseData"`
	Msg  string          `json:"neo_ResponseMsg"`
}

type pgPayment struct {
	ID             flexText `json:"id"`
	Status         string   `json:"status"`
	Amount         flexInt  `json:"amount"`
	RefundedAmount flexInt  `json:"refundedAmount"`
	Method         string   `json:"paymentMethod"`
}

// QueryPT lists the payments of a PG transaction. An unknown transaction
// gives a *RejectedError matching ErrNotFound.
func (p *PG) QueryPT(ctx context.Context, lang, transactionID string) ([]Payment, error) {
	if transactionID == "" {
		return nil, errors.New("neox PG query_pt: empty transaction id")
	}
	fields := map[string]string{
		pgCommand:       "QUERY_PT",
		pgMerchantCode:  p.cfg.MerchantCode,
		pgTransactionID: transactionID,
		pgVersion:       "1",
	}
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	body[pgSecureHash] = pgHashOf(fields, pgQuerySignedFields, p.cfg.SecretKey)
	ans, err := p.post(ctx, lang, "query_pt", body)
	if err != nil {
		return nil, err
	}
	var list []pgPayment
	if len(ans.Data) > 0 && string(ans.Data) != "null" {
		if err := json.Unmarshal(ans.Data, &list); err != nil {
			return nil, unknown("PG", "query_pt", "decode payments: %w", err)
		}
	}
	out := make([]Payment, 0, len(list))
	for _, x := range list {
		out = append(out, Payment{ID: string(x.ID), Status: x.Status, Method: x.Method,
			Amount: int64(x.Amount), RefundedAmount: int64(x.RefundedAmount)})
	}
	return out, nil
}

// Refund asks NeoX to refund a payment. The final outcome arrives by IPN.
func (p *PG) Refund(ctx context.Context, lang string, r PGRefundRequest) (PGRefundResult, error) {
	if r.RequestID == "" || r.PaymentID == "" || r.Amount <= 0 {
		return PGRefundResult{}, errors.New("neox PG refund: request id, payment id and a positive amount are required")
	}
	fields := map[string]string{
		pgCommand:      "REFUND",
		pgMerchantCode: p.cfg.MerchantCode,
		pgRequestID:    r.RequestID,
		pgPaymentID:    r.PaymentID,
		pgAmount:       strconv.FormatInt(r.Amount, 10),
		pgVersion:      "1",
	}
	if r.Receiver != nil {
		fields[pgReceiver] = r.Receiver.Encode()
	}
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	body[pgAmount] = r.Amount // a JSON number, as in the docs
	body[pgSecureHash] = pgHashOf(fields, pgRefundSignedFields, p.cfg.SecretKey)
	ans, err := p.post(ctx, lang, "refund", body)
	if err != nil {
		return PGRefundResult{}, err
	}
	var data struct {
		TransID flexText `json:"transId"`
	}
	if len(ans.Data) > 0 && string(ans.Data) != "null" {
		if err := json.Unmarshal(ans.Data, &data); err != nil {
			return PGRefundResult{}, unknown("PG", "refund", "decode answer data: %w", err)
		}
	}
	return PGRefundResult{TransID: string(data.TransID), ResponseCode: int(*ans.Code), ResponseMsg: ans.Msg}, nil
}

// post sends one PG command and classifies the answer. Codes 0 and 99 are
// returned; 19 (duplicate id) is unknown; any other code, 98 (invalid
// signature) included, is a rejection.
func (p *PG) post(ctx context.Context, lang, op string, body map[string]any) (*pgAnswer, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("neox PG %s: encode request: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(p.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.cfg.BaseURL, "/")+PGPath, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("neox PG %s: build request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", Lang(lang))
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, unknown("PG", op, "send: %w", err)
	}
	defer resp.Body.Close()
	raw, err := readLimited(resp.Body)
	if err != nil {
		return nil, unknown("PG", op, "%w", err)
	}
	if resp.StatusCode >= 500 {
		return nil, unknown("PG", op, "HTTP %d", resp.StatusCode)
	}
	var ans pgAnswer
	if json.Unmarshal(raw, &ans) != nil || ans.Code == nil {
		return nil, unknown("PG", op, "HTTP %d: answer is not a PG response (%d bytes)", resp.StatusCode, len(raw))
	}
	code := int(*ans.Code)
	switch {
	case code == 0 || code == 99:
		if resp.StatusCode >= 300 {
			return nil, unknown("PG", op, "HTTP %d with code %d", resp.StatusCode, code)
		}
		return &ans, nil
	case code == pgCodeDuplicate:
		return nil, unknown("PG", op, "%w: code %d: %s", ErrDuplicateRequestID, code, ans.Msg)
	default:
		return nil, &RejectedError{API: "PG", Op: op, Code: strconv.Itoa(code), Message: ans.Msg}
	}
}
