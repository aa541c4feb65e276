package refunds

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// MaxAmount is the largest amount ParseAmount accepts (10^15 VND), far
// above any real refund and far below int64 overflow.
const MaxAmount int64 = 1_000_000_000_000_000

// ParseAmount reads a VND amount as people type it in Vietnam.
//
// Accepted: plain digits ("1250000"); digits grouped by threes with one
// kind of separator, either '.' (the Vietnamese thousands separator,
// "1.250.000"), ',' ("1,250,000") or spaces (ASCII, no-break or narrow
// no-break: "1 250 000"); surrounding spaces; a trailing "₫", "đ" or "VND".
// Rejected: empty input, signs ("-5", "+5"), decimals (VND has no minor
// unit: "1.5", "1,5", "1.250,00" are refused rather than guessed), badly
// grouped or mixed separators ("1.25.000", "1.250,000"), non-ASCII digits,
// and anything above MaxAmount. "0" parses as 0; callers decide that an
// amount must be positive.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, suf := range []string{"₫", "đ", "Đ", "VND", "vnd", "VNĐ", "vnđ"} {
		if strings.HasSuffix(s, suf) {
			s = strings.TrimSpace(strings.TrimSuffix(s, suf))
			break
		}
	}
	if s == "" {
		return 0, fault.M("domain.01", "enter an amount")
	}
	if s[0] == '-' || strings.HasPrefix(s, "−") {
		return 0, fault.M("domain.02", "the amount cannot be negative")
	}
	if s[0] == '+' {
		return 0, fault.M("domain.03", "enter the amount without a sign")
	}
	// Normalise the space-like separators to one.
	s = strings.NewReplacer("\u00a0", " ", "\u202f", " ", "\u2009", " ").Replace(s)
	var sep rune
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' || r == ',' || r == ' ':
			if sep != 0 && sep != r {
				return 0, fault.M("domain.04", "use one kind of thousands separator")
			}
			sep = r
		default:
			return 0, fault.M("domain.05", "the amount may contain only digits and thousands separators")
		}
	}
	digits := s
	if sep != 0 {
		groups := strings.Split(s, string(sep))
		if strings.HasPrefix(groups[0], "0") {
			return 0, fault.M("domain.06", "the amount cannot start with 0")
		}
		for i, g := range groups {
			switch {
			case g == "":
				return 0, fault.M("domain.07", "misplaced thousands separator")
			case i == 0 && len(g) > 3:
				return 0, fault.M("domain.08", "thousands separators must split the digits into groups of three")
			case i > 0 && len(g) != 3:
				if len(groups) == 2 && len(g) < 3 && sep != ' ' {
					return 0, fault.M("domain.09", "VND amounts have no decimals")
				}
				return 0, fault.M("domain.08", "thousands separators must split the digits into groups of three")
			}
		}
		digits = strings.Join(groups, "")
	}
	if len(digits) > 16 {
		return 0, fault.M("domain.10", "the amount is too large")
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fault.M("domain.11", "the amount is not a number")
	}
	if n > MaxAmount {
		return 0, fault.M("domain.10", "the amount is too large")
	}
	return n, nil
}

// FormatVND renders an amount as "1.250.000 ₫".
func FormatVND(n int64) string { return product.FormatVND(n) }

// Refundable is the amount that can still be refunded: paid − refunded
// (as NeoX reports it) − reserved here (pending, or approved and not
// final). It is never negative.
func Refundable(paid, refundedAtNeoX, reservedHere int64) int64 {
	return product.Refundable(paid, refundedAtNeoX, reservedHere)
}

const (
	maxReasonText = 1000
	maxShortField = 128
)

// ReasonOther is the reason code that requires a free-text reason.
const ReasonOther = "OTHER"

