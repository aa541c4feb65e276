package handlers

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// viAllowed are the words a Vietnamese page may show that also read as
// English: names (products, NeoX, people, the app), units and codes shown
// as text. Codes in code elements are not read at all.
var viAllowed = map[string]bool{
	"neox": true, "refund": true, "desk": true, // the app's name, "Refund Desk"
	"api": true, "pg": true, "gc": true, "col": true, "vnd": true, "usd": true, "eur": true, "jpy": true, "sgd": true, "aud": true,
	"csv": true, "png": true, "ms": true, "id": true, "ip": true, "utc": true, "ok": true, "qr": true, "atm": true, "cc": true,
	"swift": true, "email": true, "url": true, "sha": true, "https": true, "http": true,
	// The test's people, as the header and lists name them.
	"lan": true, "minh": true, "quan": true, "system": true,
}

// englishWords is the vocabulary that gives an untranslated string away:
// every word of the English catalogue and the words templates used to
// write out, less those the Vietnamese catalogue uses itself.
func englishWords() map[string]bool {
	word := regexp.MustCompile(`[A-Za-z]{2,}`)
	en, vi := map[string]bool{}, map[string]bool{}
	for _, k := range i18n.Keys() {
		for _, w := range word.FindAllString(i18n.EN.T(k), -1) {
			en[strings.ToLower(w)] = true
		}
		for _, w := range word.FindAllString(i18n.VI.T(k), -1) {
			vi[strings.ToLower(w)] = true
		}
	}
	for _, w := range strings.Fields(`from to op by of the and or in on at for with not yes no success failure denied unknown
		rejected approved cancelled failed pending processing queued sending succeeded state status outcome note code message
		reason applied refunds call poll manual approval time show hide more less next previous back`) {
		en[w] = true
	}
	for w := range vi {
		delete(en, w)
	}
	for w := range viAllowed {
		delete(en, w)
	}
	return en
}

var (
	reDrop = regexp.MustCompile(`(?is)<(script|style|code|pre|svg)\b.*?</(script|style|code|pre|svg)>`)
	// Data shown as it came (NeoX's messages, a browser's user agent, a
	// person's note) is marked translate="no".
	reData = regexp.MustCompile(`(?is)<(span|td)\b[^>]*\btranslate="no"[^>]*>[^<]*</(span|td)>`)
	// A code in brackets beside its word: "Chờ NeoX xử lý (PROCESSING)",
	// "Yêu cầu hoàn tiền (refund.requested)".
	reCodeInBrackets = regexp.MustCompile(`\(([A-Z][A-Z_]+|[a-z_]+\.[a-z_.]+)\)`)
	reAttr           = regexp.MustCompile(`(?i)\s(?:aria-label|placeholder|alt|title)="([^"]*)"`)
	reTag            = regexp.MustCompile(`(?s)<[^>]*>`)
	reWords          = regexp.MustCompile(`[A-Za-z][A-Za-z']+`)
	// Identifiers shown as text: references, ids, hashes, sub-merchants.
	reIdent = regexp.MustCompile(`\b[A-Za-z0-9-]*\d[A-Za-z0-9-]*\b|\b[0-9a-f]{8}-[0-9a-f-]{27}\b`)
)

// visibleText is what a person reads on the page, attributes they hear
// (aria-label, title, placeholder, alt) included; code elements,
// scripts and styles left out.
func visibleText(page string) string {
	page = reData.ReplaceAllString(reDrop.ReplaceAllString(page, " "), " ")
	var attrs []string
	for _, m := range reAttr.FindAllStringSubmatch(page, -1) {
		attrs = append(attrs, m[1])
	}
	text := reTag.ReplaceAllString(page, " ") + " " + strings.Join(attrs, " ")
	text = reCodeInBrackets.ReplaceAllString(html.UnescapeString(text), " ")
	return reIdent.ReplaceAllString(text, " ")
}

