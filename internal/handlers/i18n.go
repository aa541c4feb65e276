package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
)

// tr translates key into the request's language.
func tr(r *http.Request, key string, args ...any) string { return i18n.T(r.Context(), key, args...) }

// msgText renders a domain message in ctx's language, by its key
// (internal/fault): the domain says what went wrong, the catalogues say it
// in each language. "" for no message.
func msgText(ctx context.Context, m fault.Msg) string {
	if m.IsZero() {
		return ""
	}
	return i18n.T(ctx, m.Key, m.Args...)
}

// errText renders err's message in ctx's language when it is one
// (fault.Msg, as ParseAmount returns); "" otherwise.
func errText(ctx context.Context, err error) string {
	var m fault.Msg
	if errors.As(err, &m) {
		return msgText(ctx, m)
	}
	return ""
}

// msgKey is the catalogue key of err's message, for parsers that store
// keys (localizeErrors translates them). Only amounts are parsed so, and
// ParseAmount always answers with a message; "not a number" stands in.
func msgKey(err error) string {
	var m fault.Msg
	if errors.As(err, &m) && m.Key != "" {
		return m.Key
	}
	return "domain.11"
}

// fieldTexts renders every field message of a validation error (refunds
// or auth) in ctx's language, values included.
func fieldTexts(ctx context.Context, fields fault.Fields) map[string]string {
	out := make(map[string]string, len(fields))
	for field, m := range fields {
		out[field] = msgText(ctx, m)
	}
	return out
}

// localizeErrors replaces the message keys in errs by their text in ctx's
// language; parsers that have no request at hand store keys.
func localizeErrors(ctx context.Context, errs map[string]string) {
	for field, key := range errs {
		errs[field] = i18n.T(ctx, key)
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
