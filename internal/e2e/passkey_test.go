package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// virtualKey gives b's tab a DevTools virtual authenticator (CTAP2,
// built in, with user verification) that answers without a touch.
func virtualKey(t *testing.T, b *apptest.Browser) webauthn.AuthenticatorID {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestPasskeySignIn: a manager registers a security key from the account
// page and signs in with it at the second step, under the CSP; the key
// counts as the second factor the role requires, and answers the step-up
// of a large approval (STEPUP_WINDOW 0: always asked).
func TestPasskeySignIn(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t, apptest.WithLocalhost(),
		apptest.WithEnv("STEPUP_LIMITS", "VND=100000"), apptest.WithEnv("STEPUP_WINDOW", "0s"))
	mgr := app.CreateUser(t, "kmanager", auth.RoleManager, pass)
	staff := app.CreateUser(t, "kstaff", auth.RoleStaff, pass)
	b := apptest.NewBrowser(t)
	id := virtualKey(t, b)
	b.Login(t, app.URL, "kmanager", pass)

	// Register.
	b.Run(t, chromedp.Navigate(app.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=key-add]`)),
		chromedp.SendKeys(chromedp.CSS(`#key-name`), "Virtual key"))
	// The page reloads itself at the same address once the key is stored.
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=key-add]`)))
	b.WaitFor(t, `[data-testid=security-keys]`)
	if got := b.Text(t, `[data-testid=security-keys]`); !strings.Contains(got, "Virtual key") {
		t.Fatalf("keys listed: %q", got)
	}
	creds, err := chromedp.Call(b.Ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("virtual authenticator holds %v (%v), want 1 credential", creds, err)
	}

	// Sign out, sign in again: the password, then the key.
	b.Run(t, chromedp.Navigate(app.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=two-factor]`)))
	b.Run(t, chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/logout"]').submit()`))
	b.WaitFor(t, `[data-testid=login-form]`)
	b.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#username`), "kmanager"),
		chromedp.SendKeys(chromedp.CSS(`#password`), pass),
	)
	b.ClickAndLoad(t, `[data-testid=login-submit]`)
	b.WaitFor(t, `[data-testid=key-signin]`)
	b.ClickAndLoad(t, `[data-testid=key-signin]`)
	b.WaitFor(t, `nav`)
	if loc := b.Location(t); strings.Contains(loc, "/login") {
		t.Fatalf("still on %s after the key", loc)
	}

	// The key counts as the second factor a requirement asks for.
	has, err := app.App.Auth.HasSecondFactor(context.Background(), mgr.ID)
	if err != nil || !has {
		t.Fatalf("HasSecondFactor = %v, %v; want true", has, err)
	}

	// A large approval asks for the key (no code: there is no app), and
	// the key's fresh answer approves.
	ref, err := app.App.Refunds.Create(context.Background(), refunds.Actor{ID: staff.ID, Name: staff.Username, Role: staff.Role},
		refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 150000,
			ReasonCode: "other", ReasonText: "large", IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	b.Run(t,
		chromedp.Navigate(app.URL+"/refunds/"+ref.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=approve]`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
	)
	b.ClickAndLoad(t, `[data-testid=approve]`)
	b.WaitFor(t, `[data-testid=stepup-key]`)
	if n := num(t, b, `document.querySelectorAll('#stepup-code').length`); n != 0 {
		t.Fatal("the step-up asks a code of a manager without the app")
	}
	if got, err := app.App.Refunds.Get(context.Background(), ref.ID); err != nil || got.Approval != refunds.ApprovalPending {
		t.Fatalf("approved before the key: %v %v", got.Approval, err)
	}
	b.ClickAndLoad(t, `[data-testid=stepup-key]`)
	b.WaitFor(t, `[data-testid=flash]`)
	if got, err := app.App.Refunds.Get(context.Background(), ref.ID); err != nil || got.Approval != refunds.ApprovalApproved {
		t.Fatalf("after the key: %v %v", got.Approval, err)
	}

	for action, want := range map[string]int{audit.ActionMFAKeyAdded: 1, audit.ActionMFAKeyUsed: 2, audit.ActionMFAStepUp: 1} {
		page, err := app.App.Audit.Query(context.Background(), audit.Filter{Action: action, Outcome: audit.OutcomeSuccess}, audit.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Entries); n != want {
			t.Errorf("%d %s audit rows, want %d", n, action, want)
		}
	}
	for _, p := range b.Problems() {
		t.Errorf("browser problem: %s", p)
	}
}
