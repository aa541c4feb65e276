package auth

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ThrottlePolicy slows password guessing down without ever locking an
// account's owner out (issue 12). Attempts are judged by where they come
// from:
//
//   - From a trusted device (a browser presenting a valid device cookie for
//     the username, see device.go), only that device's own counter applies:
//     DeviceFailures free failures, then exponential backoff from BaseDelay
//     to MaxDelay. A stolen or guessing device locks itself, never the
//     account, and the per-address limit does not apply, so neither an
//     attacker elsewhere nor colleagues behind the same proxy can keep the
//     owner out.
//   - From anywhere else, two limits apply together: the account's budget
//     of untrusted guesses (AccountGuesses per AccountWindow, as a token
//     bucket: a burst of AccountGuesses, then one more every
//     AccountWindow/AccountGuesses), shared by every untrusted client, and
//     the per-address backoff (IPFailures free, IPv6 per /64). When the
//     budget is spent, untrusted attempts at that account are refused until
//     it refills; trusted devices are unaffected.
//
// Nothing is permanent: the longest wait is max(MaxDelay,
// AccountWindow/AccountGuesses) for the next attempt. Zero fields take the
// defaults.
type ThrottlePolicy struct {
	// AccountGuesses is the burst of untrusted failures per account, and
	// how many more refill per AccountWindow (default 5).
	AccountGuesses int
	// AccountWindow is the budget's refill period (default 1h).
	AccountWindow time.Duration
	// DeviceFailures is how many failures a trusted device may make before
	// its own backoff starts (default 10).
	DeviceFailures int
	// UserFailures is how many wrong current passwords a signed-in user may
	// type on the account page before backoff starts (default 5).
	UserFailures int
	// IPFailures is the same per client address (IPv6 per /64); higher
	// because an office shares one address (default 20).
	IPFailures int
	// BaseDelay is the first backoff lock (default 1s).
	BaseDelay time.Duration
	// MaxDelay caps every backoff lock (default 15m).
	MaxDelay time.Duration
	// ForgetAfter resets a counter after this long without a failure
	// (default 24h).
	ForgetAfter time.Duration
}

// DefaultThrottlePolicy returns the policy used for zero fields.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{AccountGuesses: 5, AccountWindow: time.Hour, DeviceFailures: 10,
		UserFailures: 5, IPFailures: 20, BaseDelay: time.Second,
		MaxDelay: 15 * time.Minute, ForgetAfter: 24 * time.Hour}
}

func (p ThrottlePolicy) withDefaults() ThrottlePolicy {
	d := DefaultThrottlePolicy()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&p.AccountGuesses, d.AccountGuesses)
	set(&p.DeviceFailures, d.DeviceFailures)
	set(&p.UserFailures, d.UserFailures)
	set(&p.IPFailures, d.IPFailures)
	setD(&p.AccountWindow, d.AccountWindow)
	setD(&p.BaseDelay, d.BaseDelay)
	setD(&p.MaxDelay, d.MaxDelay)
	setD(&p.ForgetAfter, d.ForgetAfter)
	return p
}

// refill is the time one untrusted guess takes to come back to an account.
func (p ThrottlePolicy) refill() time.Duration {
	return p.AccountWindow / time.Duration(p.AccountGuesses)
}

// delay is the lock after the failures-th consecutive failure when free
// failures are allowed: 0 below free, then BaseDelay doubling up to MaxDelay.
func (p ThrottlePolicy) delay(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	n := failures - free
	if n >= 32 {
		return p.MaxDelay
	}
	d := p.BaseDelay << n
	if d <= 0 || d > p.MaxDelay {
		return p.MaxDelay
	}
	return d
}

// Scopes of a throttle key, as the audit trail names them.
const (
	scopeAccount  = "account"  // untrusted guesses at one username (budget)
	scopeIP       = "ip"       // untrusted guesses from one address (backoff)
	scopeDevice   = "device"   // one trusted device (backoff)
	scopePassword = "password" // current-password checks of a signed-in user (backoff)
)

type throttleKey struct {
	key   string
	scope string
	free  int  // backoff keys: failures before the first lock
	rate  bool // the account budget (token bucket) rather than backoff
}

func userThrottleKey(username string) string { return "user:" + NormalizeUsername(username) }

// loginThrottleKeys are the counters a login attempt is judged against: its
// device's alone when it presents a valid device cookie for the username,
// else the account's budget and the address's.
func (s *Service) loginThrottleKeys(username, clientIP, device string) []throttleKey {
	if device != "" {
		return []throttleKey{{key: "dev:" + device, scope: scopeDevice, free: s.throttle.DeviceFailures}}
	}
	keys := []throttleKey{{key: userThrottleKey(username), scope: scopeAccount, rate: true}}
	if ip := throttleIP(clientIP); ip != "" {
		keys = append(keys, throttleKey{key: "ip:" + ip, scope: scopeIP, free: s.throttle.IPFailures})
	}
	return keys
}

