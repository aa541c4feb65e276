package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// What the person was doing when NeoX failed, so the message can say what
// did not happen. Each names an i18n key.
const (
	doneLookup  = ""                       // a lookup changes nothing: no second sentence
	doneApprove = "neox.nothing_approved"  // approving re-reads NeoX first
	doneRequest = "neox.nothing_requested" // requesting reads NeoX's numbers first
	doneGeneric = "neox.nothing_changed"   // anything else
)

// neoxProblem is the one place a NeoX failure becomes words: the status to
// answer with and a sentence the person can act on. ok is false when err
// is not NeoX's. An unknown outcome (no answer, timeout, 5xx) is 503 and
// says to try again; a refusal is 502 with NeoX's code and message.
func neoxProblem(ctx context.Context, err error, done string) (status int, msg string, ok bool) {
	var rej *neox.RejectedError
	switch {
	case errors.As(err, &rej):
		msg = i18n.T(ctx, "tx.refused")
		if rej.Code != "" {
			msg += i18n.T(ctx, "tx.refused_code", rej.Code)
		}
		if rej.Message != "" {
			msg += ": " + rej.Message
		}
		msg += "."
		status = http.StatusBadGateway
	case neox.IsUnknown(err):
		msg, status = i18n.T(ctx, "tx.no_answer"), http.StatusServiceUnavailable
	default:
		return 0, "", false
	}
	if done != doneLookup {
		msg += " " + i18n.T(ctx, done)
	}
	return status, msg, true
}
