package neox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxWebhookBody is the size limit webhook handlers should apply to bodies
// before calling a verifier.
const MaxWebhookBody = 64 << 10

// A NeoX signature is SHA-256 over field values concatenated without
// separators, so bytes can move between adjacent fields, or into an extra
// field, without changing the hash. A notification is therefore accepted
// only with exactly its documented fields (anything else is refused, never
// hashed "to be lenient"), and every value the desk acts on is checked
// against a fixed vocabulary or, by the refunds package, against what the
// desk stored for the refund. NeoX's own WooCommerce plugin verifies IPNs
// the same way: a fixed list of field names per message.

// Documented fields per notification type, secure hash excluded (see
// neox-notes.md "Signatures" and "Webhook payloads").
var (
	// PGIPNFields: the PG refund IPN. NeoX's IPN sample hashes all eleven,
	// neo_RequestID included (TestPGIPNDocSample).
	PGIPNFields = []string{pgAmount, pgCommand, "neo_Fee", pgMerchantCode, "neo_OrderID", pgPaymentID,
		pgRequestID, "neo_ResponseCode", "neo_ResponseMsg", pgTransactionID, pgVersion}
	// GCRefundFields: the GC REFUND webhook.
	GCRefundFields = []string{"amount", "collectionOrderId", "createdAt", "currency", "merchantCode", "note",
		"refundRequestId", "status", "type"}
	// COLRefundFields: the COL REFUND webhook, both payload versions.
	COLRefundFields = []string{"amount", "approvalStatus", "bankAccountName", "bankAccountNumber", "bankSwiftCode",
		"collectionTransId", "createdAt", "failedReason", "merchantCode", "note", "requestId", "status", "type"}
)

// ErrUnexpectedField is wrapped (with ErrMalformed) when a notification
// carries a field outside its documented set.
var ErrUnexpectedField = fmt.Errorf("%w: field outside the documented set", ErrMalformed)

// PG IPN response codes. 0 and 99 are what a refund IPN reports while
// it succeeds or is processing; the others are the documented failure
// codes (error table and NeoX's client library). Any other code is not a
// refund outcome the desk can act on: the IPN is refused. A fixed list
// also stops "99" being re-cut into "9" + a message starting with "9".
const (
	PGCodeSucceeded  = 0
	PGCodeProcessing = 99
)

var pgFailureCodes = []int{-1, 1, 17, 18, 30, 33, 51, 98}

// PGRefundIPN is a verified PG refund notification.
type PGRefundIPN struct {
	MerchantCode  string
	Command       string // REFUND
	OrderID       string
	PaymentID     string
	RequestID     string // our refund id
	TransactionID string // NeoX's refund id (transId)
	Amount        int64
	Fee           int64
	Version       string
	ResponseCode  int // 0 succeeded, 99 processing, else a documented failure code
	ResponseMsg   string
}

// Fields returns the IPN's documented fields as text, for dedupe keys and
// review.
func (p PGRefundIPN) Fields() []string {
	return []string{strconv.FormatInt(p.Amount, 10), p.Command, strconv.FormatInt(p.Fee, 10), p.MerchantCode,
		p.OrderID, p.PaymentID, p.RequestID, strconv.Itoa(p.ResponseCode), p.ResponseMsg, p.TransactionID, p.Version}
}

