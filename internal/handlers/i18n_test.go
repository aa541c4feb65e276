package handlers

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Every validation message internal/refunds can return has a translation,
// or a Vietnamese user meets an English sentence in the middle of a form.
func TestRefundMessagesAreTranslated(t *testing.T) {
	// invalid("field", "msg"), invalidf("field", "format", …), f["field"] = "msg"
	re := regexp.MustCompile(`(?:invalidf?\("[a-z_]+", |f\["[a-z_]+"\] = )"([^"]+)"`)
	for _, l := range sourceLiterals(t, filepath.Join("..", "refunds", "*.go"), re, 25) {
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
