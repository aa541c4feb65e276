package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

// enrol gives u a confirmed authenticator and returns its secret and the
// recovery codes.
func (e *testEnv) enrol(t *testing.T, u User) (string, []string) {
	t.Helper()
	ctx := context.Background()
	if err := e.svc.BeginTOTP(ctx, u); err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	key, err := e.svc.PendingTOTP(ctx, u)
	if err != nil {
		t.Fatalf("PendingTOTP: %v", err)
	}
	codes, err := e.svc.ConfirmTOTP(ctx, u, e.code(t, key.Secret()))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return key.Secret(), codes
}

// code is the TOTP code of secret at the test clock's time.
func (e *testEnv) code(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newMFAEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t)
	e.svc.SessionStore([][]byte{[]byte(strings.Repeat("k", 64)), []byte(strings.Repeat("b", 32))}, CookieOptions{})
	return e
}

func TestTOTPEnrolmentAndSignIn(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	secret, codes := e.enrol(t, u)
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes, want 10", len(codes))
	}
	e.wantLastEvent(t, audit.ActionMFAEnrolled, audit.OutcomeSuccess)

	// The secret is sealed at rest, and the recovery codes hashed.
	var stored string
	if err := e.db.Read.QueryRow(`SELECT secret FROM mfa_totp WHERE user_id = ?`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, secret) || !strings.HasPrefix(stored, sealPrefix) {
		t.Fatalf("secret stored in the clear: %q", stored)
	}
	if n := e.countRows(t, `SELECT count(*) FROM mfa_recovery_codes WHERE code_hash = ?`, codes[0]); n != 0 {
		t.Fatal("recovery code stored in the clear")
	}
	// No audit row carries the secret or a code.
	for _, ev := range e.events(t) {
		for k, v := range ev.Details {
			if s, ok := v.(string); ok && (strings.Contains(s, secret) || strings.Contains(s, codes[0])) {
				t.Fatalf("audit %s detail %s carries a secret", ev.Action, k)
			}
		}
	}
	// After enrolment the secret is no longer handed out.
	if _, err := e.svc.PendingTOTP(ctx, u); !errors.Is(err, ErrNoPendingEnrolment) {
		t.Fatalf("PendingTOTP after enrolment: %v, want ErrNoPendingEnrolment", err)
	}
	if err := e.svc.BeginTOTP(ctx, u); !errors.Is(err, ErrAlreadyEnrolled) {
		t.Fatalf("BeginTOTP again: %v, want ErrAlreadyEnrolled", err)
	}

	// The confirming code's step is used: the next step signs in.
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.Authenticate(ctx, "mai", goodPassword, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if ev := e.wantLastEvent(t, audit.ActionLogin, audit.OutcomeSuccess); ev.Details["second_factor"] != "pending" {
		t.Fatalf("login event details = %v, want second_factor pending", ev.Details)
	}
	m, err := e.svc.VerifySignIn(ctx, u, e.code(t, secret), "192.0.2.1", "")
	if err != nil || m != MethodTOTP {
		t.Fatalf("VerifySignIn = %v, %v; want totp", m, err)
	}
	e.wantLastEvent(t, audit.ActionMFAVerified, audit.OutcomeSuccess)
}

func TestTOTPReplayRefusedWithinItsStep(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	secret, _ := e.enrol(t, u)
	e.clock.Advance(time.Minute)
	code := e.code(t, secret)
	if _, err := e.svc.VerifySignIn(ctx, u, code, "192.0.2.1", ""); err != nil {
		t.Fatalf("first use: %v", err)
	}
	for _, later := range []time.Duration{0, 5 * time.Second, 25 * time.Second} {
		e.clock.Advance(later)
		if _, err := e.svc.VerifySignIn(ctx, u, code, "192.0.2.1", ""); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("replay after %s: %v, want ErrInvalidCode", later, err)
		}
		ev := e.wantLastEvent(t, audit.ActionMFAFailed, audit.OutcomeFailure)
		if ev.Details["reason"] != "code_reused" {
			t.Fatalf("replay reason = %v, want code_reused", ev.Details["reason"])
		}
	}
	// Also as a step-up: the code was spent at sign-in.
	if err := e.svc.VerifyStepUp(ctx, u, code, nil); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replayed step-up: %v, want ErrInvalidCode", err)
	}
	// The next step's code works.
	e.clock.Advance(30 * time.Second)
	if err := e.svc.VerifyStepUp(ctx, u, e.code(t, secret), map[string]any{"refunds": []string{"r1"}}); err != nil {
		t.Fatalf("next step: %v", err)
	}
	e.wantLastEvent(t, audit.ActionMFAStepUp, audit.OutcomeSuccess)
}

