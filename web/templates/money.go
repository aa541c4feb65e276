package templates

import (
	"context"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// Money formats an amount held in its currency's minor unit the way a
// reader of ctx's language writes money.
func Money(ctx context.Context, amount int64, currency string) string {
	return FormatMoney(i18n.From(ctx), amount, currency)
}

// FormatMoney writes đồng as Vietnamese accounts do in both languages
// (1.500.000 ₫); other currencies with the language's separators and the
// code where its readers put it: "USD 1,500.00" in English, "1.500,00 USD"
// in Vietnamese, and no decimals for zero-decimal currencies (JPY 1,500).
func FormatMoney(lang i18n.Lang, amount int64, currency string) string {
	currency = strings.ToUpper(currency)
	if currency == "" || currency == "VND" {
		return number(amount, 0, '.', ',') + " ₫"
	}
	if lang == i18n.VI {
		return number(amount, neox.CurrencyExponent(currency), '.', ',') + " " + currency
	}
	return currency + " " + number(amount, neox.CurrencyExponent(currency), ',', '.')
}

// number writes minor units as a decimal with exp fraction digits, groups of
// three separated by group and the fraction after mark.
func number(minor int64, exp int, group, mark byte) string {
	u := uint64(minor)
	if minor < 0 {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	if minor < 0 {
		b.WriteByte('-')
	}
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(group)
		}
		b.WriteByte(whole[i])
	}
	if exp > 0 {
		b.WriteByte(mark)
		b.WriteString(frac)
	}
	return b.String()
}
