// Package policy is the one place that decides who may do what: which
// roles exist, which pages and operations each may use, and what a signed-in
// user may do to a given refund. The route table, the handlers, the
// templates (through booleans in their view models) and the refunds domain
// all ask it, so a rule changes in one file. Approval policies (amount
// limits, two approvers) plug in here.
//
// The package imports nothing from the app, so every layer can use it.
package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Role is what a user may do. Admin manages users and is not implicitly a
// manager.
type Role string

// The roles.
const (
	Staff   Role = "staff"   // looks up transactions, requests refunds
	Manager Role = "manager" // also approves refunds, reviews the audit trail
	Admin   Role = "admin"   // manages users
)

// Roles lists every role, least privileged first: the order of the users
// page's choices and of the command line's help.
func Roles() []Role { return []Role{Staff, Manager, Admin} }

// ErrUnknownRole is returned (wrapped) by ParseRole for a name that is not
// a role.
var ErrUnknownRole = errors.New("policy: unknown role")

// ParseRole reads a role name, case-insensitive and trimmed.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("%w %q: choose %s", ErrUnknownRole, s, RoleNames())
	}
	return r, nil
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case Staff, Manager, Admin:
		return true
	}
	return false
}

// RoleNames lists the roles in words: "staff, manager or admin".
func RoleNames() string {
	rs := Roles()
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
