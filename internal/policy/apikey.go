package policy

import (
	"fmt"
	"strings"
)

// API keys (issue 18): a merchant's own system calling /api/v1. A key is
// not a person: it has the role APIKey, which no user can be given, and
// what it may do is its scopes'. Whatever its scopes, a key never decides
// (approve, reject), resolves, cancels or exports: those stay with people.

// APIKey is the role of a request authenticated by an API key. It is not
// among Roles() and not Valid(): no user has it.
const APIKey Role = "apikey"

// Scopes is the set of what an API key was granted.
type Scopes uint8

// The scopes.
const (
	// ScopeRead: get one refund and list refunds (everyone's: the key
	// speaks for the merchant's systems, not for one person).
	ScopeRead Scopes = 1 << iota
	// ScopeCreate: request refunds, which land in the approval queue like
	// a person's.
	ScopeCreate
)

// scopeNames are the scopes as the API, the page and the database spell
// them, in order.
var scopeNames = []struct {
	s    Scopes
	name string
}{{ScopeRead, "read"}, {ScopeCreate, "create"}}

// ScopeNames lists every scope's name.
func ScopeNames() []string {
	out := make([]string, len(scopeNames))
	for i, n := range scopeNames {
		out[i] = n.name
	}
	return out
}

// Has reports whether s includes every scope of want.
func (s Scopes) Has(want Scopes) bool { return want != 0 && s&want == want }

// Names lists s's scopes by name, in order.
func (s Scopes) Names() []string {
	var out []string
	for _, n := range scopeNames {
		if s.Has(n.s) {
			out = append(out, n.name)
		}
	}
	return out
}

// String is s as stored: names joined by spaces ("read create").
func (s Scopes) String() string { return strings.Join(s.Names(), " ") }

// ParseScopes reads scope names (separated by spaces or commas); at least
// one, each known.
func ParseScopes(names ...string) (Scopes, error) {
	var s Scopes
	for _, field := range names {
		for _, n := range strings.FieldsFunc(field, func(r rune) bool { return r == ' ' || r == ',' }) {
			found := false
			for _, k := range scopeNames {
				if strings.EqualFold(n, k.name) {
					s, found = s|k.s, true
				}
			}
			if !found {
				return 0, fmt.Errorf("policy: unknown scope %q: choose %s", n, strings.Join(ScopeNames(), " or "))
			}
		}
	}
	if s == 0 {
		return 0, fmt.Errorf("policy: an API key needs at least one scope")
	}
	return s, nil
}

// permitsKey is Permits for an API key: by its scopes, and never the
// decisions or anything of the admins'.
func permitsKey(s Scopes, action Action) bool {
	switch action {
	case Request:
		return s.Has(ScopeCreate)
	case RefundWork, View, ViewAll:
		return s.Has(ScopeRead)
	}
	return false
}
