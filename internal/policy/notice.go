package policy

// Notices are the kinds of notification the desk sends (package notify
// sends them under the same names).
const (
	NoticeRequested = "refund.requested"       // a new request awaits approval
	NoticeReminder  = "refund.reminder"        // a request still awaits approval
	NoticeDecided   = "refund.decided"         // a request was approved or rejected
	NoticeOutcome   = "refund.outcome"         // NeoX (or a manager) settled a refund
	NoticeAttention = "refund.needs_attention" // a refund got no final answer in time
	NoticeOutage    = "neox.outage"            // NeoX stopped answering
)

// Audience says who is told of a notice: every enabled user of roles, and
// the refund's requester when requester is true. Approvers hear of the
// requests they may decide (the notifier leaves out the requester, who may
// not decide their own); a requester hears of the decision on and the
// outcome of their own requests; refunds that need attention go to those
// who resolve them and to admins, who run the desk; NeoX outages go to
// admins. An unknown notice reaches nobody.
func (p Policy) Audience(notice string) (roles []Role, requester bool) {
	may := func(a Action) []Role {
		var out []Role
		for _, r := range Roles() {
			if p.Permits(Actor{Role: r}, a) {
				out = append(out, r)
			}
		}
		return out
	}
	switch notice {
	case NoticeRequested, NoticeReminder:
		return may(Approve), false
	case NoticeDecided, NoticeOutcome:
		return nil, true
	case NoticeAttention:
		return append(may(Resolve), Admin), false
	case NoticeOutage:
		return []Role{Admin}, false
	}
	return nil, false
}

// Hears reports whether a user of role can be told of notice at all (as
// one of its roles, or as a requester: a role that may request refunds).
// The account page offers these notices.
func (p Policy) Hears(role Role, notice string) bool {
	roles, requester := p.Audience(notice)
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return requester && p.Permits(Actor{Role: role}, Request)
}
