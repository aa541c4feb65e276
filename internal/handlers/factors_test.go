package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// factorRows counts a user's second-factor rows (authenticator, unused
// recovery codes, keys), to see that a refusal changed nothing.
func (e *env) factorRows(userID int64) [3]int {
	e.t.Helper()
	return [3]int{
		e.count(`SELECT count(*) FROM mfa_totp WHERE user_id = ?`, userID),
		e.count(`SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at = ''`, userID),
		e.count(`SELECT count(*) FROM mfa_webauthn WHERE user_id = ?`, userID),
	}
}

// TestFactorsRemovedOneByOne: each security key and the authenticator
// app go on their own (audited), while the role requires a second factor
// too, until the last one: that one is refused with a message saying
// why, and stays. Without the requirement the last one may go.
func TestFactorsRemovedOneByOne(t *testing.T) {
	e := newEnv(t)
	mai := e.user("mai", auth.RoleManager)
	lan := e.user("lan", auth.RoleManager)
	m := e.login("mai")
	secret, _ := e.enrolOverHTTP(m)
	e.registerKey(m, newSoftKey(t), "one")
	e.registerKey(m, newSoftKey(t), "two")
	l := e.login("lan")
	lanSecret, _ := e.enrolOverHTTP(l)
	e.registerKey(l, newSoftKey(t), "lan's")
	if err := e.auth.SetSecondFactorRoles(t.Context(), []auth.Role{auth.RoleManager, auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	keys := func(u auth.User) []auth.SecurityKey {
		t.Helper()
		k, err := e.auth.SecurityKeys(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	lastFactor := "This is your last second factor"

	// Mai: the app can go while keys remain (the page offers it).
	if page := e.get(m, "/account"); !strings.Contains(page.body, `data-testid="mfa-disable"`) {
		t.Fatalf("the account page offers no removal of the app: %.3000s", page.body)
	}
	e.clock.Advance(30 * time.Second)
	if r := e.post(m, "/account/2fa/key/remove", url.Values{"id": {keys(mai)[0].ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove key one: %d %.300s", r.status, r.body)
	}
	if r := e.post(m, "/account/2fa/disable", url.Values{"code": {e.totpCode(secret)}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove the app: %d %.300s", r.status, r.body)
	}
	if got := e.factorRows(mai.ID); got != [3]int{0, 0, 1} {
		t.Fatalf("after removing a key and the app: %v, want only key two", got)
	}
	// The last key: refused, with the reason, and kept.
	r := e.post(m, "/account/2fa/key/remove", url.Values{"id": {keys(mai)[0].ID}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, lastFactor) {
		t.Fatalf("remove the last key: %d %.1000s", r.status, r.body)
	}
	if got := e.factorRows(mai.ID); got != [3]int{0, 0, 1} {
		t.Fatalf("after the refused removal: %v", got)
	}

	// Lan: the key goes, then the app is the last factor.
	if r := e.post(l, "/account/2fa/key/remove", url.Values{"id": {keys(lan)[0].ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("lan removes the key: %d", r.status)
	}
	page := e.get(l, "/account")
	if !strings.Contains(page.body, `data-testid="mfa-keep"`) || strings.Contains(page.body, `data-testid="mfa-disable"`) {
		t.Fatalf("the last factor is offered for removal: %.3000s", page.body)
	}
	e.clock.Advance(30 * time.Second)
	r = e.post(l, "/account/2fa/disable", url.Values{"code": {e.totpCode(lanSecret)}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, lastFactor) {
		t.Fatalf("remove the last app: %d %.1000s", r.status, r.body)
	}
	if got := e.factorRows(lan.ID); got != [3]int{1, 10, 0} {
		t.Fatalf("after the refused app removal: %v", got)
	}

	for action, want := range map[string]int{audit.ActionMFAKeyRemoved: 2, audit.ActionMFADisabled: 1} {
		if n := e.count(`SELECT count(*) FROM audit_events WHERE action = ? AND outcome = 'success'`, action); n != want {
			t.Errorf("%d %s rows, want %d", n, action, want)
		}
	}

	// Without the requirement the last factor may go.
	if err := e.auth.SetSecondFactorRoles(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if r := e.post(m, "/account/2fa/key/remove", url.Values{"id": {keys(mai)[0].ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove the last key, not required: %d", r.status)
	}
	if got := e.factorRows(mai.ID); got != [3]int{0, 0, 0} {
		t.Fatalf("after removing everything: %v", got)
	}
}

// TestSecondFactorEndpointsRefuseHostileInput: every second-factor and
// step-up endpoint, sent what a browser running the desk's pages never
// sends (another content type, garbage, too much, from another site),
// answers with a clear refusal and changes no factor, ceremony or refund.
func TestSecondFactorEndpointsRefuseHostileInput(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.StepUp = policy.StepUp{Limits: map[string]int64{"VND": 5000}} })
	staff := e.user("son", auth.RoleStaff)
	mai := e.user("mai", auth.RoleManager)
	m := e.login("mai")
	e.enrolOverHTTP(m)
	k := newSoftKey(t)
	e.registerKey(m, k, "mine")
	ref := e.pendingRefund(staff)
	pending := e.pendingKeySignIn("mai")
	snapshot := func() [6]int {
		f := e.factorRows(mai.ID)
		return [6]int{f[0], f[1], f[2], e.count(`SELECT count(*) FROM mfa_webauthn_challenges`),
			e.count(`SELECT count(*) FROM refunds WHERE approval <> 'PENDING'`), e.count(`SELECT count(*) FROM sessions`)}
	}
	before := snapshot()
	big := strings.Repeat("x", 100<<10)
	huge := strings.Repeat("x", 2<<20)
	cross := map[string]string{"Sec-Fetch-Site": "cross-site"}
	type tc struct {
		name, path, ctype, body string
		client                  *http.Client
		hdr                     map[string]string
		want                    int
	}
	var cases []tc
	// The scripts' JSON endpoints.
	for _, ep := range []struct {
		path   string
		client *http.Client
	}{
		{"/account/2fa/key/begin", m}, {"/account/2fa/key/finish", m},
		{"/login/key/begin", pending}, {"/login/key/finish", pending},
		{"/approvals/stepup/key/begin", m},
	} {
		cases = append(cases,
			tc{"form", ep.path, "application/x-www-form-urlencoded", "credential=x", ep.client, nil, http.StatusUnsupportedMediaType},
			tc{"text", ep.path, "text/plain", "{}", ep.client, nil, http.StatusUnsupportedMediaType},
			tc{"no type", ep.path, "", "{}", ep.client, nil, http.StatusUnsupportedMediaType},
			tc{"garbage", ep.path, "application/json", `{"credential":`, ep.client, nil, http.StatusBadRequest},
			tc{"empty", ep.path, "application/json", "", ep.client, nil, http.StatusBadRequest},
			tc{"oversized", ep.path, "application/json", `{"a":"` + big + `"}`, ep.client, nil, http.StatusRequestEntityTooLarge},
			tc{"cross-site", ep.path, "application/json", "{}", ep.client, cross, http.StatusForbidden},
		)
	}
	// The finishing steps, with well-formed JSON that is no answer.
	cases = append(cases,
		tc{"no credential", "/account/2fa/key/finish", "application/json", `{"name":"x"}`, m, nil, http.StatusBadRequest},
		tc{"made-up credential", "/account/2fa/key/finish", "application/json", `{"name":"x","credential":{"id":"AA","response":{}}}`, m, nil, http.StatusUnprocessableEntity},
		tc{"made-up answer", "/login/key/finish", "application/json", `{"id":"AA","type":"public-key","response":{}}`, pending, nil, http.StatusUnauthorized},
	)
	// The forms.
	for _, ep := range []string{"/account/2fa/key/remove", "/account/2fa/disable", "/refunds/" + ref.ID + "/approve", "/approvals/bulk"} {
		cases = append(cases,
			tc{"oversized form", ep, "application/x-www-form-urlencoded", "a=" + huge, m, nil, http.StatusRequestEntityTooLarge},
			tc{"damaged form", ep, "application/x-www-form-urlencoded", "id=%zz&code=%", m, nil, http.StatusBadRequest},
			tc{"cross-site form", ep, "application/x-www-form-urlencoded", "id=x&code=123456&stepup_code=123456", m, cross, http.StatusForbidden},
		)
	}
	cases = append(cases,
		tc{"JSON to the key removal", "/account/2fa/key/remove", "application/json", `{"id":"x"}`, m, nil, http.StatusNotFound},
		tc{"JSON to the app removal", "/account/2fa/disable", "application/json", `{"code":"123456"}`, m, nil, http.StatusUnprocessableEntity},
		tc{"JSON to the approval", "/refunds/" + ref.ID + "/approve", "application/json", `{"stepup_code":"123456"}`, m, nil, http.StatusOK},
		tc{"garbage key answer", "/refunds/" + ref.ID + "/approve", "application/x-www-form-urlencoded", "stepup_assertion=%7B%7B", m, nil, http.StatusUnprocessableEntity},
		tc{"wrong code in bulk", "/approvals/bulk", "application/x-www-form-urlencoded", "id=" + ref.ID + "&stepup_code=000000", m, nil, http.StatusUnprocessableEntity},
		tc{"unknown key id", "/account/2fa/key/remove", "application/x-www-form-urlencoded", "id=" + url.QueryEscape(strings.Repeat("A", 500)), m, nil, http.StatusNotFound},
	)
	for _, c := range cases {
		t.Run(c.path+" "+c.name, func(t *testing.T) {
			r := e.raw(c.client, c.path, c.ctype, []byte(c.body), c.hdr)
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %.300s", r.status, c.want, r.body)
			}
			if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				var msg struct{ Error string }
				if json.Unmarshal([]byte(r.body), &msg) != nil || msg.Error == "" {
					t.Fatalf("no message for the script: %.300s", r.body)
				}
			} else if !strings.Contains(r.body, `role="alert"`) && !strings.Contains(r.body, "<h1>") {
				t.Fatalf("no message on the page: %.500s", r.body)
			}
			if got := snapshot(); got != before {
				t.Fatalf("rows changed: %v, before %v", got, before)
			}
		})
	}
}
