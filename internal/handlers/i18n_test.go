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

// Every message the domain packages can give a person (fault.M) names a
// catalogue key, or a Vietnamese user meets a key in the middle of a form;
// messages are translated by key, so no English text is looked up.
func TestDomainMessagesAreTranslated(t *testing.T) {
	re := regexp.MustCompile(`fault\.M\("([^"]+)"`)
	for _, dir := range []struct {
		glob string
		min  int
	}{{filepath.Join("..", "refunds", "*.go"), 20}, {filepath.Join("..", "auth", "*.go"), 10},
		{filepath.Join("..", "product", "*.go"), 2}, {filepath.Join("..", "product", "*", "*.go"), 10}} {
		for _, l := range sourceLiterals(t, dir.glob, re, dir.min) {
			if !i18n.Has(l.text) {
				t.Errorf("%s: key %q is in no catalogue", l.file, l.text)
			}
		}
	}
	// No English message may reach a page as a field error: every field
	// message of a refunds validation error has a key.
	ve := refunds.Precheck(refunds.NewRequest{API: "XX", ReasonCode: "OTHER", BankSwift: "x", BankAccountNumber: "12a", BankAccountName: "1"}, true)
	if ve == nil || len(ve.Fields) < 5 {
		t.Fatalf("Precheck = %v, want several fields", ve)
	}
	for field, m := range ve.Fields {
		if !i18n.Has(m.Key) {
			t.Errorf("%s: %q has no key", field, m.String())
		}
	}
}

// A message built from values keeps them in the translation.
func TestValidationTextsTranslateValues(t *testing.T) {
	e := newEnv(t)
	u := e.user("staff1", auth.RoleStaff)
	_, err := e.refunds.Create(context.Background(), actorOf(context.Background(), u), refunds.NewRequest{API: refunds.APIGC,
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
		got := fieldTexts(i18n.WithLang(context.Background(), tc.lang), ve.Fields)["amount"]
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
			seen[msg.Key] = true
			if !i18n.Has(msg.Key) {
				t.Errorf("%s: %q has no key in the catalogues (%q)", field, msg.Key, msg.String())
			}
		}
	}
	if len(seen) < 11 {
		t.Errorf("only %d distinct messages: a case no longer breaks the rule it names: %v", len(seen), seen)
	}
}
