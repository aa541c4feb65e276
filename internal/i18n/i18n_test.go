package i18n

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCataloguesMatch: both languages have exactly the same keys, no empty
// message, and the same formatting verbs in the same order.
func TestCataloguesMatch(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	for k, e := range en {
		if base, ok := strings.CutSuffix(k, PluralOne); ok {
			// A singular form: English only, beside its plural, with
			// the same values.
			other, ok := en[base]
			if !ok {
				t.Errorf("%q has no plural form %q", k, base)
			} else if ev, ov := verbs.FindAllString(e, -1), verbs.FindAllString(other, -1); !slices.Equal(ev, ov) || len(ev) == 0 {
				t.Errorf("%q: verbs %v, plural has %v", k, ev, ov)
			}
			continue
		}
		v, ok := vi[k]
		if !ok {
			t.Errorf("%q missing from vi", k)
			continue
		}
		if strings.TrimSpace(e) == "" || strings.TrimSpace(v) == "" {
			t.Errorf("%q has an empty message", k)
		}
		if ev, vv := verbs.FindAllString(e, -1), verbs.FindAllString(v, -1); !slices.Equal(ev, vv) {
			t.Errorf("%q: verbs %v in en, %v in vi", k, ev, vv)
		}
	}
	for k := range vi {
		if _, ok := en[k]; !ok {
			t.Errorf("%q missing from en", k)
		}
	}
}

// keyUse finds literal keys passed to the translation helpers (tr in
// templates and handlers, i18n.T, Lang.T), keys stored for later
// translation in handlers (field errors, flashes, page titles) and the
// domain packages' messages (fault.M, translated by key in the handlers).
var keyUse = regexp.MustCompile(`(?:\btr|i18n\.T|\.T|s\.page)\((?:ctx|r|r\.Context\(\)), "([^"]+)"|` +
	`(?:Errors\[[^\]]+\] = |: +|\{"[a-z]+", )"((?:err|flash|domain|reason|account|title)\.[a-z0-9_]+)"` +
	`|fault\.M\("([^"]+)"`)

// dynamic are the key families built at run time, with every member.
var dynamic = map[string][]string{
	"status.":            {"PENDING", "APPROVED", "REJECTED", "CANCELLED", "NOT_SENT", "QUEUED", "SENDING", "PROCESSING", "UNKNOWN", "SUCCEEDED", "FAILED"},
	"role.":              {"staff", "manager", "admin"},
	"api.":               {"PG", "GC", "COL"},
	"nav.":               {"home", "transactions", "refunds", "approvals", "audit", "users", "account"},
	"tx.not_refundable_": {"order", "transaction"},
	"hook.reason.":       {"api", "target", "amount", "currency", "neox_refund_id", "not_sent", "contradicts"},
	"notify.kind.":       {"refund.requested", "refund.reminder", "refund.decided", "refund.outcome", "refund.needs_attention", "neox.outage"},
	"notify.channel.":    {"email", "webhook"},
	"notify.state.":      {"PENDING", "SENDING", "SENT", "FAILED"},
}

// TestEveryUsedKeyExists scans the templates and handlers for keys and
// checks each is in the catalogues (English is checked; TestCataloguesMatch
// makes Vietnamese follow).
func TestEveryUsedKeyExists(t *testing.T) {
	root := filepath.Join("..", "..")
	found := 0
	for _, dir := range []string{"web/templates", "internal/handlers", "internal/refunds", "internal/auth"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			name := d.Name()
			if strings.HasSuffix(name, "_templ.go") || strings.HasSuffix(name, "_test.go") ||
				!(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".templ")) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
				key := m[1] + m[2] + m[3]
				found++
				if _, ok := dynamic[key]; ok {
					continue // "status."+s and friends: every member is checked below
				}
				if !Has(key) {
					t.Errorf("%s uses key %q, which no catalogue has", path, key)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 200 {
		t.Fatalf("found only %d key uses; the pattern is broken", found)
	}
	for prefix, members := range dynamic {
		for _, m := range members {
			if !Has(prefix + m) {
				t.Errorf("key %q missing", prefix+m)
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   Lang
	}{
		{"", EN},
		{"vi", VI},
		{"vi-VN,vi;q=0.9,en;q=0.8", VI},
		{"en-US,en;q=0.9", EN},
		{"fr-FR,fr;q=0.9,vi;q=0.8,en;q=0.7", VI},
		{"en;q=0.5, vi;q=0.8", VI},
		{"de, ja", EN},
		{"vi;q=0, en", EN},
		{"*", EN},
	} {
		if got := Negotiate(tt.header); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestT(t *testing.T) {
	ctx := context.Background()
	if got := T(ctx, "login.title"); got != "Sign in" {
		t.Errorf("default language: %q", got)
	}
	victx := WithLang(ctx, VI)
	if got := T(victx, "login.title"); got != "Đăng nhập" {
		t.Errorf("vi: %q", got)
	}
	if got := T(victx, "dash.oldest", "3 phút"); got != "Lâu nhất: 3 phút" {
		t.Errorf("vi with args: %q", got)
	}
	if got := T(victx, "no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if l, ok := Parse("vi_VN"); !ok || l != VI {
		t.Errorf("Parse(vi_VN) = %q, %v", l, ok)
	}
	if _, ok := Parse("fr"); ok {
		t.Error("Parse(fr) accepted")
	}
}

// A translation must take the same values in the same order, or
// fmt prints %!s(MISSING) or drops an amount.
func TestFormatVerbsMatch(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	n := 0
	for k, e := range en {
		v, ok := vi[k]
		if !ok {
			continue // TestCataloguesMatch reports it (or it is a singular form)
		}
		want, got := verbs.FindAllString(e, -1), verbs.FindAllString(v, -1)
		n += len(want)
		if strings.Join(want, " ") != strings.Join(got, " ") {
			t.Errorf("%s: en has %v, vi has %v", k, want, got)
		}
	}
	if n < 10 {
		t.Fatalf("only %d verbs in the English catalogue; the pattern is broken", n)
	}
}

// TestPluralForms: English says "1 refund" and "2 refunds"; Vietnamese,
// whose nouns do not change, uses its one form for every number; a value
// that is not a whole number never picks the singular.
func TestPluralForms(t *testing.T) {
	for _, tt := range []struct {
		lang Lang
		n    any
		want string
	}{
		{EN, 1, "1 refund approved and queued for NeoX."},
		{EN, 2, "2 refunds approved and queued for NeoX."},
		{EN, 0, "0 refunds approved and queued for NeoX."},
		{EN, int64(1), "1 refund approved and queued for NeoX."},
		{VI, 1, fmt.Sprintf(vi["ap.approved_n"], 1)},
	} {
		if got := tt.lang.T("ap.approved_n", tt.n); got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	if got := EN.T("account.throttled", 1); !strings.Contains(got, "Wait 1 minute and") {
		t.Errorf("throttled 1: %q", got)
	}
	for k := range en {
		if strings.Contains(en[k], "(s)") {
			t.Errorf("%q still writes a plural as (s): %q", k, en[k])
		}
	}
}
