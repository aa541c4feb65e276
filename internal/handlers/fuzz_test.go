package handlers

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// The form and query parsers take whatever a client sends. These targets
// check they never panic and keep their promises on any input:
// go test -fuzz FuzzParseRefundFilter ./internal/handlers/ (one target at a time).

var fuzzQueries = []string{"", "status=PENDING&api=PG", "requester=-1&min=1.000&max=5", "from=2026-02-30&to=x",
	"sort=amount&dir=asc&after=AAAA", "status=%3Cscript%3E&api=%27+OR+1%3D1", "min=99999999999999999999",
	"range=24h&actor=alice&action=auth.login&outcome=failure&target=refund:1&q=%00", "c=b12", "c=a-1", "from=2026-01-01T10:00"}

func FuzzParseRefundFilter(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, raw string, manager bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		u := auth.User{ID: 42, Role: auth.RoleStaff}
		if manager {
			u.Role = auth.RoleManager
		}
		lf, form := parseRefundFilter(q, policy.Policy{}, policyActor(u), time.UTC, []string{"PG", "GC", "COL"})
		if !manager && lf.RequestedBy != 42 {
			t.Fatalf("staff filter not pinned to the viewer: requested_by %d", lf.RequestedBy)
		}
		if len(form.Errors) == 0 {
			if lf.MinAmount < 0 || lf.MaxAmount < 0 {
				t.Fatalf("negative amount bound accepted: %+v", lf)
			}
			if lf.MinAmount > 0 && lf.MaxAmount > 0 && lf.MinAmount > lf.MaxAmount {
				t.Fatalf("min above max accepted: %+v", lf)
			}
			if manager && lf.RequestedBy < 0 {
				t.Fatalf("negative requester accepted: %+v", lf)
			}
		}
	})
}

func FuzzParseAuditFilter(f *testing.F) {
	for _, q := range fuzzQueries {
		f.Add(q)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		af, form := parseAuditFilter(q, now, time.UTC)
		if len(form.Errors) == 0 && !af.From.IsZero() && !af.To.IsZero() && af.To.Before(af.From) {
			t.Fatalf("time range ends before it starts: %+v", af)
		}
	})
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "/refunds?x=1", "//evil.example", "/\\evil.example", "https://evil.example",
		"/%2F%2Fevil", "javascript:alert(1)", "\t/x", "/\t/evil", "/\n/evil", "/\x7f/x", "/\u2028/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\") ||
			strings.ContainsFunc(got, unicode.IsControl) || (err == nil && (u.Host != "" || u.Scheme != "")) {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
	})
}

func FuzzValidRef(f *testing.F) {
	for _, s := range []string{"240901101500HCMCAF", "CO-20240501-000123456", "FT24324HCM001", "", "<x>", "a b", "１２３"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if !validRef(ref) {
			return
		}
		if len(ref) > 64 || strings.Trim(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") != "" {
			t.Fatalf("validRef accepted %q", ref)
		}
	})
}
