package neox

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxWebhookBody is the size limit webhook handlers should apply to bodies
// before calling a verifier.
const MaxWebhookBody = 64 << 10

// PGRefundIPN is a verified PG refund notification.
type PGRefundIPN struct {
	MerchantCode  string
	Command       string // REFUND
	OrderID       string
	PaymentID     string
	RequestID     string // our refund id
	TransactionID string // NeoX's id
	Amount        int64
	Fee           int64
	Version       string
	ResponseCode  int // 0 = refund succeeded
	ResponseMsg   string
}

// VerifyPGIPN checks neo_SecureHash (hex SHA-256 of every other field's
// value sorted by key + secretKey, compared case-insensitively in constant
// time) and that the notification is for merchantCode, then parses it.
// Amounts may be JSON numbers or strings. Because the documented REFUND
// request hash leaves neo_RequestID out, a hash computed without
// neo_RequestID is accepted as well.
func VerifyPGIPN(body []byte, merchantCode, secretKey string) (PGRefundIPN, error) {
	if secretKey == "" {
		return PGRefundIPN{}, errSecretMissing("PG IPN")
	}
	obj, err := parseFlat(body)
	if err != nil {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w", err)
	}
	got := obj.str(pgSecureHash)
	if got == "" {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w: neo_SecureHash missing", ErrBadSignature)
	}
	values := make(map[string]string, len(obj))
	for k, v := range obj {
		values[k] = v.text
	}
	ok := equalHex(got, PGHash(values, secretKey))
	delete(values, pgRequestID)
	ok = equalHex(got, PGHash(values, secretKey)) || ok
	if !ok {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w", ErrBadSignature)
	}
	if obj.str(pgMerchantCode) != merchantCode {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w: not for this merchant", ErrBadSignature)
	}
	ipn := PGRefundIPN{MerchantCode: obj.str(pgMerchantCode), Command: obj.str(pgCommand),
		OrderID: obj.str("neo_OrderID"), PaymentID: obj.str(pgPaymentID), RequestID: obj.str(pgRequestID),
		TransactionID: obj.str(pgTransactionID), Version: obj.str(pgVersion), ResponseMsg: obj.str("neo_ResponseMsg")}
	if ipn.Amount, err = obj.int64Of(pgAmount); err != nil {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w", err)
	}
	if ipn.Fee, err = obj.int64Of("neo_Fee"); err != nil {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w", err)
	}
	code := strings.TrimSpace(obj.str("neo_ResponseCode"))
	if ipn.ResponseCode, err = strconv.Atoi(code); err != nil {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w: neo_ResponseCode %q", ErrMalformed, code)
	}
	if ipn.RequestID == "" {
		return PGRefundIPN{}, fmt.Errorf("neox PG IPN: %w: neo_RequestID missing", ErrMalformed)
	}
	return ipn, nil
}

// GCRefundEvent is a verified GC REFUND webhook.
type GCRefundEvent struct {
	RefundRequestID   string // NeoX refund id
	Type              string // REFUND
	MerchantCode      string
	CollectionOrderID string
	Currency          string // ISO 4217
	Status            string // PROCESSING | SUCCESS | FAILED
	Note              string
	Amount            string // verbatim, major units of Currency, e.g. "1500.00"
	CreatedAt         string
}

// VerifyGCWebhook checks secureHash (see OpenAPIHash) in constant time and
// parses a GC REFUND event.
func VerifyGCWebhook(body []byte, secret string) (GCRefundEvent, error) {
	obj, err := verifyOpenAPI("GC", body, secret)
	if err != nil {
		return GCRefundEvent{}, err
	}
	ev := GCRefundEvent{RefundRequestID: obj.str("refundRequestId"), Type: obj.str("type"),
		MerchantCode: obj.str("merchantCode"), CollectionOrderID: obj.str("collectionOrderId"),
		Currency: obj.str("currency"), Status: obj.str("status"), Note: obj.str("note"),
		Amount: obj.str("amount"), CreatedAt: obj.str("createdAt")}
	if ev.RefundRequestID == "" && ev.CollectionOrderID == "" {
		return GCRefundEvent{}, fmt.Errorf("neox GC webhook: %w: no refundRequestId or collectionOrderId", ErrMalformed)
	}
	return ev, nil
}

// COLRefundEvent is a verified COL REFUND webhook. The older payload
// version (status PENDING|APPROVED|REJECTED, no approvalStatus) is
// normalised: its status moves to ApprovalStatus and Status is "".
type COLRefundEvent struct {
	MerchantCode      string
	RequestID         string // our refund id
	Type              string // REFUND
	CollectionTransID string
	ApprovalStatus    string // PENDING | APPROVED | REJECTED
	Status            string // SUCCESS | FAILED, "" before
	BankSwiftCode     string
	BankAccountNumber string
	BankAccountName   string
	Amount            string // verbatim, VND
	Note              string
	FailedReason      string
	CreatedAt         string
}

// VerifyCOLWebhook checks secureHash (see OpenAPIHash) in constant time and
// parses a COL REFUND event.
func VerifyCOLWebhook(body []byte, secret string) (COLRefundEvent, error) {
	obj, err := verifyOpenAPI("COL", body, secret)
	if err != nil {
		return COLRefundEvent{}, err
	}
	ev := COLRefundEvent{MerchantCode: obj.str("merchantCode"), RequestID: obj.str("requestId"),
		Type: obj.str("type"), CollectionTransID: obj.str("collectionTransId"),
		BankSwiftCode: obj.str("bankSwiftCode"), BankAccountNumber: obj.str("bankAccountNumber"),
		BankAccountName: obj.str("bankAccountName"), Amount: obj.str("amount"), Note: obj.str("note"),
		FailedReason: obj.str("failedReason"), CreatedAt: obj.str("createdAt")}
	ev.ApprovalStatus, ev.Status = normaliseCOLStatus(obj.str("approvalStatus"), obj.str("status"))
	if ev.RequestID == "" {
		return COLRefundEvent{}, fmt.Errorf("neox COL webhook: %w: requestId missing", ErrMalformed)
	}
	return ev, nil
}

func verifyOpenAPI(api string, body []byte, secret string) (flatObject, error) {
	if secret == "" {
		return nil, errSecretMissing(api + " webhook")
	}
	obj, err := parseFlat(body)
	if err != nil {
		return nil, fmt.Errorf("neox %s webhook: %w", api, err)
	}
	got := obj.str("secureHash")
	if got == "" {
		return nil, fmt.Errorf("neox %s webhook: %w: secureHash missing", api, ErrBadSignature)
	}
	if !equalBase64(got, openAPIHashValues(obj, secret)) {
		return nil, fmt.Errorf("neox %s webhook: %w", api, ErrBadSignature)
	}
	return obj, nil
}
