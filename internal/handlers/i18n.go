package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// tr translates key into the request's language.
func tr(r *http.Request, key string, args ...any) string { return i18n.T(r.Context(), key, args...) }

// domainMessages maps the English validation messages of the domain
// packages (internal/refunds, internal/auth) to message keys. The domain
// stays language-free; a message missing here is shown as the domain
// wrote it (English), as a sentence.
var domainMessages = map[string]string{
	"enter an amount":                                                 "domain.01",
	"the amount cannot be negative":                                   "domain.02",
	"enter the amount without a sign":                                 "domain.03",
	"use one kind of thousands separator":                             "domain.04",
	"the amount may contain only digits and thousands separators":     "domain.05",
	"the amount cannot start with 0":                                  "domain.06",
	"misplaced thousands separator":                                   "domain.07",
	"thousands separators must split the digits into groups of three": "domain.08",
	"VND amounts have no decimals":                                    "domain.09",
	"the amount is too large":                                         "domain.10",
	"the amount is not a number":                                      "domain.11",
	"say why the refund is rejected":                                  "domain.12",
	"choose PG, GC or COL":                                            "domain.13",
	"choose a currency to compare amounts":                            "err.amount_needs_currency",
	"enter the transaction reference":                                 "domain.14",
	"choose the payment to refund":                                    "domain.15",
	"the amount must be greater than 0":                               "domain.16",
	"a reason is required":                                            "domain.17",
	"describe the reason":                                             "domain.18",
	"keep the reason under 1000 characters":                           "domain.19",
	"choose who bears the fee: OUR (merchant) or BEN (payer)":         "domain.20",
	"too long":    "domain.21",
	"only digits": "domain.22",
	"QR payments need the receiver's account name":    "domain.23",
	"QR payments need the receiver's account number":  "domain.24",
	"QR payments need the receiver's bank SWIFT code": "domain.25",
	"Password is not valid text.":                     "domain.26",
	"Password must be at least 12 characters.":        "domain.27",
	"Password must be at most 256 characters.":        "domain.28",
	"Password must not be only spaces.":               "domain.29",
	"Password must not be the username.":              "domain.30",
	"This password is too easy to guess: it is close to common passwords, repeated characters or the username. A few unrelated words make a strong one.": "err.password_guessable",
	"Choose staff, manager or admin.":                                                  "err.choose_role",
	"Use 3 to 32 characters: a-z, 0-9, dot, underscore or hyphen.":                     "domain.32",
	"Use at most 100 characters.":                                                      "domain.33",
	"Contains characters that are not allowed.":                                        "domain.34",
	"Unknown language.":                                                                "domain.35",
	"Choose a password different from the current one.":                                "account.same",
	"sort by date or amount":                                                           "domain.36",
	"unknown approval state":                                                           "domain.37",
	"unknown submission state":                                                         "domain.38",
	"filter on the request or the final date":                                          "domain.39",
	"the page link is out of date; start again":                                        "domain.40",
	"NeoX does not know this transaction":                                              "domain.41",
	"contains characters that cannot be stored: invalid text or control characters":    "err.bad_text",
	"enter the bank's SWIFT/BIC code: 8 or 11 letters and digits, like BFTVVNVX":       "err.bad_bic",
	"an account number has 6 to 20 digits":                                             "err.account_length",
	"enter the account holder's name as the bank shows it: 2 to 70 letters and spaces": "err.account_name",
	"this transaction has no such payment":                                             "domain.42",
	"the order has no amount to refund":                                                "domain.43",
	"a refund of this order is already pending or in progress":                         "domain.44",
	"choose what NeoX's portal shows: succeeded or failed":                             "domain.54",
	"write what NeoX's portal shows and where you saw it":                              "domain.55",
	"keep the note under 1000 characters":                                              "domain.56",
	"enter NeoX's reference for this refund":                                           "domain.57",
	"keep the reference under 100 characters":                                          "domain.58",
	"the reference must be on one line":                                                "domain.59",
	// Messages with values: the fixed sentence of a refunds.Format.
	"only paid transactions can be refunded (NeoX status %s)":                           "domain.45",
	"GC refunds the whole order: %s %s":                                                 "domain.46",
	"at most %s can be refunded (paid %s, refunded %s, pending or in progress here %s)": "domain.47",
	// The refundable rules' reasons (internal/refunds/refundable.go).
	"the order is not settled yet (NeoX status %s); only SUCCESS orders can be refunded":                                                                          "domain.48",
	"NeoX is already refunding this order or has refunded it (status %s)":                                                                                         "domain.49",
	"the order was not paid (NeoX status %s)":                                                                                                                     "domain.50",
	"NeoX reported status %q, which is not a documented GC order status; only SUCCESS orders can be refunded":                                                     "domain.51",
	"nothing is left to refund (paid %s, refunded %s, pending or in progress here %s)":                                                                            "domain.52",
	"NeoX reported status %q, which NeoX has not documented; the desk lets you request the refund, and NeoX will refuse it if the transaction cannot be refunded": "domain.53",
}

// domainText renders a domain validation message in ctx's language. A
// message built from values comes as its fixed sentence (a key of
// domainMessages) and the values.
func domainText(ctx context.Context, msg string, args ...any) string {
	if key, ok := domainMessages[msg]; ok {
		return i18n.T(ctx, key, args...)
	}
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return sentence(errorString(msg))
}

// validationTexts renders every field message of a refunds validation
// error in ctx's language, values included.
func validationTexts(ctx context.Context, ve *refunds.ValidationError) map[string]string {
	out := make(map[string]string, len(ve.Fields))
	for field := range ve.Fields {
		format, args := ve.Format(field)
		out[field] = domainText(ctx, format, args...)
	}
	return out
}

type errorString string

func (e errorString) Error() string { return string(e) }

// localizeErrors replaces message keys (and known domain messages) in
// errs by their text in ctx's language; parsers that have no request at
// hand store keys.
func localizeErrors(ctx context.Context, errs map[string]string) {
	for field, v := range errs {
		if i18n.Has(v) {
			errs[field] = i18n.T(ctx, v)
		} else {
			errs[field] = domainText(ctx, v)
		}
	}
}

// backTo is where the language switch returns: this page for a GET, the
// page the form was on (its same-site Referer) otherwise.
func backTo(r *http.Request) string {
	u := r.URL
	if r.Method != http.MethodGet {
		ref, err := url.Parse(r.Referer())
		if err != nil || ref.Host != r.Host {
			return "/"
		}
		u = ref
	}
	out := u.Path
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return safeNext(out)
}
