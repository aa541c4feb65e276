package handlers

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Every validation message internal/refunds can return has a translation,
// or a Vietnamese user meets an English sentence in the middle of a form.
func TestRefundMessagesAreTranslated(t *testing.T) {
	// invalid("field", "msg"), invalidf("field", "format", …), f["field"] = "msg",
	// and the refundable rules' reasons: reasonX = "format"; in the
	// products: product.Because("format", …), product.Invalidf("field", "format")
	// and ReasonX = "format".
	re := regexp.MustCompile(`(?:invalidf?\("[a-z_]+", |f\["[a-z_]+"\] = |\breason[A-Z][A-Za-z]* += )"([^"]+)"`)
	inProducts := regexp.MustCompile(`(?:Invalidf\("[a-z_]+", |\b[rR]eason[A-Z][A-Za-z]* += |product\.Because\()"([^"]+)"`)
	all := sourceLiterals(t, filepath.Join("..", "refunds", "*.go"), re, 0)
	for _, glob := range []string{filepath.Join("..", "product", "*.go"), filepath.Join("..", "product", "*", "*.go")} {
		all = append(all, sourceLiterals(t, glob, inProducts, 0)...)
	}
	if len(all) < 33 {
		t.Fatalf("found only %d messages in refunds and the products; the pattern is broken", len(all))
	}
	for _, l := range all {
		if _, ok := domainMessages[l.text]; !ok {
			t.Errorf("%s: %q has no entry in domainMessages", l.file, l.text)
		}
	}
}

// A message built from values keeps them in the translation.
func TestValidationTextsTranslateValues(t *testing.T) {
	e := newEnv(t)
	u := e.user("staff1", auth.RoleStaff)
	_, err := e.refunds.Create(context.Background(), actorOf(u), refunds.NewRequest{API: refunds.APIGC,
		TransactionRef: "CO-20240502-000200001", Amount: 1, FeeChargeWay: "OUR", ReasonCode: "customer_request"})
	var ve *refunds.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("partial GC refund: err = %v, want a validation error", err)
	}
	for _, tc := range []struct {
		lang i18n.Lang
		want string
	}{
		{i18n.EN, "GC refunds the whole order: 89.90 EUR."},
		{i18n.VI, "GC hoàn tiền toàn bộ đơn hàng: 89.90 EUR."},
	} {
		got := validationTexts(i18n.WithLang(context.Background(), tc.lang), ve)["amount"]
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.want)
		}
	}
}

// Every message internal/auth gives for a bad user form has a translation:
// each rule is broken once through the service the handlers call.
func TestAuthMessagesAreTranslated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := "correct horse battery"
	tests := []struct {
		name                     string
		user, display, role, pwd string
	}{
		{"username", "x", "", "staff", good},
		{"long display name", "ann", strings.Repeat("a", 101), "staff", good},
		{"control character", "ann", "a\x01b", "staff", good},
		{"role", "ann", "", "boss", good},
		{"short password", "ann", "", "staff", "short"},
		{"long password", "ann", "", "staff", strings.Repeat("p", 257)},
		{"spaces", "ann", "", "staff", strings.Repeat(" ", 12)},
		{"password is username", "averylongname1", "", "staff", "AVERYLONGNAME1"},
		{"invalid text", "ann", "", "staff", strings.Repeat("\xff", 12)},
		{"guessable password", "ann", "", "staff", "password1234"},
	}
	var all []*auth.ValidationError
	for _, tt := range tests {
		_, err := e.auth.CreateUser(ctx, tt.user, tt.display, auth.Role(tt.role), tt.pwd, false)
		var ve *auth.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: err = %v, want a validation error", tt.name, err)
		}
		all = append(all, ve)
	}
	u := e.user("staff1", auth.RoleStaff)
	for _, err := range []error{
		e.auth.SetLang(ctx, u.ID, "klingon!"),
		e.auth.ChangePassword(ctx, u.ID, testPassword, testPassword),
	} {
		var ve *auth.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want a validation error", err)
		}
		all = append(all, ve)
	}
	seen := map[string]bool{}
	for _, ve := range all {
		for field, msg := range ve.Fields {
			seen[msg] = true
			if _, ok := domainMessages[msg]; !ok {
				t.Errorf("%s: %q has no entry in domainMessages", field, msg)
			}
		}
	}
	if len(seen) < 11 {
		t.Errorf("only %d distinct messages: a case no longer breaks the rule it names: %v", len(seen), seen)
	}
}
