package auth

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ThrottlePolicy slows down password guessing per username and per client
// address with exponential backoff. Locks are never permanent: each lasts at
// most MaxDelay, so an attacker can slow a real user down but never lock
// them out for good. Zero fields take the defaults.
type ThrottlePolicy struct {
	// UserFailures is how many failures per username are free before the
	// delays start (default 5: the 5th failure locks for BaseDelay, the 6th
	// for twice that, and so on).
	UserFailures int
	// IPFailures is the same per client address (IPv6 per /64); higher
	// because an office shares one address (default 20).
	IPFailures int
	// BaseDelay is the first lock (default 1s).
	BaseDelay time.Duration
	// MaxDelay caps every lock (default 15m).
	MaxDelay time.Duration
	// ForgetAfter resets a counter after this long without a failure
	// (default 24h).
	ForgetAfter time.Duration
}

// DefaultThrottlePolicy returns the policy used for zero fields.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{UserFailures: 5, IPFailures: 20, BaseDelay: time.Second,
		MaxDelay: 15 * time.Minute, ForgetAfter: 24 * time.Hour}
}

func (p ThrottlePolicy) withDefaults() ThrottlePolicy {
	d := DefaultThrottlePolicy()
	if p.UserFailures <= 0 {
		p.UserFailures = d.UserFailures
	}
	if p.IPFailures <= 0 {
		p.IPFailures = d.IPFailures
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.ForgetAfter <= 0 {
		p.ForgetAfter = d.ForgetAfter
	}
	return p
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

type throttleKey struct {
	key   string
	scope string // "user" or "ip", for the audit trail
	free  int
}

func userThrottleKey(username string) string { return "user:" + NormalizeUsername(username) }

func (s *Service) throttleKeys(username, clientIP string) []throttleKey {
	keys := []throttleKey{{key: userThrottleKey(username), scope: "user", free: s.throttle.UserFailures}}
	if ip := throttleIP(clientIP); ip != "" {
		keys = append(keys, throttleKey{key: "ip:" + ip, scope: "ip", free: s.throttle.IPFailures})
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

// countAttempt is called, inside a write transaction, before a password is
// checked. When any key is locked it returns how long the longest lock has
// left and which scope it is, and changes nothing. Otherwise it counts the
// attempt as a failure up front, so that parallel guesses cannot all slip in
// under the limit while the slow hash runs; a success undoes the count
// (clearAttempt).
func (s *Service) countAttempt(ctx context.Context, tx *sql.Tx, keys []throttleKey, now time.Time) (time.Duration, string, error) {
	failures := make([]int, len(keys))
	var wait time.Duration
	var scope string
	for i, k := range keys {
		var n int
		var last, locked string
		err := tx.QueryRowContext(ctx, `SELECT failures, last_failure, locked_until FROM login_throttle WHERE key = ?`,
			k.key).Scan(&n, &last, &locked)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		lastT, err1 := store.ParseTime(last)
		lockedT, err2 := store.ParseTime(locked)
		if err := errors.Join(err1, err2); err != nil {
			return 0, "", err
		}
		if now.Sub(lastT) < s.throttle.ForgetAfter {
			failures[i] = n
		}
		if left := lockedT.Sub(now); left > wait {
			wait, scope = left, k.scope
		}
	}
	if wait > 0 {
		return wait, scope, nil
	}
	for i, k := range keys {
		n := failures[i] + 1
		_, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, last_failure, locked_until)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
				last_failure = excluded.last_failure, locked_until = excluded.locked_until`,
			k.key, n, store.FormatTime(now), store.FormatTime(now.Add(s.throttle.delay(n, k.free))))
		if err != nil {
			return 0, "", err
		}
	}
	return 0, "", nil
}

// clearAttempt runs after a successful login: the username's counter
// resets, and the address gets back the attempt countAttempt charged. The
// address's earlier failures stay (they decay with ForgetAfter), so one
// valid account cannot be used to reset the counter between guesses at
// other accounts.
func clearAttempt(ctx context.Context, tx *sql.Tx, keys []throttleKey) error {
	for _, k := range keys {
		var err error
		if k.scope == "user" {
			_, err = tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key = ?`, k.key)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE login_throttle SET failures = max(failures - 1, 0) WHERE key = ?`, k.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneThrottle forgets counters idle for longer than ForgetAfter, so
// sprayed unknown usernames do not pile up.
func (s *Service) pruneThrottle(ctx context.Context, tx *sql.Tx, now time.Time) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE last_failure < ?`,
		store.FormatTime(now.Add(-s.throttle.ForgetAfter)))
	return err
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
