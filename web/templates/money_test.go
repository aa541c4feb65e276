package templates

import (
	"math"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
)

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		lang     i18n.Lang
		amount   int64
		currency string
		want     string
	}{
		{i18n.EN, 1500000, "VND", "1.500.000 ₫"},
		{i18n.VI, 1500000, "VND", "1.500.000 ₫"},
		{i18n.EN, 0, "VND", "0 ₫"},
		{i18n.EN, 999, "", "999 ₫"},
		{i18n.EN, 150000, "USD", "USD 1,500.00"},
		{i18n.VI, 150000, "USD", "1.500,00 USD"},
		{i18n.EN, 8990, "EUR", "EUR 89.90"},
		{i18n.VI, 8990, "eur", "89,90 EUR"},
		{i18n.EN, 5, "USD", "USD 0.05"},
		{i18n.VI, 5, "USD", "0,05 USD"},
		{i18n.EN, 1500, "JPY", "JPY 1,500"},
		{i18n.VI, 1500, "JPY", "1.500 JPY"},
		{i18n.EN, 1234567, "KWD", "KWD 1,234.567"},
		{i18n.EN, -150000, "USD", "USD -1,500.00"},
		{i18n.VI, -1500000, "VND", "-1.500.000 ₫"},
		{i18n.EN, 100000000000, "USD", "USD 1,000,000,000.00"},
		{i18n.EN, math.MinInt64, "VND", "-9.223.372.036.854.775.808 ₫"},
	}
	for _, tt := range tests {
		if got := FormatMoney(tt.lang, tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatMoney(%s, %d, %q) = %q, want %q", tt.lang, tt.amount, tt.currency, got, tt.want)
		}
	}
}
