package neox

import (
	"fmt"
	"strconv"
	"strings"
)

// CurrencyExponent returns the number of minor-unit digits of an ISO 4217
// currency code: 0 for VND, JPY, KRW and the other zero-decimal
// currencies, 3 for BHD, JOD, KWD, OMR, TND, IQD, LYD, and 2 otherwise.
func CurrencyExponent(currency string) int {
	switch strings.ToUpper(currency) {
	case "VND", "JPY", "KRW", "CLP", "ISK", "PYG", "UGX", "VUV", "XAF", "XOF", "XPF", "BIF", "DJF", "GNF", "KMF", "RWF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND", "IQD", "LYD":
		return 3
	default:
		return 2
	}
}

// toMinor converts a decimal amount in major units ("1500.00", "89.9",
// "120000") to minor units of currency without floating point. More
// fraction digits than the currency has are accepted only if they are zeros.
func toMinor(decimal, currency string) (int64, error) {
	d := strings.TrimSpace(decimal)
	if d == "" {
		return 0, fmt.Errorf("empty amount")
	}
	exp := CurrencyExponent(currency)
	whole, frac, _ := strings.Cut(d, ".")
	if strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("amount %q has a sign", decimal)
	}
	if len(frac) > exp {
		if strings.Trim(frac[exp:], "0") != "" {
			return 0, fmt.Errorf("amount %q has more than %d decimals for %s", decimal, exp, currency)
		}
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	digits := whole + frac
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q is not a decimal number", decimal)
		}
	}
	if digits == "" {
		return 0, fmt.Errorf("amount %q is not a decimal number", decimal)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q out of range", decimal)
	}
	return n, nil
}

// FormatMinor renders minor units of currency as a decimal in major units,
// the inverse of the conversion used for GC amounts (150000 USD → "1500.00").
func FormatMinor(minor int64, currency string) string {
	exp := CurrencyExponent(currency)
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
