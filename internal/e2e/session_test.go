package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// TestIdleWarning: a minute before the session ends the page says so, and
// "Stay signed in" counts as activity on the server.
func TestIdleWarning(t *testing.T) {
	t.Parallel()
	clock := apptest.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	// The shortest idle timeout the desk accepts: the warning is due at once.
	app := apptest.Start(t, apptest.WithClock(clock), apptest.WithEnv("SESSION_IDLE_TIMEOUT", "1m"))
	u := app.CreateUser(t, "istaff", auth.RoleStaff, pass)
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "istaff", pass)
	b.WaitFor(t, `[data-testid=idle-notice]:not([hidden])`)
	if got := b.Text(t, `[data-testid=idle-text]`); got == "" {
		t.Fatal("the notice says nothing")
	}
	lastSeen := func() time.Time {
		t.Helper()
		ss, err := app.App.Auth.ListSessions(context.Background(), u.ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("sessions: %v, %v", ss, err)
		}
		return ss[0].LastSeenAt
	}
	before := lastSeen()
	clock.Advance(30 * time.Second)
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=stay-signed-in]`)))
	deadline := time.Now().Add(10 * time.Second)
	for !lastSeen().After(before) {
		if time.Now().After(deadline) {
			t.Fatal("'Stay signed in' did not reach the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := lastSeen(); !got.Equal(clock.Now()) {
		t.Errorf("last seen %s, want %s", got, clock.Now())
	}
	// Past the idle timeout the notice says the session has ended.
	clock.Advance(61 * time.Second)
	b.Run(t, chromedp.Navigate(app.URL+"/account"))
	b.WaitFor(t, `[data-testid=login-form]`)
}
