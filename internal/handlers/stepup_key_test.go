package handlers

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// raw sends body as is to path, asking the desk as localhost (the key
// ceremonies' origin) with c's cookies, with the headers hdr on top of a
// same-origin browser's.
func (e *env) raw(c *http.Client, path, contentType string, body []byte, hdr map[string]string) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	o, _ := url.Parse(e.keyOrigin())
	req.Host = o.Host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Origin", e.keyOrigin())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	base, _ := url.Parse(e.url + path)
	for _, ck := range c.Jar.Cookies(base) {
		req.AddCookie(ck)
	}
	plain := &http.Client{Timeout: c.Timeout, CheckRedirect: c.CheckRedirect}
	resp, err := plain.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	c.Jar.SetCookies(base, resp.Cookies())
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{resp.StatusCode, resp.Header, sb.String()}
}

// postKeyForm posts a form as the desk's origin sees a key ceremony's
// page (localhost), as a step-up form filled by webauthn.js is posted.
func (e *env) postKeyForm(c *http.Client, path string, form url.Values) result {
	e.t.Helper()
	return e.raw(c, path, "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
}

// keySignIn signs name in with the password and the security key k, on a
// fresh client.
func (e *env) keySignIn(name string, k *softKey) *http.Client {
	e.t.Helper()
	c := e.pendingKeySignIn(name)
	ch := k.challenge(e.postJSON(c, "/login/key/begin", []byte("{}")))
	if r := e.postJSON(c, "/login/key/finish", k.assert(e.keyOrigin(), ch)); r.status != http.StatusOK {
		e.t.Fatalf("key sign-in of %s: %d %.300s", name, r.status, r.body)
	}
	return c
}

// TestStepUpWithSecurityKey: an approver whose only second factor is a
// security key answers the step-up with it: a fresh assertion to a
// challenge begun in the same session approves, and counts for the window
// as a code does; a replayed answer, another user's key or ceremony,
// another session's or a sign-in's ceremony, a made-up or expired
// challenge and garbage approve nothing.
func TestStepUpWithSecurityKey(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 5000}, Window: 5 * time.Minute}
	})
	staff := e.user("son", auth.RoleStaff)
	e.user("ann", auth.RoleManager)
	e.user("bob", auth.RoleManager)
	annKey, bobKey := newSoftKey(t), newSoftKey(t)
	a := e.login("ann")
	e.registerKey(a, annKey, "Ann's key")
	e.registerKey(e.login("bob"), bobKey, "Bob's key")
	e.clock.Advance(6 * time.Minute) // the registrations' freshness is over

	state := func(id string) string {
		t.Helper()
		ref, err := e.refunds.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return ref.Approval
	}
	begin := func(c *http.Client) string {
		t.Helper()
		return annKey.challenge(e.postJSON(c, "/approvals/stepup/key/begin", []byte("{}")))
	}
	approve := func(c *http.Client, id, answer string) result {
		t.Helper()
		return e.postKeyForm(c, "/refunds/"+id+"/approve", url.Values{"note": {"large"}, "stepup_assertion": {answer}})
	}
	// refused approves a new refund with the answer made by answer, which
	// is asked for after any backoff of earlier refusals is over (wrong
	// answers count on the step-up throttle as wrong codes do).
	refused := func(name string, c *http.Client, answer func() string) {
		t.Helper()
		e.clock.Advance(16 * time.Minute)
		ref := e.pendingRefund(staff)
		r := approve(c, ref.ID, answer())
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="stepup-error"`) {
			t.Errorf("%s: %d %.300s", name, r.status, r.body)
		}
		if got := state(ref.ID); got != refunds.ApprovalPending {
			t.Errorf("%s: the refund is %s", name, got)
		}
	}
	fixed := func(s string) func() string { return func() string { return s } }

	// The page asks for the key (no code field: Ann has no app).
	ref := e.pendingRefund(staff)
	r := e.postKeyForm(a, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"large"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="stepup-key"`) ||
		!strings.Contains(r.body, `name="stepup_assertion"`) || strings.Contains(r.body, `name="stepup_code"`) {
		t.Fatalf("step-up page for a key: %d %.1500s", r.status, r.body)
	}

	// Refusals, each on a new refund; nothing is approved.
	made := b64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	refused("made-up challenge", a, func() string { return string(annKey.assert(e.keyOrigin(), made)) })
	refused("bob's key on ann's challenge", a, func() string { return string(bobKey.assert(e.keyOrigin(), begin(a))) })
	refused("bob's answer to his own ceremony, posted by ann", a, func() string {
		return string(bobKey.assert(e.keyOrigin(), begin(e.keySignIn("bob", bobKey))))
	})
	refused("garbage", a, fixed(`{"id":"x","response":{}}`))
	refused("not JSON", a, fixed("%%%"))
	refused("oversized", a, fixed(`{"id":"`+strings.Repeat("A", 70<<10)+`"}`))
	// A sign-in ceremony's answer is not a step-up's.
	refused("sign-in ceremony", a, func() string {
		p := e.pendingKeySignIn("ann")
		return string(annKey.assert(e.keyOrigin(), annKey.challenge(e.postJSON(p, "/login/key/begin", []byte("{}")))))
	})
	// Another session of Ann's: its challenge does not serve this one.
	a2 := e.keySignIn("ann", annKey)
	refused("another session's challenge", a, func() string { return string(annKey.assert(e.keyOrigin(), begin(a2))) })
	// Expired: answered after the ceremony's 5 minutes.
	refused("expired challenge", a, func() string {
		late := string(annKey.assert(e.keyOrigin(), begin(a)))
		e.clock.Advance(5*time.Minute + time.Second)
		return late
	})

	// A fresh answer in this session approves (once the backoff of the
	// refusals above is over).
	e.clock.Advance(16 * time.Minute)
	good := string(annKey.assert(e.keyOrigin(), begin(a)))
	if r := approve(a, ref.ID, good); r.status != http.StatusSeeOther || state(ref.ID) != refunds.ApprovalApproved {
		t.Fatalf("approve with the key: %d %s %.300s", r.status, state(ref.ID), r.body)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = ? AND outcome = 'success' AND json_extract(details, '$.via') = ?`, audit.ActionMFAStepUp, "security_key"); n != 1 {
		t.Fatalf("%d step-ups with a key audited, want 1", n)
	}
	// Recorded as a code is: within the window the next one needs nothing.
	next := e.pendingRefund(staff)
	if r := e.postKeyForm(a, "/refunds/"+next.ID+"/approve", url.Values{"note": {"next"}}); r.status != http.StatusSeeOther || state(next.ID) != refunds.ApprovalApproved {
		t.Fatalf("approve within the window of the key: %d %s", r.status, state(next.ID))
	}
	// After it, the same answer again is a replay.
	e.clock.Advance(6 * time.Minute)
	refused("replayed answer", a, fixed(good))

	// Bulk: one answer for the batch.
	b1, b2 := e.pendingRefund(staff), e.pendingRefund(staff)
	bulk := url.Values{"id": {b1.ID, b2.ID}}
	if r := e.postKeyForm(a, "/approvals/bulk", bulk); r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="stepup-key"`) {
		t.Fatalf("bulk step-up page: %d", r.status)
	}
	bulk.Set("stepup_assertion", string(annKey.assert(e.keyOrigin(), begin(a))))
	if r := e.postKeyForm(a, "/approvals/bulk", bulk); r.status != http.StatusSeeOther || state(b1.ID) != refunds.ApprovalApproved || state(b2.ID) != refunds.ApprovalApproved {
		t.Fatalf("bulk with the key: %d %s %s", r.status, state(b1.ID), state(b2.ID))
	}

	// The bulk's answer counts for the window too (it was lost before: the
	// results page's stash wrote back the values the request had loaded).
	within := e.pendingRefund(staff)
	if r := e.postKeyForm(a, "/refunds/"+within.ID+"/approve", url.Values{"note": {"after bulk"}}); r.status != http.StatusSeeOther || state(within.ID) != refunds.ApprovalApproved {
		t.Fatalf("approve within the window of the bulk's answer: %d %s", r.status, state(within.ID))
	}

	// Flooded with wrong answers, the step-up is throttled; a throttled
	// answer is not checked, so its challenge is not spent, and it
	// approves once the backoff is over.
	e.clock.Advance(6 * time.Minute)
	th := e.pendingRefund(staff)
	throttled := false
	for i := 0; i < 8 && !throttled; i++ {
		r := approve(a, th.ID, `{"id":"x"}`)
		throttled = r.status == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("8 wrong answers in a row were never throttled")
	}
	held := string(annKey.assert(e.keyOrigin(), begin(a)))
	if r := approve(a, th.ID, held); r.status != http.StatusTooManyRequests || state(th.ID) != refunds.ApprovalPending {
		t.Fatalf("a good answer while throttled: %d %s", r.status, state(th.ID))
	}
	e.clock.Advance(time.Minute)
	if r := approve(a, th.ID, held); r.status != http.StatusSeeOther || state(th.ID) != refunds.ApprovalApproved {
		t.Fatalf("the held answer after the backoff: %d %s", r.status, state(th.ID))
	}
	e.clock.Advance(6 * time.Minute)

	wantFailed := 10 + 5 // every refusal above, audited with its reason (and 5 free wrong answers of the flood)
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = ? AND outcome = 'failure'`, audit.ActionMFAStepUp); n != wantFailed {
		t.Errorf("%d refused step-ups audited, want %d", n, wantFailed)
	}
	// Nothing approved but those.
	if n := e.count(`SELECT count(*) FROM refunds WHERE approval = 'APPROVED'`); n != 6 {
		t.Fatalf("%d refunds approved, want 6 (four alone, two in bulk)", n)
	}
}

// TestStepUpKeyBeginRefusals: the step-up ceremony is for approvers with
// a key, asked by the desk's own script; anything else is refused with a
// message and leaves no ceremony behind.
func TestStepUpKeyBeginRefusals(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 5000}}
	})
	e.user("son", auth.RoleStaff)
	e.user("ann", auth.RoleManager)
	e.user("lan", auth.RoleManager)
	a := e.login("ann")
	e.registerKey(a, newSoftKey(t), "")
	ceremonies := func() int { return e.count(`SELECT count(*) FROM mfa_webauthn_challenges`) }
	before := ceremonies()
	cases := []struct {
		name   string
		client *http.Client
		ctype  string
		body   string
		hdr    map[string]string
		want   int
	}{
		{"staff", e.login("son"), "application/json", "{}", nil, http.StatusForbidden},
		{"manager without a key", e.login("lan"), "application/json", "{}", nil, http.StatusNotFound},
		{"not signed in", e.client(), "application/json", "{}", nil, http.StatusSeeOther},
		{"form content type", a, "application/x-www-form-urlencoded", "a=b", nil, http.StatusUnsupportedMediaType},
		{"text/plain", a, "text/plain", "{}", nil, http.StatusUnsupportedMediaType},
		{"no content type", a, "", "{}", nil, http.StatusUnsupportedMediaType},
		{"garbage JSON", a, "application/json", "{{{", nil, http.StatusBadRequest},
		{"oversized", a, "application/json", `{"a":"` + strings.Repeat("x", 100<<10) + `"}`, nil, http.StatusRequestEntityTooLarge},
		{"cross-site", a, "application/json", "{}", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.raw(tc.client, "/approvals/stepup/key/begin", tc.ctype, []byte(tc.body), tc.hdr)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.want, r.body)
			}
			if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				var msg struct{ Error string }
				if json.Unmarshal([]byte(r.body), &msg) != nil || msg.Error == "" {
					t.Fatalf("no message for the script: %.300s", r.body)
				}
			}
			if n := ceremonies(); n != before {
				t.Fatalf("%d ceremonies stored, want %d", n, before)
			}
		})
	}
	if r := e.postJSON(a, "/approvals/stepup/key/begin", []byte("{}")); r.status != http.StatusOK || ceremonies() != before+1 {
		t.Fatalf("begin: %d, %d ceremonies", r.status, ceremonies())
	}
}

// TestStepUpInForceOnAdminPages: the admins' approval policy and
// two-factor pages say which step-up the server runs: each currency's
// limit and the window, or that it is off.
func TestStepUpInForceOnAdminPages(t *testing.T) {
	on := newEnv(t, func(d *Deps) {
		d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 100_000_000, "USD": 500_000}, Window: 5 * time.Minute}
	})
	on.user("root", auth.RoleAdmin)
	off := newEnv(t, func(d *Deps) { d.StepUp = policy.StepUp{Window: 5 * time.Minute} })
	off.user("root", auth.RoleAdmin)
	limit := regexp.MustCompile(`data-testid="stepup-limit-(\w+)">([^<]*)<`)
	for _, path := range []string{"/settings/approvals", "/users/second-factor"} {
		page := on.get(on.login("root"), path)
		if page.status != http.StatusOK {
			t.Fatalf("%s: %d", path, page.status)
		}
		got := map[string]string{}
		for _, m := range limit.FindAllStringSubmatch(page.body, -1) {
			got[m[1]] = html.UnescapeString(m[2])
		}
		if !strings.Contains(got["VND"], "100.000.000") || !strings.Contains(got["USD"], "5,000.00") || len(got) != 2 {
			t.Errorf("%s: step-up limits shown %q", path, got)
		}
		if !regexp.MustCompile(`data-testid="stepup-window">[^<]*\b5\b[^<]*minutes`).MatchString(page.body) {
			t.Errorf("%s: no 5-minute window shown: %.3000s", path, page.body)
		}
		if page := off.get(off.login("root"), path); !strings.Contains(page.body, `data-testid="stepup-off"`) || strings.Contains(page.body, `data-testid="stepup-limits"`) {
			t.Errorf("%s without STEPUP_LIMITS: not shown as off", path)
		}
	}
}

// TestRecoveryCodeSignInIsNoStepUp: a sign-in with a recovery code (a
// lost device) does not count as a fresh second factor: the next large
// approval still asks, while a sign-in with a code does not.
func TestRecoveryCodeSignInIsNoStepUp(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 5000}, Window: 5 * time.Minute}
	})
	staff := e.user("son", auth.RoleStaff)
	e.user("mai", auth.RoleManager)
	secret, codes := e.enrolOverHTTP(e.login("mai"))
	e.clock.Advance(6 * time.Minute)

	c, r := e.loginWithCode("mai", codes[0])
	if r.status != http.StatusSeeOther {
		t.Fatalf("recovery sign-in: %d", r.status)
	}
	ref := e.pendingRefund(staff)
	if r := e.post(c, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"x"}}); r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="stepup-form"`) {
		t.Fatalf("after a recovery sign-in: %d, want the step-up form", r.status)
	}

	c, r = e.loginWithCode("mai", e.totpCode(secret))
	if r.status != http.StatusSeeOther {
		t.Fatalf("code sign-in: %d", r.status)
	}
	if r := e.post(c, "/refunds/"+ref.ID+"/approve", url.Values{"note": {"x"}}); r.status != http.StatusSeeOther {
		t.Fatalf("after a code sign-in: %d, want approved within the window", r.status)
	}
}
