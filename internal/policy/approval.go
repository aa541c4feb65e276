package policy

// Approval policy: how many people must approve a refund, and how much each
// may approve. The desk's rule without any configured policy (the zero
// Approvals) is one manager, any amount: configuring a policy only ever adds
// controls on top of the role rules in Decide.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Approvals is one version of the approval policy: rules per currency
// (optionally per product) and per-approver limits. Amounts are in the
// currency's minor units and are never converted between currencies: a
// currency without a rule takes one approver, an approver without a limit
// in a currency may approve any amount in it.
type Approvals struct {
	Version int64 // 0: no policy was ever configured
	Rules   []Rule
	Limits  []Limit
}

// Rule is the approval rule of one currency, for one product or all.
type Rule struct {
	Currency string // ISO 4217 code, upper case
	API      string // a product's name; "" every product
	// AutoUpTo, when > 0, lets refunds of at most this amount be approved by
	// the policy itself (recorded with the rule); 0 is off.
	AutoUpTo int64
	// DualAbove, when > 0, asks two distinct approvers (neither the maker)
	// for refunds above it; 0: one approver for any amount.
	DualAbove int64
}

// Limit is the most one approver may approve in one currency.
type Limit struct {
	UserID   int64
	Currency string
	UpTo     int64
}

// Presets are the two-approver thresholds offered for VND, from the State
// Bank of Vietnam's payment tiers finance staff know: 5 million, 100 million
// and 1.5 billion đồng (VND has no minor unit).
func Presets() []int64 { return []int64{5_000_000, 100_000_000, 1_500_000_000} }

// ErrBadPolicy is what Validate's errors wrap.
var ErrBadPolicy = errors.New("policy: invalid approval policy")

// Validate checks a policy before it is stored: currency codes, products
// among products (the product registry's names; "" is every product), no
// negative amounts, one rule per currency and product, one limit per
// approver and currency, and an auto-approve floor below the two-approver
// threshold.
func (a Approvals) Validate(products []string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadPolicy}, args...)...)
	}
	seen := map[string]bool{}
	for _, r := range a.Rules {
		if !validCurrency(r.Currency) {
			return bad("currency %q", r.Currency)
		}
		if r.API != "" && !slices.Contains(products, r.API) {
			return bad("product %q", r.API)
		}
		if r.AutoUpTo < 0 || r.DualAbove < 0 {
			return bad("negative amount in the %s rule", r.Currency)
		}
		if r.AutoUpTo > 0 && r.DualAbove > 0 && r.AutoUpTo >= r.DualAbove {
			return bad("the %s auto-approve floor must be below the two-approver threshold", r.Currency)
		}
		k := r.Currency + "/" + r.API
		if seen[k] {
			return bad("two rules for %s", k)
		}
		seen[k] = true
	}
	seenL := map[string]bool{}
	for _, l := range a.Limits {
		if l.UserID <= 0 || !validCurrency(l.Currency) || l.UpTo < 0 {
			return bad("limit %+v", l)
		}
		k := fmt.Sprint(l.UserID, "/", l.Currency)
		if seenL[k] {
			return bad("two limits for user %d in %s", l.UserID, l.Currency)
		}
		seenL[k] = true
	}
	return nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// RuleFor is the rule for a refund of currency through api: the product's
// own rule first, then the currency's; ok is false when neither exists.
func (a Approvals) RuleFor(api, currency string) (Rule, bool) {
	currency = strings.ToUpper(currency)
	var general *Rule
	for i, r := range a.Rules {
		if r.Currency != currency {
			continue
		}
		if r.API == api {
			return r, true
		}
		if r.API == "" {
			general = &a.Rules[i]
		}
	}
	if general != nil {
		return *general, true
	}
	return Rule{}, false
}

// Required is how many approvals a refund of amount needs under r: 0 (the
// policy approves it), 1 or 2.
func (r Rule) Required(amount int64) int {
	switch {
	case r.AutoUpTo > 0 && amount <= r.AutoUpTo:
		return 0
	case r.DualAbove > 0 && amount > r.DualAbove:
		return 2
	}
	return 1
}

// Snapshot is the rule that applied to a refund when it was requested,
// kept on the refund so later policy changes never touch it.
type Snapshot struct {
	Version  int64 // the policy version; 0 none configured
	Matched  bool  // a rule for the refund's currency (and product) existed
	Rule     Rule
	Required int // approvals needed: 0, 1 or 2
}

// Snapshot says what a refund of amount in currency through api needs now.
func (a Approvals) Snapshot(api, currency string, amount int64) Snapshot {
	r, ok := a.RuleFor(api, currency)
	s := Snapshot{Version: a.Version, Matched: ok, Rule: r, Required: 1}
	if ok {
		s.Required = r.Required(amount)
	}
	return s
}

// LimitOf is user's approval limit in currency; ok is false when none is
// set (any amount).
func (a Approvals) LimitOf(user int64, currency string) (upTo int64, ok bool) {
	for _, l := range a.Limits {
		if l.UserID == user && l.Currency == currency {
			return l.UpTo, true
		}
	}
	return 0, false
}

// WithinLimit reports whether user may approve amount in currency.
func (a Approvals) WithinLimit(user int64, currency string, amount int64) bool {
	upTo, ok := a.LimitOf(user, currency)
	return !ok || amount <= upTo
}

// Candidate is a user who might approve a refund.
type Candidate struct {
	Actor
	Disabled bool
}

// ErrNoApprover is what Approvable's errors wrap: nobody could ever approve
// the refund, so it is refused when it is requested.
var ErrNoApprover = errors.New("policy: nobody may approve this refund")

// Shortfall says why a refund cannot be approved by the people there are.
type Shortfall struct {
	Required int // approvals needed
	Able     int // distinct users who may give one
}

func (s *Shortfall) Error() string {
	return fmt.Sprintf("policy: the refund needs %d approver(s), %d may approve it", s.Required, s.Able)
}

// Unwrap is ErrNoApprover.
func (s *Shortfall) Unwrap() error { return ErrNoApprover }

// Approvable checks, when a refund is requested, that enough distinct active
// users other than its maker may approve it under p: their role permits
// approving and their limit covers the amount. nil or a *Shortfall.
func (p Policy) Approvable(maker int64, s Subject, required int, people []Candidate) error {
	if required == 0 {
		return nil
	}
	able := 0
	for _, c := range people {
		if c.Disabled || c.ID == maker || c.ID == 0 || !p.Permits(c.Actor, Approve) {
			continue
		}
		if p.Approvals != nil && !p.Approvals.WithinLimit(c.ID, s.Currency, s.Amount) {
			continue
		}
		able++
	}
	if able < required {
		return &Shortfall{Required: required, Able: able}
	}
	return nil
}

// approvedBy reports whether id already approved s.
func (s Subject) approvedBy(id int64) bool { return slices.Contains(s.ApprovedBy, id) }
