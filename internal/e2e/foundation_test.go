package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
)

// TestFirstStartAdminFlow walks the acceptance path of a fresh install:
// the printed one-time admin password works, the admin must choose a new
// one, adds a staff user, and that user is refused the users page.
func TestFirstStartAdminFlow(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	if app.AdminPassword == "" {
		t.Fatal("no one-time admin password on an empty database")
	}
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "admin", app.AdminPassword)
	if loc := b.Location(t); !strings.HasSuffix(loc, "/account") {
		t.Fatalf("after first login at %s, want /account (must change password)", loc)
	}
	if got := b.Text(t, `[data-testid=must-change]`); !strings.Contains(got, "new password") {
		t.Errorf("must-change notice: %q", got)
	}
	const newPass = "a much better admin passphrase"
	b.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#current`), app.AdminPassword),
		chromedp.SendKeys(chromedp.CSS(`#new`), newPass),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), newPass),
		chromedp.Click(chromedp.CSS(`[data-testid=password-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=home-title]`)),
	)
	if got := b.Text(t, `[data-testid=flash]`); !strings.Contains(got, "password has been changed") {
		t.Errorf("flash after change: %q", got)
	}
	// Add a staff user through the form.
	b.Run(t,
		chromedp.Click(chromedp.CSS(`[data-testid=nav-users]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-user-form]`)),
		chromedp.SendKeys(chromedp.CSS(`#new-username`), "linh.staff"),
		chromedp.SendKeys(chromedp.CSS(`#new-name`), "Trần Thị Linh"),
		chromedp.SetValue(chromedp.CSS(`#new-role`), "staff"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-user-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=one-time-password]`)),
	)
	otp := b.Text(t, `[data-testid=one-time-password]`)
	if len(otp) < 12 {
		t.Fatalf("one-time password %q too short", otp)
	}
	// Staff signs in with it, must change it, then cannot open /users.
	b2 := apptest.NewBrowser(t)
	b2.Login(t, app.URL, "linh.staff", otp)
	const staffPass = "linh chooses her own passphrase"
	b2.Run(t,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=password-form]`)),
		chromedp.SendKeys(chromedp.CSS(`#current`), otp),
		chromedp.SendKeys(chromedp.CSS(`#new`), staffPass),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), staffPass),
		chromedp.Click(chromedp.CSS(`[data-testid=password-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=home-title]`)),
		chromedp.Navigate(app.URL+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-page]`)),
	)
	if status := b2.Attr(t, `[data-testid=error-page]`, "data-status"); status != "403" {
		t.Errorf("staff on /users: error page status %q, want 403", status)
	}
	if n := apptest.Get(t, b2, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=nav-users]').length`)); n != 0 {
		t.Errorf("staff navigation offers Users")
	}
	for _, b := range []*apptest.Browser{b, b2} {
		for _, m := range b.Problems() {
			t.Errorf("browser console: %s", m)
		}
	}
}
