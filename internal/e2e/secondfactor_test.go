package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// codeAt is secret's TOTP code at the test clock's time.
func codeAt(t *testing.T, clock *apptest.Clock, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolInBrowser sets up TOTP from the account page and returns the
// secret and the recovery codes shown.
func enrolInBrowser(t *testing.T, b *apptest.Browser, base string, clock *apptest.Clock) (string, []string) {
	t.Helper()
	b.Run(t, chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=mfa-start]`)))
	b.ClickAndLoad(t, `[data-testid=mfa-start]`)
	b.WaitFor(t, `[data-testid=mfa-qr]`)
	// The QR code is a same-origin PNG that loaded under the CSP.
	if w := num(t, b, `document.querySelector('[data-testid=mfa-qr]').naturalWidth`); w == 0 {
		t.Fatal("the QR code did not load")
	}
	secret := strings.TrimSpace(b.Text(t, `[data-testid=mfa-secret]`))
	if secret == "" {
		t.Fatal("no secret shown as text")
	}
	b.Run(t, chromedp.SendKeys(chromedp.CSS(`#confirm-code`), codeAt(t, clock, secret)))
	b.ClickAndLoad(t, `[data-testid=mfa-confirm]`)
	b.WaitFor(t, `[data-testid=recovery-codes]`)
	codes := strings.Fields(b.Text(t, `[data-testid=recovery-codes]`))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown: %v", len(codes), codes)
	}
	return secret, codes
}

// num evaluates expr in the page and returns its number.
func num(t *testing.T, b *apptest.Browser, expr string) float64 {
	t.Helper()
	return apptest.Get(t, b, chromedp.Evaluate[float64](expr))
}

// signInWithCode signs in through both steps; refused: the code is
// expected to be refused, and the page to say so.
func signInWithCode(t *testing.T, b *apptest.Browser, base, username, code string, refused bool) {
	t.Helper()
	b.Run(t,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), username),
		chromedp.SendKeys(chromedp.CSS(`#password`), pass),
	)
	b.ClickAndLoad(t, `[data-testid=login-submit]`)
	b.WaitFor(t, `[data-testid=code-form]`)
	b.Run(t, chromedp.SendKeys(chromedp.CSS(`#code`), code))
	if refused {
		// The refusal answers at the same address.
		b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=code-submit]`)))
		b.WaitFor(t, `[data-testid=code-error]`)
		return
	}
	b.ClickAndLoad(t, `[data-testid=code-submit]`)
}

// TestTOTPEnrolmentSignInRecoveryAndReplay: enrol from the account page,
// sign in with a code, a replayed code is refused, a recovery code works
// once.
func TestTOTPEnrolmentSignInRecoveryAndReplay(t *testing.T) {
	t.Parallel()
	clock := apptest.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	app := apptest.Start(t, apptest.WithClock(clock))
	app.CreateUser(t, "tmanager", auth.RoleManager, pass)
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "tmanager", pass)
	secret, codes := enrolInBrowser(t, b, app.URL, clock)
	b.Run(t, chromedp.Navigate(app.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=mfa-on]`)))
	if n := num(t, b, `document.querySelectorAll('[data-testid=mfa-secret]').length`); n != 0 {
		t.Fatal("secret still shown after enrolment")
	}

	// Sign in again: the code step follows the password.
	clock.Advance(30 * time.Second)
	code := codeAt(t, clock, secret)
	b2 := apptest.NewBrowser(t)
	signInWithCode(t, b2, app.URL, "tmanager", code, false)
	b2.WaitFor(t, `nav`)
	if loc := b2.Location(t); strings.Contains(loc, "/login") {
		t.Fatalf("still on %s after a good code", loc)
	}

	// The same code again, in the same time step: refused.
	b3 := apptest.NewBrowser(t)
	signInWithCode(t, b3, app.URL, "tmanager", code, true)

	// A recovery code signs in once, then lands on the account page.
	signInWithCode(t, b3, app.URL, "tmanager", codes[2], false)
	b3.WaitFor(t, `[data-testid=mfa-on]`)
	if got := b3.Text(t, `[data-testid=mfa-on]`); !strings.Contains(got, "9") {
		t.Fatalf("account page says %q, want 9 codes left", got)
	}
	b4 := apptest.NewBrowser(t)
	signInWithCode(t, b4, app.URL, "tmanager", codes[2], true)
	for _, p := range append(b.Problems(), b2.Problems()...) {
		t.Errorf("browser problem: %s", p)
	}
}

// TestStepUpOnLargeApproval: approving above STEPUP_LIMITS asks for a
// fresh code once the sign-in code is older than STEPUP_WINDOW.
func TestStepUpOnLargeApproval(t *testing.T) {
	t.Parallel()
	clock := apptest.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	app := apptest.Start(t, apptest.WithClock(clock),
		apptest.WithEnv("STEPUP_LIMITS", "VND=100000"), apptest.WithEnv("STEPUP_WINDOW", "2m"))
	staff := app.CreateUser(t, "sstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "smanager", auth.RoleManager, pass)
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "smanager", pass)
	secret, _ := enrolInBrowser(t, b, app.URL, clock)

	ref, err := app.App.Refunds.Create(context.Background(), refunds.Actor{ID: staff.ID, Name: staff.Username, Role: staff.Role},
		refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 150000,
			ReasonCode: "other", ReasonText: "large", IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Minute)
	b.Run(t,
		chromedp.Navigate(app.URL+"/refunds/"+ref.ID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=approve]`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
	)
	b.ClickAndLoad(t, `[data-testid=approve]`)
	b.WaitFor(t, `[data-testid=stepup-form]`)
	got, err := app.App.Refunds.Get(context.Background(), ref.ID)
	if err != nil || got.Approval != refunds.ApprovalPending {
		t.Fatalf("approved before the code: %v %v", got.Approval, err)
	}
	b.Run(t, chromedp.SendKeys(chromedp.CSS(`#stepup-code`), codeAt(t, clock, secret)))
	b.ClickAndLoad(t, `[data-testid=stepup-submit]`)
	b.WaitFor(t, `[data-testid=flash]`)
	got, err = app.App.Refunds.Get(context.Background(), ref.ID)
	if err != nil || got.Approval != refunds.ApprovalApproved {
		t.Fatalf("after the code: %v %v", got.Approval, err)
	}
	for _, p := range b.Problems() {
		t.Errorf("browser problem: %s", p)
	}
}
