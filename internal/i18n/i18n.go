// Package i18n holds the UI's message catalogues (Vietnamese and English)
// and the request's language, carried in its context.
//
// Keys are dotted names ("nav.refunds"); messages may hold fmt verbs,
// filled by T's arguments. A key missing from the request's language
// falls back to English, then to the key itself, so a gap shows up on the
// page instead of breaking it; TestCatalogues keeps both catalogues
// complete and every key used in code present.
package i18n

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Lang is a UI language.
type Lang string

// The supported languages. English is the default.
const (
	EN Lang = "en"
	VI Lang = "vi"
)

// Default is the language of a request that states no preference.
const Default = EN

// Langs lists the supported languages in the order the switch shows them.
var Langs = []Lang{VI, EN}

// Name is the language's own name, for the switch.
func (l Lang) Name() string {
	if l == VI {
		return "Tiếng Việt"
	}
	return "English"
}

var catalogues = map[Lang]map[string]string{EN: en, VI: vi}

// extend adds a feature's messages to the catalogues; a feature keeps its
// messages in a file of its own (en and vi side by side) so that features
// written in parallel do not edit the same lines. A key defined twice is a
// programming error, found by the first test that imports the package.
func extend(l Lang, msgs map[string]string) {
	c := catalogues[l]
	for k, v := range msgs {
		if _, dup := c[k]; dup {
			panic("i18n: message " + k + " defined twice")
		}
		c[k] = v
	}
}

// Parse accepts "vi", "en" and regional tags of them ("en-US", "vi_VN").
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	base, _, _ := strings.Cut(strings.ReplaceAll(s, "_", "-"), "-")
	switch Lang(base) {
	case EN:
		return EN, true
	case VI:
		return VI, true
	}
	return "", false
}

// Negotiate picks the supported language the Accept-Language header
// prefers most (highest q, then first listed); Default when none matches.
func Negotiate(acceptLanguage string) Lang {
	best, bestQ := Default, -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		l, ok := Parse(tag)
		if !ok || q <= 0 {
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

type ctxKey struct{}

// WithLang returns ctx carrying l.
func WithLang(ctx context.Context, l Lang) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the language carried by ctx, Default if none.
func From(ctx context.Context) Lang {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(Lang); ok && catalogues[l] != nil {
			return l
		}
	}
	return Default
}

// T translates key into ctx's language, formatting args into it when given.
func T(ctx context.Context, key string, args ...any) string {
	return From(ctx).T(key, args...)
}

// T translates key into l, formatting args into it when given.
func (l Lang) T(key string, args ...any) string {
	msg, ok := catalogues[l][pluralKey(l, key, args)]
	if !ok {
		if msg, ok = en[key]; !ok {
			msg = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// PluralOne is the suffix of a message's singular form: when the first
// value is 1 and the language has key+PluralOne, that form is used ("1
// refund", not "1 refunds" or "1 refund(s)"). Vietnamese nouns do not
// change with the number, so its catalogue has none.
const PluralOne = "#one"

func pluralKey(l Lang, key string, args []any) string {
	if len(args) == 0 {
		return key
	}
	var n int64
	switch v := args[0].(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	default:
		return key
	}
	if n == 1 {
		if _, ok := catalogues[l][key+PluralOne]; ok {
			return key + PluralOne
		}
	}
	return key
}

// Has reports whether key exists in the English catalogue.
func Has(key string) bool {
	_, ok := en[key]
	return ok
}

// Keys lists every key of the English catalogue (tests look for keys that
// reached a page untranslated).
func Keys() []string {
	out := make([]string, 0, len(en))
	for k := range en {
		out = append(out, k)
	}
	return out
}