// throttleIP normalises a client address: port dropped, IPv4-mapped
// addresses unmapped, IPv6 grouped by /64 (one host usually owns a whole
// /64, so per-address counting would be trivial to dodge).
func throttleIP(s string) string {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	if s == "" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return clip(s, 64)
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// ThrottleSource is the address as the throttle and the audit limiter
// group it: the address itself, an IPv6 address's /64.
func ThrottleSource(addr string) string { return throttleIP(addr) }

// countAttempt is called, inside a write transaction, before a password is
// checked. When any key refuses it returns how long the longest refusal has
// left and which scope it is, and changes nothing. Otherwise it counts the
// attempt as a failure on every key up front, so that parallel guesses
// cannot all slip in under the limit while the slow hash runs; a success
// gives the charge back (clearAttempt).
//
// Rows of login_throttle: failures is the count of charged failures;
// last_failure the time of the latest; locked_until is, for a backoff key,
// the end of its lock and, for the account budget, the bucket's theoretical
// arrival time (GCRA: the budget is spent while it lies more than
// AccountWindow ahead of now).
func (s *Service) countAttempt(ctx context.Context, tx *store.Tx, keys []throttleKey) (time.Duration, string, error) {
	now := tx.Now()
	states, wait, scope, err := s.readThrottle(ctx, tx, keys, now)
	if err != nil {
		return 0, "", err
	}
	step := s.throttle.refill()
	if wait > 0 {
		return wait, scope, nil
	}
	for i, k := range keys {
		n := states[i].failures + 1
		until := now.Add(s.throttle.delay(n, k.free))
		if k.rate {
			until = states[i].locked.Add(step)
		}
		if err := tx.RecordFailure(ctx, k.key, n, until); err != nil {
			return 0, "", err
		}
	}
	return 0, "", nil
}

// throttleState is one key's row as countAttempt needs it.
type throttleState struct {
	failures int       // charged failures not yet forgotten
	locked   time.Time // budget keys: the bucket's arrival time, at least now
}

// throttleReader is a transaction or the database's read pool.
type throttleReader interface {
	Throttle(ctx context.Context, key string) (store.ThrottleRecord, error)
}

// readThrottle reads keys' rows and returns how long the longest refusal
// has left (0: none) and its scope. It writes nothing, so Authenticate can
// ask the read pool first and refuse a flood of throttled attempts without
// taking the single writer (issue 12: the flood slowed legitimate writes).
func (s *Service) readThrottle(ctx context.Context, q throttleReader, keys []throttleKey, now time.Time) ([]throttleState, time.Duration, string, error) {
	states := make([]throttleState, len(keys))
	var wait time.Duration
	var scope string
	step, burst := s.throttle.refill(), s.throttle.AccountWindow
	for i, k := range keys {
		states[i].locked = now
		row, err := q.Throttle(ctx, k.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, "", err
		}
		if now.Sub(row.LastFailure) < s.throttle.ForgetAfter {
			states[i].failures = row.Failures
		}
		var left time.Duration
		if k.rate {
			if row.LockedUntil.After(now) {
				states[i].locked = row.LockedUntil
			}
			left = states[i].locked.Add(step).Sub(now) - burst
		} else {
			left = row.LockedUntil.Sub(now)
		}
		if left > wait {
			wait, scope = left, k.scope
		}
	}
	return states, wait, scope, nil
}

// clearAttempt runs after a successful login and gives back what
// countAttempt charged. A trusted device's counter resets. The account's
// budget only gets its one guess back: a success by the owner must not
// hand an attacker a fresh budget. The address's earlier failures stay
// (they decay with ForgetAfter), so one valid account cannot be used to
// reset the counter between guesses at other accounts.
func (s *Service) clearAttempt(ctx context.Context, tx *store.Tx, keys []throttleKey) error {
	for _, k := range keys {
		var err error
		switch {
		case k.scope == scopeDevice || k.scope == scopePassword:
			err = tx.DeleteThrottle(ctx, k.key)
		case k.rate:
			var row store.ThrottleRecord
			row, err = tx.Throttle(ctx, k.key)
			if errors.Is(err, store.ErrNotFound) {
				err = nil
				break
			}
			if err == nil {
				err = tx.ForgiveFailureUntil(ctx, k.key, row.LockedUntil.Add(-s.throttle.refill()))
			}
		default:
			err = tx.ForgiveFailure(ctx, k.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneThrottle forgets counters idle for longer than ForgetAfter, so
// sprayed unknown usernames do not pile up.
func (s *Service) pruneThrottle(ctx context.Context, tx *store.Tx) error {
	return tx.PruneThrottle(ctx, tx.Now().Add(-s.throttle.ForgetAfter))
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
