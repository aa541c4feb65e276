// Package auth holds users and roles, argon2id password hashing, login
// throttling and the SQLite-backed session store.
//
// Every change that matters to an auditor is recorded through a Recorder
// inside the same write transaction as the change, so the event commits if
// and only if the change does.
package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Recorder appends audit events inside the caller's transaction.
type Recorder interface {
	// Record appends e using tx. An error makes the caller roll back the
	// change the event describes.
	Record(ctx context.Context, tx *store.Tx, e audit.Event) error
}

// Options tune a Service; zero values take the defaults.
type Options struct {
	Now             func() time.Time // default time.Now
	IdleTimeout     time.Duration    // default 30m
	AbsoluteTimeout time.Duration    // default 12h
	Argon           Params           // default DefaultParams()
	Throttle        ThrottlePolicy   // default DefaultThrottlePolicy()
	// Refusals rate-limits the audit rows of throttled logins (nil: every
	// one is recorded).
	Refusals Admitter
}

// Admitter is the audit flood limiter as auth sees it (audit.Limiter).
type Admitter interface {
	// Admit reports whether e may be written as a row of its own now;
	// when it returns false the limiter has counted e for an aggregate.
	Admit(ctx context.Context, e audit.Event) bool
}

// Service manages users, logins and sessions.
type Service struct {
	db       *store.DB
	rec      Recorder
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	argon    Params
	throttle ThrottlePolicy

	// verify checks a password against a stored hash; tests wrap it to count
	// the (expensive) hash computations.
	verify func(encoded, password string) (bool, error)

	dummyOnce sync.Once
	dummyHash string
	dummyErr  error

	sessions atomic.Pointer[SessionStore]
	devices  atomic.Pointer[deviceCookie]
	// sealKeys seal second-factor secrets (secondfactor.go); pending is
	// the cookie of a sign-in waiting for its second step.
	sealKeys atomic.Pointer[[][]byte]
	pending  atomic.Pointer[pendingCookie]

	// refusals, when set, decides whether a refused attempt (a throttled
	// login) gets an audit row of its own or only a place in an aggregate.
	refusals Admitter
}

// NewService returns a Service using db and recording audit events with
// rec. It panics when rec is nil: auth changes must never go unaudited.
func NewService(db *store.DB, rec Recorder, opts Options) *Service {
	if db == nil || rec == nil {
		panic("auth.NewService: db and recorder are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.AbsoluteTimeout <= 0 {
		opts.AbsoluteTimeout = 12 * time.Hour
	}
	return &Service{
		db:       db,
		rec:      rec,
		now:      opts.Now,
		idle:     opts.IdleTimeout,
		absolute: opts.AbsoluteTimeout,
		argon:    opts.Argon.withDefaults(),
		throttle: opts.Throttle.withDefaults(),
		verify:   VerifyPassword,
		refusals: opts.Refusals,
	}
}

// nowUTC is the clock reading as stored: UTC, microsecond precision, no
// monotonic part, so values read back compare equal.
func (s *Service) nowUTC() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// tx runs fn in a write transaction acting at the service's clock, so the
// times the store writes agree with the ones the rules compare against.
func (s *Service) tx(ctx context.Context, fn func(tx *store.Tx) error) error {
	return s.db.TxAt(ctx, s.nowUTC(), fn)
}

// Errors returned by the Service. Those with a kind (internal/fault) are
// rendered by it; the handlers answer the others in place.
var (
	// ErrInvalidCredentials is returned for an unknown user, a wrong
	// password and a disabled account alike, so logins do not reveal which
	// usernames exist.
	ErrInvalidCredentials = errors.New("auth: invalid username or password")
	// ErrThrottled matches every *ThrottledError.
	ErrThrottled = errors.New("auth: too many failed attempts, try again later")
	// ErrNotFound: no user with that id or name.
	ErrNotFound = fault.New(fault.NotFound, "auth: user not found")
	// ErrUsernameTaken: CreateUser with an existing username (case-insensitive).
	ErrUsernameTaken = fault.New(fault.Conflict, "auth: username already taken")
	// ErrInvalidInput matches every *ValidationError.
	ErrInvalidInput = errors.New("auth: invalid input")
	// ErrWeakPassword matches a *ValidationError whose "password" field is set.
	ErrWeakPassword = errors.New("auth: password does not meet the policy")
	// ErrDisabled: the operation needs an enabled account.
	ErrDisabled = errors.New("auth: account is disabled")
	// ErrLastAdmin: the change would leave no enabled admin.
	ErrLastAdmin = fault.New(fault.Conflict, "auth: cannot remove the last enabled admin")
	// ErrNoSession: no session cookie, or its session expired, was revoked,
	// or belongs to a disabled user.
	ErrNoSession = errors.New("auth: no valid session")
)

// ThrottledError says how long to wait before the next login attempt.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", ErrThrottled, e.RetryAfter)
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// ValidationError carries one message per invalid form field ("username",
// "display_name", "password", "role", "lang").
// Each message is a catalogue key with its English text (internal/fault).
type ValidationError struct {
	Fields fault.Fields
}

func (e *ValidationError) Error() string { return "auth: invalid input: " + e.Fields.Summary() }

// Kind is fault.Invalid.
func (e *ValidationError) Kind() fault.Kind { return fault.Invalid }

// FieldMessages returns the field messages (fault.FieldError).
func (e *ValidationError) FieldMessages() fault.Fields { return e.Fields }

// Is makes errors.Is match ErrInvalidInput, and ErrWeakPassword when the
// password field is among the problems.
func (e *ValidationError) Is(target error) bool {
	switch target {
	case ErrInvalidInput:
		return true
	case ErrWeakPassword:
		return !e.Fields["password"].IsZero()
	}
	return false
}

// fieldErrors collects validation messages; err returns nil when empty.
type fieldErrors fault.Fields

func (f fieldErrors) add(field string, msg fault.Msg) {
	if !msg.IsZero() && f[field].IsZero() {
		f[field] = msg
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: fault.Fields(f)}
}
