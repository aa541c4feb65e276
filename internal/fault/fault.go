// Package fault is the desk's small vocabulary of error kinds and of
// messages for people.
//
// A domain error says what kind of failure it is (not found, forbidden,
// conflict, invalid input, NeoX refused, NeoX did not answer); the
// handlers render each kind one way, for pages and for htmx alike. A
// message for a person is a catalogue key with its values (Msg), so it is
// translated by key, never by matching its English text; it keeps an
// English rendering for logs and tests.
//
// The package imports nothing of the desk, so every domain package and
// the NeoX client can use it.
package fault

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Kind is what sort of failure an error is, which decides how it is
// shown: the HTTP status and the page or fragment.
type Kind uint8

// The kinds. Internal is every error that carries no kind: a bug or an
// outage of the desk itself, logged and never shown.
const (
	Internal    Kind = iota
	NotFound         // the thing asked for does not exist (404)
	Forbidden        // this user may not do this (403)
	Conflict         // the thing is no longer in a state that allows it (409)
	Invalid          // the input is wrong; field messages say how (422)
	Refused          // NeoX answered and refused (502)
	Unavailable      // NeoX did not answer, or its answer is not known (503)
)

var kindNames = [...]string{"internal", "not found", "forbidden", "conflict", "invalid", "NeoX refused", "NeoX did not answer"}

// String names the kind for logs.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Kinder is implemented by errors that know their kind.
type Kinder interface {
	Kind() Kind
}

// KindOf is the kind of the first error in err's chain that has one;
// Internal when none has (or err is nil).
func KindOf(err error) Kind {
	var k Kinder
	if err != nil && errors.As(err, &k) {
		return k.Kind()
	}
	return Internal
}

// sentinel is an error value of a kind, matched by identity (errors.Is).
type sentinel struct {
	kind Kind
	text string
}

func (e *sentinel) Error() string { return e.text }
func (e *sentinel) Kind() Kind    { return e.kind }

// New returns a distinct error value of kind k whose Error is text (for
// logs). Domain packages declare their sentinels with it, so callers can
// both match them (errors.Is) and render them by kind.
func New(k Kind, text string) error { return &sentinel{kind: k, text: text} }

// Msg is a message for a person: a catalogue key (internal/i18n) and its
// values, with the English sentence kept for logs, tests and Error. The
// zero Msg is "no message".
type Msg struct {
	Key     string // e.g. "domain.01"; the handlers translate by it
	English string // the English text, with fmt verbs where Args go
	Args    []any
}

// M builds a message from its key, its English text and its values.
func M(key, english string, args ...any) Msg { return Msg{Key: key, English: english, Args: args} }

// IsZero reports whether m is no message.
func (m Msg) IsZero() bool { return m.Key == "" && m.English == "" }

// String is the English sentence with its values.
func (m Msg) String() string {
	if len(m.Args) == 0 {
		return m.English
	}
	return fmt.Sprintf(m.English, m.Args...)
}

// Error makes a lone message an error of kind Invalid (ParseAmount's
// answer, for one): its text is the English sentence.
func (m Msg) Error() string { return m.String() }

// Kind is Invalid: a message is about input a person gave.
func (m Msg) Kind() Kind { return Invalid }

// Fields holds one message per form field.
type Fields map[string]Msg

// Summary lists the fields' English messages in field order, for an
// error's text.
func (f Fields) Summary() string {
	keys := slices.Sorted(maps.Keys(f))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + f[k].String()
	}
	return strings.Join(parts, "; ")
}

// FieldError is implemented by validation errors: which fields are wrong
// and why.
type FieldError interface {
	error
	FieldMessages() Fields
}

// FieldsOf returns the field messages of the first validation error in
// err's chain.
func FieldsOf(err error) (Fields, bool) {
	var fe FieldError
	if err != nil && errors.As(err, &fe) {
		return fe.FieldMessages(), true
	}
	return nil, false
}
