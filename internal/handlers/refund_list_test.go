package handlers

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// Dates are typed as the pages write them (dd/mm/yyyy) or come as ISO
// dates from links; the sort link says the current order; rows lead to
// their refund.
func TestRefundListReadsAsStaffExpect(t *testing.T) {
	e, mgr := listEnv(t)
	for q, want := range map[string]int{
		"from=25/11/2026&to=25/11/2026": http.StatusOK,
		"from=2026-11-25":               http.StatusOK,
		"from=31/02/2026":               http.StatusUnprocessableEntity,
		"from=11/25/2026":               http.StatusUnprocessableEntity,
	} {
		if r := e.get(mgr, "/refunds?"+q); r.status != want {
			t.Errorf("%s: %d, want %d", q, r.status, want)
		}
	}
	if r := e.get(mgr, "/refunds?from=25/11/2026&to=25/11/2026"); strings.Count(r.body, `data-testid="refund-row"`) != 3 {
		t.Errorf("the day the refunds were made does not list them")
	}
	r := e.get(mgr, "/refunds?currency=VND&sort=amount&dir=asc")
	if !strings.Contains(r.body, `aria-current="true">amount ↑ (ascending)`) {
		t.Errorf("the amount sort link does not say the current order")
	}
	if !strings.Contains(r.body, `data-href="/refunds/`) {
		t.Errorf("rows do not lead to their refund")
	}
}

// Previous goes back page by page through keyset pages, to the same rows.
func TestRefundListGoesBack(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	staff := e.login("staff1")
	for range 2*refundPageSize + 3 {
		if r := e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")); r.status != http.StatusSeeOther {
			t.Fatalf("refund: %d", r.status)
		}
		e.clock.Advance(time.Second)
	}
	link := func(body, testid string) string {
		i := strings.Index(body, `data-testid="`+testid+`"`)
		if i < 0 {
			return ""
		}
		j := strings.LastIndex(body[:i], `href="`)
		href := body[j+len(`href="`):]
		return html.UnescapeString(href[:strings.IndexByte(href, '"')])
	}
	ids := func(body string) string {
		var out []string
		for _, part := range strings.Split(body, `data-testid="refund-row" data-id="`)[1:] {
			out = append(out, part[:36])
		}
		return strings.Join(out, ",")
	}
	p1 := e.get(staff, "/refunds")
	if link(p1.body, "page-prev") != "" {
		t.Errorf("the first page offers a previous page")
	}
	p2 := e.get(staff, link(p1.body, "page-next"))
	p3 := e.get(staff, link(p2.body, "page-next"))
	if n := strings.Count(p3.body, `data-testid="refund-row"`); n != 3 {
		t.Fatalf("last page has %d rows", n)
	}
	back2 := e.get(staff, link(p3.body, "page-prev"))
	if ids(back2.body) != ids(p2.body) || ids(p2.body) == "" {
		t.Errorf("previous from page 3 is not page 2")
	}
	back1 := e.get(staff, link(back2.body, "page-prev"))
	if ids(back1.body) != ids(p1.body) || link(back1.body, "page-prev") != "" {
		t.Errorf("previous from page 2 is not the first page")
	}
	// A tampered trail costs only the way back.
	u, _ := url.Parse(link(p2.body, "page-next"))
	q := u.Query()
	q.Set("trail", "<script>")
	tampered := e.get(staff, "/refunds?"+q.Encode())
	if tampered.status != http.StatusOK || link(tampered.body, "page-prev") != "" || link(tampered.body, "page-first") == "" {
		t.Errorf("tampered trail: %d", tampered.status)
	}
}

// Pages name people as the header does, by display name, wherever a
// refund shows who asked and who decided.
func TestPagesNamePeopleByDisplayName(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.auth.CreateUser(ctx, "lan", "Nguyễn Lan", auth.RoleStaff, testPassword, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.CreateUser(ctx, "minh", "Trần Minh", auth.RoleManager, testPassword, false); err != nil {
		t.Fatal(err)
	}
	staff, mgr := e.login("lan"), e.login("minh")
	id := strings.TrimPrefix(e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")).header.Get("Location"), "/refunds/")
	for _, path := range []string{"/refunds", "/approvals"} {
		if r := e.get(mgr, path); !strings.Contains(r.body, "Nguyễn Lan") {
			t.Errorf("%s does not name the requester by display name", path)
		}
	}
	if r := e.post(mgr, "/refunds/"+id+"/approve", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", r.status)
	}
	page := e.get(staff, "/refunds/"+id)
	for _, want := range []string{"Nguyễn Lan", "Trần Minh"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("refund page lacks %q", want)
		}
	}
}