// checkRequest validates what can be checked without NeoX. It returns nil
// or a *ValidationError.
func checkRequest(p product.Product, req NewRequest) *ValidationError {
	f := fault.Fields{}
	if p == nil {
		f["api"] = fault.M("domain.13", "choose PG, GC or COL")
	}
	if strings.TrimSpace(req.TransactionRef) == "" {
		f["transaction_ref"] = fault.M("domain.14", "enter the transaction reference")
	}
	if p != nil {
		// The product's own rules (a payment to choose, an amount, who
		// bears the fee), then the desk's, which win on the same field.
		maps.Copy(f, p.Validate(productRequest(req)))
	}
	if req.Amount < 0 {
		f["amount"] = fault.M("domain.16", "the amount must be greater than 0")
	}
	code, text := strings.TrimSpace(req.ReasonCode), strings.TrimSpace(req.ReasonText)
	// One rule, stated the same on the form: a reason code is required;
	// details are required for "other", optional otherwise, up to 1000.
	switch {
	case code == "":
		f["reason_code"] = fault.M("domain.17", "a reason is required")
	case strings.EqualFold(code, ReasonOther) && text == "":
		f["reason_text"] = fault.M("domain.18", "describe the reason")
	}
	if utf8.RuneCountInString(text) > maxReasonText {
		f["reason_text"] = fault.M("domain.19", "keep the reason under 1000 characters")
	}
	for name, v := range map[string]string{"transaction_ref": req.TransactionRef, "payment_id": req.PaymentID,
		"reason_code": req.ReasonCode, "sub_merchant_id": req.SubMerchantID, "bank_swift": req.BankSwift,
		"bank_account_number": req.BankAccountNumber, "bank_account_name": req.BankAccountName,
		"bank_branch": req.BankBranch, "idempotency_key": req.IdempotencyKey} {
		if utf8.RuneCountInString(v) > maxShortField {
			f[name] = fault.M("domain.21", "too long")
		}
	}
	maps.Copy(f, bankDetailErrors(req))
	for name, v := range map[string]string{"transaction_ref": req.TransactionRef, "payment_id": req.PaymentID,
		"reason_code": req.ReasonCode, "reason_text": req.ReasonText, "sub_merchant_id": req.SubMerchantID,
		"bank_swift": req.BankSwift, "bank_account_number": req.BankAccountNumber,
		"bank_account_name": req.BankAccountName, "bank_branch": req.BankBranch} {
		if msg := textProblem(v); !msg.IsZero() {
			f[name] = msg
		}
	}
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// bicPattern is a SWIFT/BIC code (ISO 9362): bank (4 letters), country
// (2 letters), location (2 letters or digits), optional branch (3).
var bicPattern = regexp.MustCompile(`^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)

// Bank detail messages.

var (
	msgBIC         = fault.M("err.bad_bic", "enter the bank's SWIFT/BIC code: 8 or 11 letters and digits, like BFTVVNVX")
	msgAccountLen  = fault.M("err.account_length", "an account number has 6 to 20 digits")
	msgAccountName = fault.M("err.account_name", "enter the account holder's name as the bank shows it: 2 to 70 letters and spaces")
)

// bankDetailErrors checks the receiver's bank details that were given
// (which are required is receiverErrors' business): NeoX must not be sent
// "XX" for a SWIFT code or "123" for an account.
func bankDetailErrors(req NewRequest) fault.Fields {
	f := fault.Fields{}
	if v := strings.ToUpper(strings.TrimSpace(req.BankSwift)); v != "" && !bicPattern.MatchString(v) {
		f["bank_swift"] = msgBIC
	}
	if v := strings.TrimSpace(req.BankAccountNumber); v != "" {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(v)
		switch {
		case strings.Trim(digits, "0123456789") != "":
			f["bank_account_number"] = fault.M("domain.22", "only digits")
		case len(digits) < 6 || len(digits) > 20:
			f["bank_account_number"] = msgAccountLen
		}
	}
	if v := strings.TrimSpace(req.BankAccountName); v != "" {
		n := utf8.RuneCountInString(v)
		letters := 0
		ok := n >= 2 && n <= 70
		for _, r := range v {
			switch {
			case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
				letters++
			case r == ' ' || r == '.' || r == '-' || r == '\'' || r == ',':
			default:
				ok = false
			}
		}
		if !ok || letters < 2 {
			f["bank_account_name"] = msgAccountName
		}
	}
	return f
}

// Precheck is every rule of a request that needs no NeoX call or database
// read: the form's fields, and the receiver's bank details when the payment
// is a QR one (qr). Handlers run it with their own checks, so a person sees
// every field error at once instead of one round at a time; Create runs
// the same rules again.
func Precheck(req NewRequest, qr bool) *ValidationError {
	return precheck(neoxProduct(req.API), req, qr)
}

// Precheck is the package's Precheck with the products the service
// registered (a product beyond NeoX's three has its own form rules).
func (s *Service) Precheck(req NewRequest, qr bool) *ValidationError {
	p, _ := s.products.Get(string(req.API))
	return precheck(p, req, qr)
}

func precheck(p product.Product, req NewRequest, qr bool) *ValidationError {
	f := fault.Fields{}
	if v := checkRequest(p, req); v != nil {
		maps.Copy(f, v.Fields)
	}
	if qr {
		for k, msg := range receiverErrors(req) {
			if _, set := f[k]; !set {
				f[k] = msg
			}
		}
	}
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// badText is the message for text that cannot be stored or sent to NeoX.
var badText = fault.M("err.bad_text", "contains characters that cannot be stored: invalid text or control characters")

// textProblem refuses free text that is not valid UTF-8 or carries control
// characters (NUL and the like: they are stored, rendered and sent to
// NeoX otherwise). Line breaks and tabs are fine in a reason.
func textProblem(v string) fault.Msg {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) {
		return badText
	}
	return fault.Msg{}
}

// needsReceiver reports the PG rule: QR payments are refunded to a bank
// account that must be given.
func receiverErrors(req NewRequest) fault.Fields {
	f := fault.Fields{}
	if strings.TrimSpace(req.BankAccountName) == "" {
		f["bank_account_name"] = fault.M("domain.23", "QR payments need the receiver's account name")
	}
	if strings.TrimSpace(req.BankAccountNumber) == "" {
		f["bank_account_number"] = fault.M("domain.24", "QR payments need the receiver's account number")
	}
	if strings.TrimSpace(req.BankSwift) == "" {
		f["bank_swift"] = fault.M("domain.25", "QR payments need the receiver's bank SWIFT code")
	}
	return f
}