func TestWrongCodesAreThrottled(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	secret, _ := e.enrol(t, u)
	e.clock.Advance(time.Minute)
	var throttled *ThrottledError
	tries := 0
	for tries = 1; tries <= 50; tries++ {
		_, err := e.svc.VerifySignIn(ctx, u, "000000", "192.0.2.9", "")
		if errors.As(err, &throttled) {
			break
		}
		if !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("wrong code %d: %v", tries, err)
		}
	}
	if throttled == nil {
		t.Fatal("50 wrong codes and never throttled")
	}
	// While throttled even the right code is refused, unchecked.
	if _, err := e.svc.VerifySignIn(ctx, u, e.code(t, secret), "192.0.2.9", ""); !errors.As(err, &throttled) {
		t.Fatalf("right code while throttled: %v, want throttled", err)
	}
	// The codes counted on the sign-in throttle: a password attempt is refused too.
	if _, err := e.svc.Authenticate(ctx, "mai", goodPassword, "192.0.2.9"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("password after wrong codes: %v, want throttled", err)
	}
	if n := e.countEvents(t, audit.ActionMFAFailed); n < tries-1 {
		t.Fatalf("%d mfa_failed events for %d wrong codes", n, tries-1)
	}
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	_, codes := e.enrol(t, u)
	tests := []struct {
		name string
		code string
		ok   bool
	}{
		{"first use", codes[3], true},
		{"second use", codes[3], false},
		{"lower case and no hyphens", strings.ToLower(strings.ReplaceAll(codes[4], "-", "")), true},
		{"unknown", "AAAA-BBBB-CCCC-DDDD", false},
	}
	for _, tc := range tests {
		m, err := e.svc.VerifySignIn(ctx, u, tc.code, "192.0.2.1", "")
		if tc.ok && (err != nil || m != MethodRecovery) {
			t.Fatalf("%s: %v, %v; want recovery", tc.name, m, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("%s: %v, want ErrInvalidCode", tc.name, err)
		}
	}
	if n := e.countEvents(t, audit.ActionMFARecoveryUsed); n != 2 {
		t.Fatalf("%d recovery_code_used events, want 2", n)
	}
	f, err := e.svc.SecondFactorOf(ctx, u.ID)
	if err != nil || f.RecoveryLeft != 8 {
		t.Fatalf("SecondFactorOf = %+v, %v; want 8 left", f, err)
	}
	// Recovery codes are not a step-up.
	if err := e.svc.VerifyStepUp(ctx, u, codes[5], nil); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("recovery code as step-up: %v, want ErrInvalidCode", err)
	}
}

func TestConfirmWithWrongCodeLeavesItOff(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	if err := e.svc.BeginTOTP(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, u, "123456x"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("ConfirmTOTP(wrong) = %v", err)
	}
	if has, err := e.svc.HasSecondFactor(ctx, u.ID); err != nil || has {
		t.Fatalf("HasSecondFactor after a wrong confirming code = %v, %v", has, err)
	}
	// A sign-in code for a user without a confirmed factor is refused.
	if _, err := e.svc.VerifySignIn(ctx, u, "123456", "192.0.2.1", ""); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("VerifySignIn without factor = %v", err)
	}
}

