package handlers

import (
	"bytes"
	"context"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

var (
	secretRE   = regexp.MustCompile(`data-testid="mfa-secret">([A-Z2-7]+)<`)
	recoveryRE = regexp.MustCompile(`<li>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</li>`)
	linkRE     = regexp.MustCompile(`data-testid="enrol-link">[^<]*(/account/2fa/link\?t=[^<]+)<`)
)

// totpCode is secret's code at the test clock's time.
func (e *env) totpCode(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrolOverHTTP sets up an authenticator for the signed-in client c and
// returns its secret and recovery codes.
func (e *env) enrolOverHTTP(c *http.Client) (string, []string) {
	e.t.Helper()
	if r := e.post(c, "/account/2fa/start", url.Values{}); r.status != http.StatusSeeOther {
		e.t.Fatalf("start enrolment: %d %.300s", r.status, r.body)
	}
	page := e.get(c, "/account")
	m := secretRE.FindStringSubmatch(page.body)
	if m == nil {
		e.t.Fatalf("no secret on the account page: %.2000s", page.body)
	}
	if r := e.post(c, "/account/2fa/confirm", url.Values{"code": {"000000"}}); r.status != http.StatusUnprocessableEntity {
		e.t.Fatalf("confirm with a wrong code: %d", r.status)
	}
	r := e.post(c, "/account/2fa/confirm", url.Values{"code": {e.totpCode(m[1])}})
	if r.status != http.StatusOK {
		e.t.Fatalf("confirm: %d %.300s", r.status, r.body)
	}
	var codes []string
	for _, cm := range recoveryRE.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, cm[1])
	}
	if len(codes) != 10 {
		e.t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	// The secret is never shown again.
	if strings.Contains(e.get(c, "/account").body, m[1]) {
		e.t.Fatal("the account page still shows the secret after enrolment")
	}
	return m[1], codes
}

// loginWithCode signs name in with the password and then code, and
// returns the client and the code step's answer.
func (e *env) loginWithCode(name, code string) (*http.Client, result) {
	e.t.Helper()
	c := e.client()
	r := e.post(c, "/login", url.Values{"username": {name}, "password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login/code" {
		e.t.Fatalf("password step of %s: %d → %q", name, r.status, r.header.Get("Location"))
	}
	return c, e.post(c, "/login/code", url.Values{"code": {code}})
}

func TestTOTPEnrolmentSignInReplayAndRecovery(t *testing.T) {
	e := newEnv(t)
	e.user("mai", auth.RoleManager)
	c := e.login("mai")
	if r := e.get(c, "/account/2fa/qr.png"); r.status != http.StatusNotFound {
		t.Fatalf("QR before enrolment: %d", r.status)
	}
	if r := e.post(c, "/account/2fa/start", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	qr := e.get(c, "/account/2fa/qr.png")
	if qr.status != http.StatusOK || qr.header.Get("Content-Type") != "image/png" || qr.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("QR: %d %v", qr.status, qr.header)
	}
	if _, err := png.Decode(bytes.NewReader([]byte(qr.body))); err != nil {
		t.Fatalf("QR is not a PNG: %v", err)
	}
	secret, codes := e.enrolOverHTTP(c)

	// The password alone now starts no session.
	pw := e.client()
	e.post(pw, "/login", url.Values{"username": {"mai"}, "password": {testPassword}})
	if e.sessionCookie(pw) != "" {
		t.Fatal("a session cookie after the password step alone")
	}
	if r := e.get(pw, "/approvals"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Fatalf("approvals after the password step alone: %d %q", r.status, r.header.Get("Location"))
	}

	// The confirming code's step is spent: the same code is refused.
	used := e.totpCode(secret)
	if _, r := e.loginWithCode("mai", used); r.status != http.StatusUnauthorized {
		t.Fatalf("code of the confirming step: %d", r.status)
	}
	e.clock.Advance(30 * time.Second)
	code := e.totpCode(secret)
	m1, r := e.loginWithCode("mai", code)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("sign-in with the code: %d %q %.300s", r.status, r.header.Get("Location"), r.body)
	}
	if r := e.get(m1, "/approvals"); r.status != http.StatusOK {
		t.Fatalf("approvals after sign-in: %d", r.status)
	}
	// Replay within the same step, from another browser: refused.
	if _, r := e.loginWithCode("mai", code); r.status != http.StatusUnauthorized || !strings.Contains(r.body, `data-testid="code-error"`) {
		t.Fatalf("replayed code: %d", r.status)
	}

	// A recovery code works once.
	rc, r := e.loginWithCode("mai", codes[0])
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("recovery code: %d %q", r.status, r.header.Get("Location"))
	}
	if !strings.Contains(e.get(rc, "/account").body, "9") {
		t.Fatal("account page does not say how many codes are left")
	}
	if _, r := e.loginWithCode("mai", codes[0]); r.status != http.StatusUnauthorized {
		t.Fatalf("recovery code reused: %d", r.status)
	}
	if n := e.auditCount(audit.ActionMFARecoveryUsed); n != 1 {
		t.Fatalf("%d recovery_code_used events, want 1", n)
	}
	if n := e.auditCount(audit.ActionMFAEnrolled); n < 1 {
		t.Fatal("enrolment not audited")
	}
	// No audit row or page carries the secret.
	if n := e.count(`SELECT count(*) FROM audit_events WHERE details LIKE ?`, "%"+secret+"%"); n != 0 {
		t.Fatalf("%d audit rows carry the secret", n)
	}
}

func TestPendingSignInCannotBeForged(t *testing.T) {
	e := newEnv(t)
	e.user("mai", auth.RoleManager)
	secret, _ := e.enrolOverHTTP(e.login("mai"))
	tests := []struct {
		name   string
		cookie string
	}{
		{"none", ""},
		{"garbage", "abc"},
	}
	for _, tc := range tests {
		c := e.client()
		if tc.cookie != "" {
			u, _ := url.Parse(e.url + "/login")
			c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.PendingCookieName, Value: tc.cookie, Path: "/login"}})
		}
		e.clock.Advance(30 * time.Second)
		r := e.post(c, "/login/code", url.Values{"code": {e.totpCode(secret)}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" || e.sessionCookie(c) != "" {
			t.Fatalf("%s: %d %q", tc.name, r.status, r.header.Get("Location"))
		}
	}
	// The pending step expires after five minutes.
	c := e.client()
	e.post(c, "/login", url.Values{"username": {"mai"}, "password": {testPassword}})
	e.clock.Advance(6 * time.Minute)
	if r := e.post(c, "/login/code", url.Values{"code": {e.totpCode(secret)}}); r.header.Get("Location") != "/login" {
		t.Fatalf("expired pending sign-in: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestWrongSignInCodesAreThrottled(t *testing.T) {
	e := newEnv(t)
	e.user("mai", auth.RoleManager)
	secret, _ := e.enrolOverHTTP(e.login("mai"))
	c := e.client()
	e.post(c, "/login", url.Values{"username": {"mai"}, "password": {testPassword}})
	var last result
	for i := 0; i < 40; i++ {
		last = e.post(c, "/login/code", url.Values{"code": {"000000"}})
		if last.status == http.StatusTooManyRequests {
			break
		}
		if last.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, last.status)
		}
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("never throttled: %d", last.status)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.post(c, "/login/code", url.Values{"code": {e.totpCode(secret)}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("right code while throttled: %d", r.status)
	}
}

func TestSecondFactorRequirementAndEnrolmentGrants(t *testing.T) {
	e := newEnv(t)
	admin := e.user("root", auth.RoleAdmin)
	_ = admin
	mgr := e.user("mai", auth.RoleManager)
	mgr2 := e.user("lan", auth.RoleManager)
	e.user("son", auth.RoleStaff)
	a := e.login("root")
	roles := url.Values{"role": {string(policy.Manager), string(policy.Admin)}}
	// The admin may not require it of their own role before having one.
	if r := e.post(a, "/users/second-factor", roles); r.status != http.StatusConflict {
		t.Fatalf("require without own factor: %d", r.status)
	}
	secret, _ := e.enrolOverHTTP(a)
	if r := e.post(a, "/users/second-factor", roles); r.status != http.StatusSeeOther {
		t.Fatalf("require: %d %.300s", r.status, r.body)
	}
	if n := e.auditCount(audit.ActionMFAPolicy); n != 1 {
		t.Fatalf("%d policy_changed events", n)
	}

	// A manager with only a password is held on the account page and
	// cannot enrol.
	m := e.login("mai")
	if r := e.get(m, "/approvals"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("approvals without a factor: %d %q", r.status, r.header.Get("Location"))
	}
	if r := e.get(m, "/account"); !strings.Contains(r.body, `data-testid="mfa-required"`) || strings.Contains(r.body, `data-testid="mfa-start"`) {
		t.Fatal("account page offers enrolment to a password-only sign-in")
	}
	if r := e.post(m, "/account/2fa/start", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("enrol with only a password: %d", r.status)
	}
	// Staff are not required: they go on working.
	if r := e.get(e.login("son"), "/refunds"); r.status != http.StatusOK {
		t.Fatalf("staff: %d", r.status)
	}

	// After an admin-issued one-time password, the first sign-in may enrol.
	if r := e.post(a, "/users/"+strconv.FormatInt(mgr.ID, 10)+"/reset-password", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("reset password: %d", r.status)
	}
	otp := regexp.MustCompile(`data-testid="one-time-password">([^<]+)<`).FindStringSubmatch(e.get(a, "/users/one-time-password").body)
	if otp == nil {
		t.Fatal("no one-time password shown")
	}
	m = e.client()
	e.post(m, "/login", url.Values{"username": {"mai"}, "password": {html.UnescapeString(otp[1])}})
	if r := e.post(m, "/account/password", url.Values{"current": {html.UnescapeString(otp[1])}, "new": {testPassword + "!"}, "confirm": {testPassword + "!"}}); r.status != http.StatusSeeOther {
		t.Fatalf("change password: %d %.500s", r.status, r.body)
	}
	e.enrolOverHTTP(m)
	if r := e.get(m, "/approvals"); r.status != http.StatusOK {
		t.Fatalf("approvals after enrolment: %d", r.status)
	}

	// An admin-issued enrolment link, for someone else only, once.
	r := e.post(a, "/users/"+strconv.FormatInt(mgr2.ID, 10)+"/enrol-link", url.Values{})
	lm := linkRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || lm == nil {
		t.Fatalf("enrol link: %d %.500s", r.status, r.body)
	}
	link, _ := url.Parse(html.UnescapeString(lm[1]))
	token := link.Query().Get("t")
	if n := e.count(`SELECT count(*) FROM audit_events WHERE details LIKE ?`, "%"+token+"%"); n != 0 {
		t.Fatal("the link's token is in the audit trail")
	}
	l := e.login("lan")
	if r := e.get(l, link.RequestURI()); r.status != http.StatusOK {
		t.Fatalf("open link: %d", r.status)
	}
	if r := e.post(l, "/account/2fa/link", url.Values{"t": {token}}); r.status != http.StatusSeeOther {
		t.Fatalf("use link: %d %.300s", r.status, r.body)
	}
	e.enrolOverHTTP(l)
	if r := e.post(l, "/account/2fa/link", url.Values{"t": {token}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("link used twice: %d", r.status)
	}

	// Turning one's own factor off is refused while the role requires it.
	e.clock.Advance(30 * time.Second)
	if r := e.post(a, "/account/2fa/disable", url.Values{"code": {e.totpCode(secret)}}); r.status != http.StatusConflict {
		t.Fatalf("disable while required: %d", r.status)
	}
}

func TestAdminResetsSecondFactor(t *testing.T) {
	e := newEnv(t)
	e.user("root", auth.RoleAdmin)
	mgr := e.user("mai", auth.RoleManager)
	a := e.login("root")
	m := e.login("mai")
	e.enrolOverHTTP(m)
	if r := e.post(a, "/users/"+strconv.FormatInt(mgr.ID, 10)+"/reset-2fa", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", r.status)
	}
	if r := e.get(m, "/account"); r.status != http.StatusSeeOther {
		t.Fatalf("manager's session survived the reset: %d", r.status)
	}
	if n := e.auditCount(audit.ActionMFAReset); n != 1 {
		t.Fatalf("%d mfa.reset events", n)
	}
	// The password alone signs in again (the requirement is off).
	if r := e.post(e.client(), "/login", url.Values{"username": {"mai"}, "password": {testPassword}}); r.header.Get("Location") != "/" {
		t.Fatalf("sign-in after reset: %q", r.header.Get("Location"))
	}
	// Staff may not.
	e.user("son", auth.RoleStaff)
	if r := e.post(e.login("son"), "/users/"+strconv.FormatInt(mgr.ID, 10)+"/reset-2fa", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("staff reset: %d", r.status)
	}
}

func TestStepUpOnLargeApprovals(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 5000}, Window: 5 * time.Minute}
	})
	staff := e.user("son", auth.RoleStaff)
	e.user("mai", auth.RoleManager)
	e.user("lan", auth.RoleManager)
	secret, _ := e.enrolOverHTTP(e.login("mai"))
	e.clock.Advance(30 * time.Second)
	m, r := e.loginWithCode("mai", e.totpCode(secret))
	if r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	state := func(id string) string {
		ref, err := e.refunds.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return ref.Approval
	}

	// Within the window of the sign-in code: approved, audited as recent.
	first := e.pendingRefund(staff)
	if r := e.post(m, "/refunds/"+first.ID+"/approve", url.Values{"note": {"ok"}}); r.status != http.StatusSeeOther || state(first.ID) != refunds.ApprovalApproved {
		t.Fatalf("approve within the window: %d %s", r.status, state(first.ID))
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = ? AND json_extract(details, '$.via') = ?`, audit.ActionMFAStepUp, "recent_code"); n != 1 {
		t.Fatalf("%d recent step-ups audited", n)
	}

	// After the window: a code is asked, and nothing is approved until it checks.
	e.clock.Advance(6 * time.Minute)
	ref := e.pendingRefund(staff)
	r = e.post(m, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"big one"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="stepup-form"`) || !strings.Contains(r.body, `value="big one"`) {
		t.Fatalf("step-up page: %d %.500s", r.status, r.body)
	}
	if state(ref.ID) != refunds.ApprovalPending {
		t.Fatal("approved before the code")
	}
	if r := e.post(m, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"big one"}, "stepup_code": {"000000"}}); r.status != http.StatusUnprocessableEntity || state(ref.ID) != refunds.ApprovalPending {
		t.Fatalf("wrong step-up code: %d %s", r.status, state(ref.ID))
	}
	if r := e.post(m, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"big one"}, "stepup_code": {e.totpCode(secret)}}); r.status != http.StatusSeeOther || state(ref.ID) != refunds.ApprovalApproved {
		t.Fatalf("right step-up code: %d %s", r.status, state(ref.ID))
	}

	// Bulk: the same, once for the whole batch.
	e.clock.Advance(6 * time.Minute)
	b1, b2 := e.pendingRefund(staff), e.pendingRefund(staff)
	ids := url.Values{"id": {b1.ID, b2.ID}}
	if r := e.post(m, "/approvals/bulk", ids); r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="stepup-form"`) {
		t.Fatalf("bulk step-up page: %d", r.status)
	}
	if state(b1.ID) != refunds.ApprovalPending || state(b2.ID) != refunds.ApprovalPending {
		t.Fatal("bulk approved before the code")
	}
	ids.Set("stepup_code", e.totpCode(secret))
	if r := e.post(m, "/approvals/bulk", ids); r.status != http.StatusSeeOther {
		t.Fatalf("bulk with code: %d", r.status)
	}
	// The code was already used for the single approval in this step? Then
	// a fresh step is needed; the clock moved 6 minutes, so it is fresh.
	if state(b1.ID) != refunds.ApprovalApproved || state(b2.ID) != refunds.ApprovalApproved {
		t.Fatalf("bulk after code: %s %s", state(b1.ID), state(b2.ID))
	}

	// A manager without a second factor cannot approve above the limit.
	l := e.login("lan")
	big := e.pendingRefund(staff)
	if r := e.post(l, "/refunds/"+big.ID+"/approve", url.Values{}); r.status != http.StatusForbidden || !strings.Contains(r.body, `data-testid="stepup-no-factor"`) || state(big.ID) != refunds.ApprovalPending {
		t.Fatalf("approve without a factor: %d %s", r.status, state(big.ID))
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = ? AND json_extract(details, '$.via') = ? AND outcome = 'success'`, audit.ActionMFAStepUp, "fresh_code"); n != 2 {
		t.Fatalf("%d fresh step-ups audited, want 2", n)
	}
}
