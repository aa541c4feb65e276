package audit

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Redacted replaces the value of a secret-looking key in Details.
const Redacted = "[redacted]"

var secretKeyParts = []string{"secret", "password", "passwd", "token", "key", "hash", "authorization", "signature", "cookie", "cvv"}

var accountKeyParts = []string{"account_number", "accountnumber", "account_no", "accountno", "bank_account", "bankaccount", "card_number", "cardnumber", "iban"}

func keyHas(key string, parts []string) bool {
	k := key
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			k = strings.ToLower(key) // only then: every append checks every key
			break
		}
	}
	for _, p := range parts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// redact returns a copy of v in which values under secret-looking keys are
// replaced by Redacted and values under bank-account keys are masked to
// their last four digits. It walks nested maps and slices; v is not changed.
// A key that is both (e.g. "bank_account_token") is redacted.
func redact(v any, key string) any {
	switch {
	case key != "" && keyHas(key, secretKeyParts):
		return Redacted
	case key != "" && keyHas(key, accountKeyParts):
		return maskAll(v)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = redact(val, k)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = redact(val, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = redact(val, key)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = redact(val, key)
		}
		return out
	}
	return v
}

// maskAll masks every scalar under an account key, keeping the structure.
func maskAll(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = maskAll(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = maskAll(val)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = MaskAccount(val)
		}
		return out
	case string:
		return MaskAccount(x)
	}
	return MaskAccount(fmt.Sprint(v))
}

// MaskAccount masks a bank account (or card) number to "****" and its last
// four digits; values with four digits or fewer become "****" entirely, and
// everything except digits is dropped, so no other part of it survives.
func MaskAccount(s string) string {
	if s == "" {
		return ""
	}
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
		}
	}
	if len(digits) <= 4 {
		return "****"
	}
	return "****" + string(digits[len(digits)-4:])
}
