package handlers

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// listEnv has three refunds: 150.000 ₫ and 2.000 ₫ (PG), and USD 1,500.00
// (GC, 150000 minor units, more than 100.000 as a bare number).
func listEnv(t *testing.T) (*env, *http.Client) {
	t.Helper()
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	staff := e.login("staff1")
	for _, amount := range []string{"150.000", "2.000"} {
		if r := e.post(staff, "/refunds", refundForm(uuid.NewString(), amount)); r.status != http.StatusSeeOther {
			t.Fatalf("PG refund: %d", r.status)
		}
	}
	gc := url.Values{"api": {"GC"}, "ref": {"CO-20240501-000123456"}, "fee_charge_way": {"OUR"},
		"reason_code": {"customer_request"}, "token": {uuid.NewString()}}
	if r := e.post(staff, "/refunds", gc); r.status != http.StatusSeeOther {
		t.Fatalf("GC refund: %d %.400s", r.status, r.body)
	}
	return e, e.login("manager1")
}

func TestRefundListComparesOnlyLikeWithLike(t *testing.T) {
	e, mgr := listEnv(t)
	tests := []struct {
		name       string
		query      string
		status     int
		rows       int
		has, lacks []string
	}{
		{"an amount limit needs a currency", "min=100.000", http.StatusUnprocessableEntity, 0,
			[]string{"Choose a currency first"}, nil},
		{"sorting by amount needs a currency", "sort=amount", http.StatusUnprocessableEntity, 0,
			[]string{"Choose a currency to sort by amount"}, nil},
		{"limits apply in the chosen currency", "currency=VND&min=100.000", http.StatusOK, 1,
			[]string{"150.000 ₫"}, []string{"USD 1,500.00"}},
		{"USD limits in USD", "currency=USD&min=1,000.00", http.StatusOK, 1, []string{"USD 1,500.00"}, []string{"150.000 ₫"}},
		{"unknown currency", "currency=dollars", http.StatusUnprocessableEntity, 0, []string{"Choose a currency from the list"}, nil},
		{"totals per currency", "", http.StatusOK, 3, []string{"3 refunds", "152.000 ₫", "USD 1,500.00"}, nil},
		{"search by reference prefix", "q=CO-2024", http.StatusOK, 1, []string{"1 refund", "USD 1,500.00"}, []string{"152.000 ₫"}},
		{"search with LIKE wildcards matches nothing", "q=%25", http.StatusOK, 0, nil, []string{"USD 1,500.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(mgr, "/refunds?"+tt.query)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if n := strings.Count(r.body, `data-testid="refund-row"`); n != tt.rows {
				t.Errorf("%d rows, want %d", n, tt.rows)
			}
			for _, s := range tt.has {
				if !strings.Contains(r.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(r.body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
	// Staff have no requester filter: they only ever see their own.
	if r := e.get(e.login("staff1"), "/refunds"); strings.Contains(r.body, `id="requester"`) {
		t.Errorf("staff see a requester filter")
	}
}

func TestRefundListExportsCSV(t *testing.T) {
	e, mgr := listEnv(t)
	r := e.get(mgr, "/refunds?currency=VND")
	i := strings.Index(r.body, `href="/refunds/export.csv?`)
	if i < 0 {
		t.Fatal("no export link")
	}
	href := r.body[i+len(`href="`):]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	res := e.get(mgr, href)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %q %q", res.status, res.header.Get("Content-Type"), res.header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, rec := range recs[1:] {
		if rec[col["currency"]] != "VND" || !strings.HasSuffix(rec[col["requested_at_utc"]], "Z") {
			t.Errorf("row %v", rec)
		}
	}
	if recs[1][col["amount_minor"]] != "2000" && recs[1][col["amount_minor"]] != "150000" {
		t.Errorf("amount_minor %q", recs[1][col["amount_minor"]])
	}
	if n := e.auditCount("refunds.exported"); n != 1 {
		t.Errorf("%d export events, want 1", n)
	}
	if bad := e.get(mgr, "/refunds/export.csv?min=5"); bad.status != http.StatusUnprocessableEntity {
		t.Errorf("export with a bad filter: %d", bad.status)
	}
}

// Filter errors appear under the field they are about, and a preset period
// with dates is refused rather than silently dropping the dates.
func TestFilterErrorsNameTheirField(t *testing.T) {
	e, mgr := listEnv(t)
	r := e.get(mgr, "/refunds?sort=bogus")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-testid="error-sort"`) ||
		strings.Contains(r.body, `data-testid="error-status"`) {
		t.Errorf("sort=bogus: %d, error not under the sort links", r.status)
	}
	a := e.get(mgr, "/audit?range=today&from=2026-01-01")
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "not both") {
		t.Errorf("today with a from date: %d", a.status)
	}
}
