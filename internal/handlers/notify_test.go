package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

func withNotify(d *Deps) { d.Notify = notify.NewSettings(d.DB, d.Audit, d.Now, policy.Policy{}) }

// Webhook endpoints over HTTP: only admins manage them; a bad URL is
// refused beside its field with what was typed kept; the secret is shown
// once, on the answer to the add, never on the list; removal is audited.
func TestWebhookSettingsPage(t *testing.T) {
	e := newEnv(t, withNotify)
	e.user("root", auth.RoleAdmin)
	e.user("boss", auth.RoleManager)
	admin, mgr := e.login("root"), e.login("boss")

	if r := e.get(mgr, "/settings/webhooks"); r.status != http.StatusForbidden {
		t.Fatalf("a manager opened the webhook settings: %d", r.status)
	}
	if r := e.post(mgr, "/settings/webhooks", url.Values{"url": {"https://evil.example/x"}}); r.status != http.StatusForbidden {
		t.Fatalf("a manager added an endpoint: %d", r.status)
	}
	for _, bad := range []string{"ftp://example.com/x", "https://user:pw@example.com/x", "not a url"} {
		r := e.post(admin, "/settings/webhooks", url.Values{"url": {bad}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-url"`) {
			t.Fatalf("bad URL %q: %d", bad, r.status)
		}
	}
	r := e.post(admin, "/settings/webhooks", url.Values{"url": {"https://hooks.example/desk?token=abc"}, "events": {"refund.outcome", "bogus"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="webhook-secret"`) || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("add: %d %s", r.status, r.header.Get("Cache-Control"))
	}
	i := strings.Index(r.body, "whsec_")
	if i < 0 {
		t.Fatal("no secret on the page")
	}
	secret := r.body[i : i+len("whsec_")+64]
	list := e.get(admin, "/settings/webhooks")
	if list.status != http.StatusOK || strings.Contains(list.body, secret) || strings.Contains(list.body, "whsec_") ||
		!strings.Contains(list.body, "https://hooks.example/desk") {
		t.Fatalf("the list shows the secret or misses the endpoint: %d", list.status)
	}
	eps, err := e.srv.notify.Endpoints(context.Background())
	if err != nil || len(eps) != 1 || eps[0].Events != "refund.outcome" {
		t.Fatalf("stored: %+v, %v", eps, err)
	}
	if n := e.auditCount(notify.ActionEndpointAdded); n != 1 {
		t.Errorf("%d endpoint_added events", n)
	}
	path := "/settings/webhooks/" + itoa(eps[0].ID) + "/remove"
	if r := e.post(admin, path, url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.status)
	}
	if r := e.post(admin, path, url.Values{}); r.status != http.StatusNotFound {
		t.Fatalf("second remove: %d", r.status)
	}
	if n := e.auditCount(notify.ActionEndpointRemoved); n != 1 {
		t.Errorf("%d endpoint_removed events", n)
	}
}

// The account page's notification settings and the delivery log.
func TestNotificationPreferencesAndDeliveryLog(t *testing.T) {
	e := newEnv(t, withNotify)
	e.user("lan", auth.RoleManager)
	e.user("minh", auth.RoleStaff)
	e.user("root", auth.RoleAdmin)
	mgr, staff, admin := e.login("lan"), e.login("minh"), e.login("root")

	page := e.get(mgr, "/account")
	if !strings.Contains(page.body, `data-testid="notify-prefs"`) || !strings.Contains(page.body, `value="refund.requested"`) ||
		strings.Contains(page.body, `value="neox.outage"`) {
		t.Fatalf("a manager's notification card is wrong")
	}
	if r := e.post(mgr, "/account/notifications", url.Values{"email": {"lan@@example"}, "on": {"refund.outcome"}}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, `data-testid="error-email"`) || !strings.Contains(r.body, `value="lan@@example"`) {
		t.Fatalf("bad address: %d", r.status)
	}
	if r := e.post(mgr, "/account/notifications", url.Values{"email": {"lan@example.com"}, "on": {"refund.outcome", "refund.decided"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.status)
	}
	lan, _ := e.auth.UserByUsername(context.Background(), "lan")
	p, err := e.srv.notify.Prefs(context.Background(), lan.ID)
	if err != nil || p.Email != "lan@example.com" || !p.Off[notify.KindRequested] || p.Off[notify.KindOutcome] || p.Off[notify.KindOutage] {
		t.Fatalf("stored prefs %+v, %v", p, err)
	}
	if r := e.get(staff, "/notifications/deliveries"); r.status != http.StatusForbidden {
		t.Fatalf("staff opened the delivery log: %d", r.status)
	}
	for _, c := range []*http.Client{mgr, admin} {
		if r := e.get(c, "/notifications/deliveries"); r.status != http.StatusOK {
			t.Fatalf("delivery log: %d", r.status)
		}
	}
}