// TestVietnameseIsComplete renders every page type in Vietnamese for each
// role (refunds in each state, audit, dashboard, users, account, errors)
// and fails on any English word not in the allow-list of names and codes.
func TestVietnameseIsComplete(t *testing.T) {
	e := newEnv(t, withNotify)
	ctx := context.Background()
	staff := e.user("lan", auth.RoleStaff)
	mgr := e.user("minh", auth.RoleManager)
	admin := e.user("quan", auth.RoleAdmin)
	sa := refunds.Actor{ID: staff.ID, Name: staff.Username, Role: "staff"}
	ma := refunds.Actor{ID: mgr.ID, Name: mgr.Username, Role: "manager"}
	newCOL := func(amount int64) refunds.Refund {
		t.Helper()
		r, err := e.refunds.Create(ctx, sa, refunds.NewRequest{API: refunds.APICOL, TransactionRef: "FT24324HCM001", Amount: amount,
			ReasonCode: "other", ReasonText: "khách đổi ý", IdempotencyKey: uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// A lookup is kept, so refund pages show the transaction's figures.
	if _, err := e.refunds.Lookup(ctx, "vi", refunds.APICOL, "FT24324HCM001"); err != nil {
		t.Fatal(err)
	}
	pending := newCOL(1000)
	rejected := newCOL(1100)
	if _, err := e.refunds.Reject(ctx, ma, rejected.ID, "không đủ chứng từ"); err != nil {
		t.Fatal(err)
	}
	cancelled := newCOL(1200)
	if _, err := e.refunds.Cancel(ctx, sa, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	queued := newCOL(1300)
	if _, err := e.refunds.Approve(ctx, ma, queued.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Sent by the worker: PROCESSING, with NeoX calls and state changes in
	// its timeline.
	processing := approvedCOLRefundAs(t, e, sa, ma)
	// The other submission states, written straight into the database.
	ids := map[string]string{"PENDING": pending.ID, "REJECTED": rejected.ID, "CANCELLED": cancelled.ID, "QUEUED": queued.ID,
		"PROCESSING": processing.ID}
	now := e.clock.Now()
	for i, st := range []string{"SENDING", "UNKNOWN", "SUCCEEDED", "FAILED"} {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ids[st] = id
		final, reason := "", ""
		if st == "SUCCEEDED" || st == "FAILED" {
			final = store.FormatTime(now)
		}
		if st == "FAILED" {
			reason = "Tài khoản người nhận đã đóng"
		}
		if _, err := e.db.Write.ExecContext(ctx, `INSERT INTO refunds (id, api, transaction_ref, amount, currency, requested_by,
			requested_by_name, requested_at, approval, decided_by, decided_at, submission, updated_at, final_at, failed_reason,
			next_attempt_at) VALUES (?, 'COL', 'FT24324HCM001', 500, 'VND', ?, 'lan', ?, 'APPROVED', ?, ?, ?, ?, ?, ?, ?)`,
			id, staff.ID, store.FormatTime(now), mgr.ID, store.FormatTime(now), st, store.FormatTime(now), final, reason,
			store.FormatTime(now.Add(24*3600e9))); err != nil {
			t.Fatal(err)
		}
	}

	vi := map[string]string{"Accept-Language": "vi"}
	login := func(name string) *http.Client {
		t.Helper()
		c := e.client()
		if r := e.do(c, http.MethodPost, "/login", url.Values{"username": {name}, "password": {testPassword}}, vi); r.status != http.StatusSeeOther {
			t.Fatalf("login %s: %d", name, r.status)
		}
		return c
	}
	english := englishWords()
	check := func(c *http.Client, who, path string, wantStatus int) {
		t.Helper()
		r := e.do(c, http.MethodGet, path, nil, vi)
		if r.status != wantStatus {
			t.Errorf("%s %s: status %d, want %d", who, path, r.status, wantStatus)
			return
		}
		if !strings.Contains(r.body, `<html lang="vi"`) {
			t.Errorf("%s %s: not a Vietnamese page", who, path)
			return
		}
		seen := map[string]bool{}
		for _, w := range reWords.FindAllString(visibleText(r.body), -1) {
			lw := strings.ToLower(strings.Trim(w, "'"))
			if english[lw] {
				seen[w] = true
			}
		}
		if len(seen) > 0 {
			var ws []string
			for w := range seen {
				ws = append(ws, w)
			}
			sort.Strings(ws)
			t.Errorf("%s %s: English words on the Vietnamese page: %s", who, path, strings.Join(ws, ", "))
		}
	}

	check(e.client(), "signed out", "/login", http.StatusOK)
	sc := login("lan")
	for _, p := range []string{"/", "/transactions", "/transactions?api=COL&ref=FT24324HCM001", "/refunds",
		"/refunds/new?api=COL&ref=FT24324HCM001", "/account", "/refunds?status=FAILED"} {
		check(sc, "staff", p, http.StatusOK)
	}
	check(sc, "staff", "/audit", http.StatusForbidden)
	check(sc, "staff", "/no-such-page", http.StatusNotFound)
	mc := login("minh")
	for _, p := range []string{"/", "/approvals", "/attention", "/audit", "/audit/events/1", "/refunds", "/account"} {
		check(mc, "manager", p, http.StatusOK)
	}
	for st, id := range ids {
		check(mc, "manager", "/refunds/"+id, http.StatusOK)
		if st == "PENDING" {
			check(sc, "staff", "/refunds/"+id, http.StatusOK)
		}
	}
	// Notification settings: an endpoint (its audit event is read below)
	// and the delivery log.
	if _, _, err := e.srv.notify.AddEndpoint(ctx, notify.Actor{ID: admin.ID, Name: "quan", Role: auth.RoleAdmin},
		"https://hooks.example/desk", []notify.Kind{notify.KindOutcome}); err != nil {
		t.Fatal(err)
	}
	check(mc, "manager", "/notifications/deliveries", http.StatusOK)
	// Every audit event of the timelines, in the event page.
	for seq := 1; seq <= e.count(`SELECT count(*) FROM audit_events`); seq++ {
		check(mc, "manager", fmt.Sprintf("/audit/events/%d", seq), http.StatusOK)
	}
	check(mc, "manager", "/users", http.StatusForbidden)
	ac := login("quan")
	for _, p := range []string{"/", "/users", "/account", "/settings/webhooks", "/notifications/deliveries"} {
		check(ac, "admin", p, http.StatusOK)
	}
}
