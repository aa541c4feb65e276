package policy

import (
	"slices"
	"time"
)

// Two-factor sign-in rules (issue 17). The admin setting lists the roles
// that must sign in with a second factor; the step-up limits say above
// which amount, per currency, approving asks for a fresh code.

// DefaultSecondFactorRoles are the roles offered when the requirement is
// first turned on: those who move money or manage who may.
func DefaultSecondFactorRoles() []Role { return []Role{Manager, Admin} }

// SecondFactorRequired reports whether a user with role must have a second
// factor, given the roles the admin setting names.
func (p Policy) SecondFactorRequired(role Role, required []Role) bool {
	return role != "" && slices.Contains(required, role)
}

// StepUp are the step-up limits: approving a refund whose amount (minor
// units) is above Limits[currency] asks the approver for a second-factor
// code, unless they gave one within Window. A currency without a limit
// never asks; amounts are never converted between currencies.
type StepUp struct {
	Limits map[string]int64
	Window time.Duration // how long a code stays good for further step-ups; 0: every approval asks
}

// StepUpRequired reports whether approving amount in currency asks for a
// code under su.
func (p Policy) StepUpRequired(su StepUp, amount int64, currency string) bool {
	limit, ok := su.Limits[currency]
	return ok && amount > limit
}