func TestResetAndDisableSecondFactor(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	secret, _ := e.enrol(t, u)
	if err := e.svc.DisableTOTP(ctx, u, "000000", true); !errors.Is(err, ErrSecondFactorRequired) {
		t.Fatalf("DisableTOTP while required = %v", err)
	}
	e.clock.Advance(30 * time.Second)
	if err := e.svc.DisableTOTP(ctx, u, e.code(t, secret), false); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	e.wantLastEvent(t, audit.ActionMFADisabled, audit.OutcomeSuccess)

	e.enrol(t, u)
	if _, err := e.db.Write.Exec(`INSERT INTO sessions (id, user_id, created_at, last_seen_at) VALUES ('s1', ?, '2026-03-01T09:00:00Z', '2026-03-01T09:00:00Z')`, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResetSecondFactor(ctx, u.ID); err != nil {
		t.Fatalf("ResetSecondFactor: %v", err)
	}
	ev := e.wantLastEvent(t, audit.ActionMFAReset, audit.OutcomeSuccess)
	if ev.Details["sessions_ended"] != float64(1) || ev.Details["had_second_factor"] != true {
		t.Fatalf("reset details = %v", ev.Details)
	}
	if has, _ := e.svc.HasSecondFactor(ctx, u.ID); has {
		t.Fatal("second factor still there after reset")
	}
	if n := e.countRows(t, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ?`, u.ID); n != 0 {
		t.Fatalf("%d recovery codes left after reset", n)
	}
}

func TestEnrolLinkSingleUse(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	other := e.mustCreate(t, "lan", RoleManager)
	tok, err := e.svc.IssueEnrolLink(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RedeemEnrolLink(ctx, other, tok); !errors.Is(err, ErrInvalidLink) {
		t.Fatalf("someone else's link: %v", err)
	}
	if err := e.svc.RedeemEnrolLink(ctx, u, tok); err != nil {
		t.Fatalf("own link: %v", err)
	}
	if err := e.svc.RedeemEnrolLink(ctx, u, tok); !errors.Is(err, ErrInvalidLink) {
		t.Fatalf("second use: %v", err)
	}
	tok2, _ := e.svc.IssueEnrolLink(ctx, u.ID)
	e.clock.Advance(25 * time.Hour)
	if err := e.svc.RedeemEnrolLink(ctx, u, tok2); !errors.Is(err, ErrInvalidLink) {
		t.Fatalf("expired link: %v", err)
	}
}

func TestSecondFactorRolesSetting(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	if rs, err := e.svc.SecondFactorRoles(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("default roles = %v, %v; want none", rs, err)
	}
	if err := e.svc.SetSecondFactorRoles(ctx, []Role{RoleAdmin, RoleManager, RoleManager}); err != nil {
		t.Fatal(err)
	}
	rs, _ := e.svc.SecondFactorRoles(ctx)
	if len(rs) != 2 || rs[0] != RoleAdmin || rs[1] != RoleManager {
		t.Fatalf("roles = %v", rs)
	}
	e.wantLastEvent(t, audit.ActionMFAPolicy, audit.OutcomeSuccess)
	if err := e.svc.SetSecondFactorRoles(ctx, []Role{"boss"}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestSealedSecretSurvivesKeyRotation(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	u := e.mustCreate(t, "mai", RoleManager)
	if err := e.svc.BeginTOTP(ctx, u); err != nil {
		t.Fatal(err)
	}
	old, _ := e.svc.PendingTOTP(ctx, u)
	// New key first, the old one kept: the secret still opens.
	e.svc.SessionStore([][]byte{[]byte(strings.Repeat("n", 64)), []byte(strings.Repeat("c", 32)),
		[]byte(strings.Repeat("k", 64)), []byte(strings.Repeat("b", 32))}, CookieOptions{})
	k, err := e.svc.PendingTOTP(ctx, u)
	if err != nil || k.Secret() != old.Secret() {
		t.Fatalf("after rotation: %v", err)
	}
	// The old key dropped: it does not, and the error shows no secret.
	e.svc.SessionStore([][]byte{[]byte(strings.Repeat("n", 64)), []byte(strings.Repeat("c", 32))}, CookieOptions{})
	if _, err := e.svc.PendingTOTP(ctx, u); err == nil || strings.Contains(err.Error(), old.Secret()) {
		t.Fatalf("without the old key: %v", err)
	}
}
