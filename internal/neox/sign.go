package neox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// PG field names used in requests, responses and IPNs.
const (
	pgCommand       = "neo_Command"
	pgMerchantCode  = "neo_MerchantCode"
	pgTransactionID = "neo_TransactionID"
	pgVersion       = "neo_Version"
	pgRequestID     = "neo_RequestID"
	pgPaymentID     = "neo_PaymentID"
	pgAmount        = "neo_Amount"
	pgReceiver      = "neo_Receiver"
	pgSecureHash    = "neo_SecureHash"
)

// pgQuerySignedFields are the QUERY_PT fields covered by neo_SecureHash.
// The documented sample (secret 311235E7…) reproduces exactly with them.
var pgQuerySignedFields = []string{pgCommand, pgMerchantCode, pgTransactionID, pgVersion}

// pgRefundSignedFields are the REFUND fields covered by neo_SecureHash.
// neo_RequestID is deliberately absent: the documented sample hash
// 88cafbc3bc… reproduces only without it (see TestPGRefundDocSample).
var pgRefundSignedFields = []string{pgAmount, pgCommand, pgMerchantCode, pgPaymentID, pgReceiver, pgVersion}

// PGHash computes a PG neo_SecureHash: the values of fields sorted by key
// (byte order), concatenated without separator, followed by secret, hashed
// with SHA-256 and written as lowercase hex. A neo_SecureHash key in fields
// is ignored.
func PGHash(fields map[string]string, secret string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != pgSecureHash {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(fields[k]))
	}
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

// pgHashOf hashes only the named fields of values (missing ones count as "").
func pgHashOf(values map[string]string, names []string, secret string) string {
	sub := make(map[string]string, len(names))
	for _, n := range names {
		sub[n] = values[n]
	}
	return PGHash(sub, secret)
}

// equalHex compares two hex digests case-insensitively in constant time.
func equalHex(got, want string) bool {
	g, err1 := hex.DecodeString(strings.TrimSpace(got))
	w, err2 := hex.DecodeString(want)
	if err1 != nil || err2 != nil || len(g) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(g, w) == 1
}

// OpenAPIHash computes the GC/COL webhook secureHash of a flat JSON object:
// Base64(SHA-256(values of all fields except secureHash, sorted by key,
// concatenated as they appear in the JSON text, + secret)). String values
// are used decoded, numbers and booleans verbatim, null as "". It fails on
// anything that is not a single JSON object with unique keys.
func OpenAPIHash(rawJSON []byte, secret string) (string, error) {
	obj, err := parseFlat(rawJSON)
	if err != nil {
		return "", err
	}
	return openAPIHashValues(obj, secret), nil
}

func openAPIHashValues(obj flatObject, secret string) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if k != "secureHash" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(obj[k].text))
	}
	h.Write([]byte(secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// equalBase64 compares two Base64 digests in constant time.
func equalBase64(got, want string) bool {
	g, err1 := base64.StdEncoding.DecodeString(strings.TrimSpace(got))
	w, err2 := base64.StdEncoding.DecodeString(want)
	if err1 != nil || err2 != nil || len(g) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(g, w) == 1
}

// SignOpenAPIWebhook returns body with a secureHash field set, for the
// sandbox and tests. fields must be a flat object of strings.
func SignOpenAPIWebhook(fields map[string]string, secret string) map[string]string {
	obj := make(flatObject, len(fields))
	out := make(map[string]string, len(fields)+1)
	for k, v := range fields {
		if k == "secureHash" {
			continue
		}
		obj[k] = flatValue{text: v, isString: true}
		out[k] = v
	}
	out["secureHash"] = openAPIHashValues(obj, secret)
	return out
}

func errSecretMissing(what string) error {
	return fmt.Errorf("neox: %s: %w: no secret configured", what, ErrBadSignature)
}
