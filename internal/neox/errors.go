package neox

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
)

// ErrNotFound is matched (errors.Is) by a *RejectedError whose answer means
// the looked-up resource does not exist (RESOURCE_NOT_FOUND, code or HTTP
// status 404, PG "not found"), so lookups can show "unknown id".
var ErrNotFound = errors.New("neox: not found")

// ErrBadSignature is returned by the webhook verifiers when the signature
// is missing, malformed or wrong, or when no secret is configured.
var ErrBadSignature = errors.New("neox: bad signature")

// ErrMalformed is returned when a body is not the JSON shape NeoX sends.
var ErrMalformed = errors.New("neox: malformed payload")

// ErrDuplicateRequestID is wrapped by the *UnknownOutcomeError returned
// when NeoX answers that it already holds the request id (PG code 19,
// GC/COL DUPLICATE_REQUEST_ID). Which call created it is not known, but
// the refund is at NeoX: callers reconcile instead of resending.
var ErrDuplicateRequestID = errors.New("NeoX already holds this request id")

// RejectedError reports that NeoX definitely refused the call: GC/COL code
// 2 or a 4xx code, a non-zero PG code, or HTTP 4xx with an envelope. The
// request had no effect. It never contains secrets.
type RejectedError struct {
	API           string // "PG", "GC" or "COL"
	Op            string // e.g. "refund", "query_pt", "get_refund"
	Code          string // NeoX code as text, e.g. "2", "33", "404"
	Message       string // NeoX message verbatim, e.g. "INSUFFICIENT_BALANCE"
	NeoResponseID string // neoResponseId when NeoX sent one

	notFound bool
}

// Error implements error.
func (e *RejectedError) Error() string {
	s := fmt.Sprintf("neox %s %s: rejected: code %s: %s", e.API, e.Op, e.Code, e.Message)
	if e.NeoResponseID != "" {
		s += " (neoResponseId " + e.NeoResponseID + ")"
	}
	return s
}

// Kind is fault.Refused: NeoX answered and said no.
func (e *RejectedError) Kind() fault.Kind { return fault.Refused }

// Is reports whether target is ErrNotFound and this rejection means "no
// such resource".
func (e *RejectedError) Is(target error) bool {
	return target == ErrNotFound && (e.notFound || isNotFoundAnswer(e.Code, e.Message))
}

func isNotFoundAnswer(code, msg string) bool {
	return code == "404" || strings.EqualFold(msg, "RESOURCE_NOT_FOUND") ||
		strings.Contains(strings.ToLower(msg), "not found")
}

// IsBadSignature reports whether err is PG's answer that the request's
// signature is invalid (code 98): the desk's PG merchant code or secret
// key is wrong.
func IsBadSignature(err error) bool {
	r, ok := IsRejected(err)
	return ok && r.API == "PG" && r.Code == strconv.Itoa(PGCodeBadSignature)
}

// UnknownOutcomeError reports a call whose effect is unknown: timeout,
// connection cut, 5xx, an unparseable answer, or NeoX saying the request id
// is a duplicate. Retry with the same request id, or reconcile.
type UnknownOutcomeError struct {
	API string
	Op  string
	Err error
}

// Error implements error.
func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("neox %s %s: outcome unknown: %v", e.API, e.Op, e.Err)
}

// Unwrap returns the underlying cause.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Kind is fault.Unavailable: NeoX did not answer, or not clearly.
func (e *UnknownOutcomeError) Kind() fault.Kind { return fault.Unavailable }

// IsRejected reports whether err is (or wraps) a *RejectedError and returns it.
func IsRejected(err error) (*RejectedError, bool) {
	var r *RejectedError
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// IsUnknown reports whether err is (or wraps) a *UnknownOutcomeError.
func IsUnknown(err error) bool {
	var u *UnknownOutcomeError
	return errors.As(err, &u)
}

func unknown(api, op string, format string, args ...any) error {
	return &UnknownOutcomeError{API: api, Op: op, Err: fmt.Errorf(format, args...)}
}
