package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// testID returns the text inside the first element carrying
// data-testid=id (tags stripped, spaces collapsed), and whether there is one.
func testID(body, id string) (string, bool) {
	re := regexp.MustCompile(`(?s)<([a-z0-9]+)[^>]*data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</([a-z0-9]+)>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[2], " ")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " "), true
}

func lookupPath(api, ref, sub string) string {
	v := url.Values{"api": {api}, "ref": {ref}}
	if sub != "" {
		v.Set("sub_merchant_id", sub)
	}
	return "/transactions?" + v.Encode()
}

// The lookup page shows what the documented answers carry: GC's settled
// amount beside the order amount, the order type, and why an order cannot
// be refunded; COL's fee, reconciliation and payout, and a status the desk
// does not know, verbatim with what it means.
func TestLookupShowsDocumentedFields(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")

	r := e.get(c, lookupPath("GC", "CO-20240502-000200001", ""))
	if r.status != http.StatusOK {
		t.Fatalf("GC lookup: %d", r.status)
	}
	for id, want := range map[string]string{"order-amount": "EUR 89.90", "order-pay-amount": "2.431.000", "order-type": "TRADE_COLLECTION"} {
		if got, _ := testID(r.body, id); !strings.Contains(got, want) {
			t.Errorf("GC %s = %q, want %q", id, got, want)
		}
	}
	if _, ok := testID(r.body, "refund-order"); !ok {
		t.Error("SUCCESS order offers no refund")
	}

	r = e.get(c, lookupPath("GC", "CO-20240509-000200008", ""))
	if got, _ := testID(r.body, "not-refundable"); !strings.Contains(got, "MATCHED") || !strings.Contains(got, "not settled") {
		t.Errorf("MATCHED order: not-refundable = %q", got)
	}
	if _, ok := testID(r.body, "refund-order"); ok {
		t.Error("MATCHED order offers a refund")
	}

	r = e.get(c, lookupPath("COL", "FT24330QNH007", ""))
	got, ok := testID(r.body, "status-unrecognised")
	if !ok || !strings.Contains(got, `"COMPLETED"`) || !strings.Contains(got, "has not documented") {
		t.Errorf("unrecognised COL status: %q", got)
	}
	if st, _ := testID(r.body, "order-status"); st != "COMPLETED" {
		t.Errorf("COL status shown as %q, want it verbatim", st)
	}
	if _, ok := testID(r.body, "refund-order"); !ok {
		t.Error("an unrecognised COL status must not be silently refused")
	}
	for id, want := range map[string]string{"col-fee": "1.100", "reconcile-status": "SETTLED", "payout-status": "SUCCESS", "refundable": "600.000"} {
		if got, _ := testID(r.body, id); !strings.Contains(got, want) {
			t.Errorf("COL %s = %q, want %q", id, got, want)
		}
	}

	form := e.get(c, "/refunds/new?api=COL&ref=FT24330QNH007")
	if got, _ := testID(form.body, "form-notice"); form.status != http.StatusOK || !strings.Contains(got, `"COMPLETED"`) {
		t.Errorf("refund form: %d, notice %q", form.status, got)
	}

	// In Vietnamese, the explanation is translated and the status kept.
	r = e.do(c, http.MethodGet, lookupPath("COL", "FT24330QNH007", ""), nil, map[string]string{"Accept-Language": "vi"})
	if got, _ := testID(r.body, "status-unrecognised"); !strings.Contains(got, `"COMPLETED"`) || !strings.Contains(got, "chưa công bố") {
		t.Errorf("vi: %q", got)
	}
}

// A sub-merchant's GC order is found with its id, and the id travels to
// the refund form and onto the refund.
func TestLookupGCSubMerchant(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	const order, sub = "CO-20240508-000200007", "SUB-MERCH-00091"

	r := e.get(c, lookupPath("GC", order, ""))
	if _, ok := testID(r.body, "lookup-error"); !ok {
		t.Fatal("sub-merchant order found without its sub-merchant id")
	}
	if r := e.get(c, lookupPath("GC", order, "bad id!")); r.status != http.StatusUnprocessableEntity {
		t.Errorf("invalid sub-merchant id: %d", r.status)
	}
	r = e.get(c, lookupPath("GC", order, sub))
	if got, _ := testID(r.body, "order-sub-merchant"); got != sub {
		t.Fatalf("sub-merchant shown = %q", got)
	}
	link := regexp.MustCompile(`data-testid="refund-order" href="([^"]+)"`).FindStringSubmatch(r.body)
	if link == nil || !strings.Contains(link[1], "sub_merchant_id="+sub) {
		t.Fatalf("refund link = %v", link)
	}
	form := e.get(c, strings.ReplaceAll(link[1], "&amp;", "&"))
	if form.status != http.StatusOK || !strings.Contains(form.body, `name="sub_merchant_id" value="`+sub+`"`) {
		t.Fatalf("refund form: %d %.500s", form.status, form.body)
	}
	res := e.post(c, "/refunds", url.Values{"api": {"GC"}, "ref": {order}, "fee_charge_way": {"OUR"}, "sub_merchant_id": {sub},
		"reason_code": {"duplicate"}, "reason_text": {"paid twice"}, "token": {uuid.NewString()}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("create: %d %.500s", res.status, res.body)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE sub_merchant_id = '` + sub + `' AND amount = 64000 AND currency = 'USD'`); n != 1 {
		t.Fatalf("%d refunds with the sub-merchant, want 1", n)
	}
}

// NeoX PG refusing the desk's signature (code 98) puts a notice on every
// staff and manager page at once; the next good PG answer removes it.
func TestSigningNotice(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("admin1", auth.RoleAdmin)
	staff, manager, admin := e.login("staff1"), e.login("manager1"), e.login("admin1")
	if _, ok := testID(e.get(staff, "/").body, "neox-signing"); ok {
		t.Fatal("notice before any 98")
	}
	e.sandbox.InjectFault(sandbox.OpPGQuery, sandbox.FaultBadSignature, 1)
	r := e.get(staff, lookupPath("PG", "240901101500HCMCAF", ""))
	if got, _ := testID(r.body, "lookup-error"); !strings.Contains(got, "98") {
		t.Errorf("lookup answered 98: error = %q", got)
	}
	for name, c := range map[string]*http.Client{"staff": staff, "manager": manager} {
		got, ok := testID(e.get(c, "/refunds").body, "neox-signing")
		if !ok || !strings.Contains(got, "secret key") || !strings.Contains(got, "Invalid signature") {
			t.Errorf("%s: notice = %q", name, got)
		}
	}
	if _, ok := testID(e.get(admin, "/users").body, "neox-signing"); ok {
		t.Error("admins do not work on refunds: no notice")
	}
	r = e.get(staff, lookupPath("PG", "240901101500HCMCAF", ""))
	if _, ok := testID(r.body, "lookup-error"); ok {
		t.Fatalf("second lookup failed: %.300s", r.body)
	}
	if _, ok := testID(e.get(manager, "/").body, "neox-signing"); ok {
		t.Error("notice still shown after a good PG answer")
	}
}