// VerifyPGIPN verifies a PG refund IPN and parses it. The body must hold
// exactly the documented fields (PGIPNFields, all present, plus
// neo_SecureHash); neo_SecureHash must be the hex SHA-256 of all eleven
// values sorted by key + secretKey (compared case-insensitively in
// constant time); the notification must be for merchantCode, a REFUND,
// version "1", with a known response code. Leaving neo_RequestID out of
// the hash is only ever about the REFUND request sample, never a fallback
// for notifications. Amounts may be JSON numbers or strings.
func VerifyPGIPN(body []byte, merchantCode, secretKey string) (PGRefundIPN, error) {
	const what = "neox PG IPN"
	if secretKey == "" {
		return PGRefundIPN{}, errSecretMissing("PG IPN")
	}
	obj, err := parseDocumented(what, body, PGIPNFields, pgSecureHash)
	if err != nil {
		return PGRefundIPN{}, err
	}
	for _, f := range PGIPNFields {
		if _, ok := obj[f]; !ok {
			return PGRefundIPN{}, fmt.Errorf("%s: %w: %s missing", what, ErrMalformed, f)
		}
	}
	if !equalHex(obj.str(pgSecureHash), pgHashOf(obj.texts(), PGIPNFields, secretKey)) {
		return PGRefundIPN{}, fmt.Errorf("%s: %w", what, ErrBadSignature)
	}
	if obj.str(pgMerchantCode) != merchantCode {
		return PGRefundIPN{}, fmt.Errorf("%s: %w: not for this merchant", what, ErrBadSignature)
	}
	ipn := PGRefundIPN{MerchantCode: obj.str(pgMerchantCode), Command: obj.str(pgCommand),
		OrderID: obj.str("neo_OrderID"), PaymentID: obj.str(pgPaymentID), RequestID: obj.str(pgRequestID),
		TransactionID: obj.str(pgTransactionID), Version: obj.str(pgVersion), ResponseMsg: obj.str("neo_ResponseMsg")}
	if ipn.Amount, err = obj.int64Of(pgAmount); err != nil {
		return PGRefundIPN{}, fmt.Errorf("%s: %w", what, err)
	}
	if ipn.Fee, err = obj.int64Of("neo_Fee"); err != nil {
		return PGRefundIPN{}, fmt.Errorf("%s: %w", what, err)
	}
	code := obj.str("neo_ResponseCode")
	if ipn.ResponseCode, err = strconv.Atoi(code); err != nil {
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_ResponseCode %q", what, ErrMalformed, code)
	}
	switch {
	case ipn.Command != "REFUND":
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_Command %q is not REFUND", what, ErrMalformed, ipn.Command)
	case ipn.Version != "1":
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_Version %q is not 1", what, ErrMalformed, ipn.Version)
	case ipn.RequestID == "" || ipn.PaymentID == "" || ipn.TransactionID == "":
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_RequestID, neo_PaymentID and neo_TransactionID are required", what, ErrMalformed)
	case ipn.Amount <= 0:
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_Amount %d", what, ErrMalformed, ipn.Amount)
	case ipn.ResponseCode != PGCodeSucceeded && ipn.ResponseCode != PGCodeProcessing &&
		!slices.Contains(pgFailureCodes, ipn.ResponseCode):
		return PGRefundIPN{}, fmt.Errorf("%s: %w: neo_ResponseCode %d is not a refund outcome", what, ErrMalformed, ipn.ResponseCode)
	}
	return ipn, nil
}

// GCRefundEvent is a verified GC REFUND webhook.
type GCRefundEvent struct {
	RefundRequestID   string // NeoX refund id: the match key
	Type              string // REFUND
	MerchantCode      string
	CollectionOrderID string
	Currency          string // ISO 4217
	Status            string // PROCESSING | SUCCESS | FAILED
	Note              string
	Amount            string // verbatim, major units of Currency, e.g. "1500.00"
	CreatedAt         string
}

// MinorAmount converts Amount exactly to minor units of Currency.
func (e GCRefundEvent) MinorAmount() (int64, error) { return toMinor(e.Amount, e.Currency) }

// Fields returns the event's documented fields but createdAt as text, for
// dedupe keys: a redelivery with another createdAt is the same event.
func (e GCRefundEvent) Fields() []string {
	return []string{e.Amount, e.CollectionOrderID, e.Currency, e.MerchantCode, e.Note, e.RefundRequestID,
		e.Status, e.Type}
}

