package handlers

import (
	"maps"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

// Reasons of access.denied events (details.reason).
const (
	deniedRole         = "role"          // the route's access level refuses the user's role (403)
	deniedCrossOrigin  = "cross_origin"  // http.CrossOriginProtection refused a form post (403)
	deniedNotOwner     = "not_owner"     // staff opening or cancelling another user's refund (403)
	deniedSelfApproval = "self_approval" // deciding on one's own refund, alone or in bulk (403)
	deniedOverLimit    = "over_limit"    // approving above one's limit in the refund's currency (403)
	deniedSameApprover = "same_approver" // giving both of the two approvals a refund needs (403)
	deniedConflict     = "conflict"      // a decision that lost a race or came too late (409)
)

// denied records a refused request as access.denied, through the refusal
// limiter: anyone can repeat a refused request as fast as they like, so the
// rows per source are bounded and the rest counted (audit.Limiter). The
// actor comes from the request's audit origin (the signed-in user), or is
// "anonymous". A failure to record is logged, never shown: the refusal
// stands either way.
func (s *Server) denied(r *http.Request, reason, targetType, targetID string, extra map[string]any) {
	d := map[string]any{"reason": reason, "method": r.Method, "path": truncate(r.URL.Path, 200)}
	maps.Copy(d, extra)
	e := audit.Event{Action: audit.ActionAccessDenied, Outcome: audit.OutcomeDenied,
		TargetType: targetType, TargetID: targetID, Details: d}
	anonymous := false
	if o, ok := audit.OriginFrom(r.Context()); !ok || (o.ActorID == 0 && o.ActorName == "") {
		e.ActorName, anonymous = "anonymous", true
	}
	if err := s.refused.RecordNow(r.Context(), e); err != nil {
		s.log.ErrorContext(r.Context(), "recording a refused request failed", "err", err, "reason", reason)
	}
	if anonymous {
		s.pace.refused(r.Context(), s.clientIP(r))
	}
}