// VerifyGCWebhook verifies a GC REFUND event (exactly GCRefundFields plus
// secureHash, see OpenAPIHash, compared in constant time) and parses it.
// refundRequestId, collectionOrderId, amount and currency are required,
// type must be REFUND and status one of PROCESSING, SUCCESS, FAILED.
func VerifyGCWebhook(body []byte, secret string) (GCRefundEvent, error) {
	const what = "neox GC webhook"
	obj, err := verifyOpenAPI(what, body, secret, GCRefundFields)
	if err != nil {
		return GCRefundEvent{}, err
	}
	ev := GCRefundEvent{RefundRequestID: obj.str("refundRequestId"), Type: obj.str("type"),
		MerchantCode: obj.str("merchantCode"), CollectionOrderID: obj.str("collectionOrderId"),
		Currency: obj.str("currency"), Status: obj.str("status"), Note: obj.str("note"),
		Amount: obj.str("amount"), CreatedAt: obj.str("createdAt")}
	switch {
	case ev.RefundRequestID == "" || ev.CollectionOrderID == "" || ev.Currency == "" || ev.Amount == "":
		return GCRefundEvent{}, fmt.Errorf("%s: %w: refundRequestId, collectionOrderId, amount and currency are required", what, ErrMalformed)
	case ev.Type != "REFUND":
		return GCRefundEvent{}, fmt.Errorf("%s: %w: type %q is not REFUND", what, ErrMalformed, ev.Type)
	case ev.Status != "PROCESSING" && ev.Status != "SUCCESS" && ev.Status != "FAILED":
		return GCRefundEvent{}, fmt.Errorf("%s: %w: status %q", what, ErrMalformed, ev.Status)
	}
	if _, err := ev.MinorAmount(); err != nil {
		return GCRefundEvent{}, fmt.Errorf("%s: %w: amount: %v", what, ErrMalformed, err)
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

// IntAmount is Amount as an integer (VND has no minor unit).
func (e COLRefundEvent) IntAmount() (int64, error) {
	return parseIntAmount(strings.TrimSpace(e.Amount))
}

// Fields returns the event's documented fields but createdAt as text, for
// dedupe keys.
func (e COLRefundEvent) Fields() []string {
	return []string{e.Amount, e.ApprovalStatus, e.BankAccountName, e.BankAccountNumber, e.BankSwiftCode,
		e.CollectionTransID, e.FailedReason, e.MerchantCode, e.Note, e.RequestID, e.Status, e.Type}
}

// VerifyCOLWebhook verifies a COL REFUND event (exactly COLRefundFields
// plus secureHash, see OpenAPIHash, compared in constant time) and parses
// it. requestId, collectionTransId and an integer amount are required, type
// must be REFUND, approvalStatus one of PENDING, APPROVED, REJECTED (or
// absent in the older version) and status one of SUCCESS, FAILED,
// PROCESSING (or the older version's approval values).
func VerifyCOLWebhook(body []byte, secret string) (COLRefundEvent, error) {
	const what = "neox COL webhook"
	obj, err := verifyOpenAPI(what, body, secret, COLRefundFields)
	if err != nil {
		return COLRefundEvent{}, err
	}
	ev := COLRefundEvent{MerchantCode: obj.str("merchantCode"), RequestID: obj.str("requestId"),
		Type: obj.str("type"), CollectionTransID: obj.str("collectionTransId"),
		BankSwiftCode: obj.str("bankSwiftCode"), BankAccountNumber: obj.str("bankAccountNumber"),
		BankAccountName: obj.str("bankAccountName"), Amount: obj.str("amount"), Note: obj.str("note"),
		FailedReason: obj.str("failedReason"), CreatedAt: obj.str("createdAt")}
	ev.ApprovalStatus, ev.Status = normaliseCOLStatus(obj.str("approvalStatus"), obj.str("status"))
	switch {
	case ev.RequestID == "" || ev.CollectionTransID == "":
		return COLRefundEvent{}, fmt.Errorf("%s: %w: requestId and collectionTransId are required", what, ErrMalformed)
	case ev.Type != "REFUND":
		return COLRefundEvent{}, fmt.Errorf("%s: %w: type %q is not REFUND", what, ErrMalformed, ev.Type)
	case !slices.Contains([]string{"PENDING", "APPROVED", "REJECTED"}, ev.ApprovalStatus):
		return COLRefundEvent{}, fmt.Errorf("%s: %w: approvalStatus %q", what, ErrMalformed, ev.ApprovalStatus)
	case !slices.Contains([]string{"", "PROCESSING", "SUCCESS", "FAILED"}, ev.Status):
		return COLRefundEvent{}, fmt.Errorf("%s: %w: status %q", what, ErrMalformed, ev.Status)
	}
	if n, err := ev.IntAmount(); err != nil || n <= 0 {
		return COLRefundEvent{}, fmt.Errorf("%s: %w: amount %q", what, ErrMalformed, ev.Amount)
	}
	return ev, nil
}

// verifyOpenAPI parses a GC/COL webhook with exactly the documented fields
// and checks its secureHash over them.
func verifyOpenAPI(what string, body []byte, secret string, documented []string) (flatObject, error) {
	if secret == "" {
		return nil, errSecretMissing(strings.TrimPrefix(what, "neox "))
	}
	obj, err := parseDocumented(what, body, documented, "secureHash")
	if err != nil {
		return nil, err
	}
	if !equalBase64(obj.str("secureHash"), openAPIHashValues(obj, secret)) {
		return nil, fmt.Errorf("%s: %w", what, ErrBadSignature)
	}
	return obj, nil
}

// parseDocumented parses body and refuses any field outside documented
// and hashField, and a missing hash.
func parseDocumented(what string, body []byte, documented []string, hashField string) (flatObject, error) {
	obj, err := parseFlat(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for k := range obj {
		if k != hashField && !slices.Contains(documented, k) {
			return nil, fmt.Errorf("%s: %w: %q", what, ErrUnexpectedField, truncateField(k))
		}
	}
	if obj.str(hashField) == "" {
		return nil, fmt.Errorf("%s: %w: %s missing", what, ErrBadSignature, hashField)
	}
	return obj, nil
}

// truncateField keeps an attacker's field name short in logs and audit rows.
func truncateField(k string) string {
	if len(k) > 40 {
		return k[:40] + "…"
	}
	return k
}
