package handlers

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// voucher is a fourth product known only to this test: vouchers of
// 10 000 VND, refunded in part to a bank account that may be given. No
// template knows it, so its lookup page and request form rendering, and a
// request made through them, prove that the pages ask the product.
type voucher struct{}

const voucherName = "VOUCHER"

func (voucher) Name() string                  { return voucherName }
func (voucher) Label() string                 { return "Vouchers" }
func (voucher) Configured() bool              { return true }
func (voucher) Whole() bool                   { return false }
func (voucher) AttentionAfter() time.Duration { return time.Hour }

func (voucher) Validate(req product.Request) product.FieldErrors {
	if req.Amount <= 0 {
		return product.FieldErrors{"amount": fault.M("domain.16", "the amount must be greater than 0")}
	}
	return nil
}

func (voucher) Target(_ context.Context, req product.Request) (product.Target, []product.Call, error) {
	if req.TransactionRef != "V-1" {
		return nil, nil, product.Invalidf("transaction_ref", product.ReasonUnknownTarget)
	}
	return voucherTarget{}, nil, nil
}

func (v voucher) Look(ctx context.Context, req product.Request) ([]product.Found, []product.Call, error) {
	t, calls, err := v.Target(ctx, req)
	if err != nil {
		return nil, calls, err
	}
	f := product.Looked(t)
	f.Status = "ISSUED"
	f.After = []product.Line{product.Text("tx.merchant_id", "VOUCHER-SHOP").Kinded(product.KindMono).Tested("voucher-shop")}
	return []product.Found{f}, calls, nil
}

func (voucher) LookupFields() []product.Field { return nil }

func (voucher) Form(product.Target) product.Form {
	return product.Form{Note: "rf.bank_optional", Fields: []product.Field{product.AmountField},
		Group: &product.Group{Legend: "rf.bank_optional", Fields: product.BankFields}}
}

func (voucher) Send(context.Context, product.Desk, product.Refund) (product.Outcome, []product.Call) {
	return product.Outcome{To: product.Processing}, []product.Call{{Op: "refund"}}
}

func (voucher) Reconcile(context.Context, product.Desk, product.Refund) (product.Outcome, bool, []product.Call) {
	return product.Outcome{}, false, nil
}

func (voucher) Poll(context.Context, product.Desk, product.Refund) (product.Outcome, product.Call) {
	return product.Outcome{}, product.Call{Op: "get_refund"}
}

func (voucher) WebhookReply(refused bool) []byte {
	if refused {
		return []byte("VOUCHER-NO")
	}
	return []byte("VOUCHER-OK")
}

// HookPath and ReadHook: the voucher scheme posts "refund id;status;secret".
func (voucher) HookPath() string { return "voucher" }

func (voucher) ReadHook(raw []byte, k product.HookKeys) (product.Event, error) {
	parts := strings.Split(string(raw), ";")
	if len(parts) != 3 {
		return product.Event{}, neox.ErrMalformed
	}
	if k.Secret == "" || parts[2] != k.Secret {
		return product.Event{}, neox.ErrBadSignature
	}
	return product.Event{Ref: parts[0], Status: parts[1], Signed: []string{voucherName, parts[0], parts[1]},
		Observe: func(product.Refund) product.Outcome { return product.Outcome{To: product.Succeeded, Status: parts[1]} }}, nil
}

type voucherTarget struct{}

func (voucherTarget) Currency() string                          { return "VND" }
func (voucherTarget) PaymentMethod() string                     { return "" }
func (voucherTarget) RefundedBase() int64                       { return -1 }
func (voucherTarget) Amounts() (int64, int64)                   { return 10_000, 2_500 }
func (voucherTarget) WholeAmount() (int64, bool)                { return 0, false }
func (voucherTarget) Check(product.Request) product.FieldErrors { return nil }
func (voucherTarget) Verdict(reserved int64) product.Verdict {
	return product.Verdict{Paid: true, Refundable: product.Refundable(10_000, 2_500, reserved)}
}

// withVoucher serves a desk whose registry holds the NeoX products (not
// configured) and the voucher.
func withVoucher(t *testing.T) func(*Deps) {
	return func(d *Deps) {
		reg, err := product.NewRegistry(append(refunds.Products(refunds.Gateways{}), voucher{})...)
		if err != nil {
			t.Fatal(err)
		}
		d.Webhooks.Keys = maps.Clone(d.Webhooks.Keys)
		d.Webhooks.Keys[voucherName] = refunds.HookKeys{Secret: "voucher-hook"}
		d.Refunds = refunds.New(d.DB, d.Audit, refunds.Gateways{}, refunds.Options{Now: d.Now, Logger: d.Logger, Products: reg})
	}
}

// TestFourthProductThroughThePages: the lookup page and the request form
// of a product no template names render from what the product says, a
// request posted through them is created for it, and its webhook endpoint
// is served from the registry.
func TestFourthProductThroughThePages(t *testing.T) {
	e := newEnv(t, withVoucher(t))
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")

	page := e.get(c, "/transactions")
	if page.status != http.StatusOK || !strings.Contains(page.body, `<option value="VOUCHER"`) {
		t.Fatalf("lookup form does not offer the product: %d %.300s", page.status, page.body)
	}
	if strings.Contains(page.body, `name="sub_merchant_id"`) {
		t.Error("the lookup form asks for a sub-merchant no configured product needs")
	}

	res := e.get(c, "/transactions?api=VOUCHER&ref=V-1")
	if res.status != http.StatusOK {
		t.Fatalf("lookup: %d", res.status)
	}
	for _, want := range []string{
		`data-testid="order"`, `data-testid="order-status"`, `ISSUED`,
		`data-testid="order-amount">10.000 ₫`, // the product's own lines…
		`data-testid="refundable">7.500 ₫`,    // …and the desk's figures from its rule
		`data-testid="voucher-shop">VOUCHER-SHOP`,
		`href="/refunds/new?api=VOUCHER&amp;ref=V-1"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("lookup page lacks %q", want)
		}
	}
	if unknown := e.get(c, "/transactions?api=VOUCHER&ref=V-2"); !strings.Contains(unknown.body, `data-testid="lookup-error"`) {
		t.Error("an unknown voucher is not reported as such")
	}

	form := e.get(c, "/refunds/new?api=VOUCHER&ref=V-1")
	if form.status != http.StatusOK {
		t.Fatalf("form: %d %.300s", form.status, form.body)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`data-testid="form-refundable">7.500 ₫`),
		regexp.MustCompile(`<input id="amount" name="amount"[^>]*required`),
		regexp.MustCompile(`<legend>[^<]+</legend>`),
		regexp.MustCompile(`<input id="bank_account_number" name="bank_account_number"[^>]*autocomplete="off"`),
		regexp.MustCompile(`href="/transactions\?api=VOUCHER&amp;ref=V-1"`),
	} {
		if !want.MatchString(form.body) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(form.body, `name="fee_charge_way"`) || strings.Contains(form.body, `name="bank_branch"`) {
		t.Error("the form asks for fields the product does not")
	}

	post := url.Values{"api": {voucherName}, "ref": {"V-1"}, "token": {"8b0c43e6-2f57-4d3c-9bb7-4a0c2a2f1a11"},
		"reason_code": {"customer_request"}}
	over := e.post(c, "/refunds", withFields(post, map[string]string{"amount": "7.501"}))
	if over.status != http.StatusUnprocessableEntity || !strings.Contains(over.body, `id="amount" name="amount" value="7.501"`) {
		t.Errorf("over the refundable amount: %d, typed amount not kept", over.status)
	}
	ok := e.post(c, "/refunds", withFields(post, map[string]string{"amount": "5.000", "fee_charge_way": "BEN"}))
	if ok.status != http.StatusSeeOther {
		t.Fatalf("request: %d %s", ok.status, regexp.MustCompile(`error-summary.*?</ul>`).FindString(ok.body))
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE api = 'VOUCHER' AND transaction_ref = 'V-1' AND amount = 5000 AND fee_charge_way = ''`); n != 1 {
		t.Errorf("%d voucher refunds of 5 000 ₫ without the fee field it never asked for, want 1", n)
	}
	after := e.get(c, "/transactions?api=VOUCHER&ref=V-1")
	if !strings.Contains(after.body, `data-testid="refundable">2.500 ₫`) {
		t.Error("the request is not reserved against the voucher on the lookup page")
	}

	// Its webhook endpoint comes from the registry, and the product
	// verifies and answers.
	if res := e.postRaw("/webhooks/neox/voucher", "R-unknown;DONE;not-the-secret", nil); res.status != http.StatusUnauthorized {
		t.Errorf("forged voucher webhook: %d, want 401", res.status)
	}
	if res := e.postRaw("/webhooks/neox/voucher", "R-unknown;DONE;voucher-hook", nil); res.status != http.StatusOK || res.body != "VOUCHER-OK" {
		t.Errorf("voucher webhook for a refund the desk does not know: %d %q, want it kept and acknowledged", res.status, res.body)
	}
}

// TestFourthProductThroughTheAPI: a JSON request for the fourth product
// with a malformed amount is answered with that amount's error and the
// other fields' as the product and the desk see them; the product is not
// called unknown (the API's checks ask the service's registry, not the
// three NeoX products), and nothing is stored.
func TestFourthProductThroughTheAPI(t *testing.T) {
	e := newEnv(t, withVoucher(t))
	a := &apiEnv{env: e, admin: e.user("root", auth.RoleAdmin), logs: &syncBuffer{}}
	k, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	body := `{"api":"VOUCHER","transaction_ref":"V-1","amount":"12x","reason_code":"OTHER"}`
	p := problemOf(t, a.call("POST", "/api/v1/refunds", token, body, map[string]string{"Idempotency-Key": "v-1"}), http.StatusBadRequest)
	fields := fieldsOf(p)
	if fields["amount"] == "" || fields["reason_text"] == "" {
		t.Errorf("fields %v: want the amount's error and the other rules' (reason_text for OTHER)", fields)
	}
	if fields["api"] != "" {
		t.Errorf("the registered fourth product called invalid: %q", fields["api"])
	}
	if n := len(a.refundsOf(k)); n != 0 {
		t.Errorf("%d refunds stored by a refused request", n)
	}
}

// sweepingVoucher is the voucher scheme listing its refunds (one it holds
// that the desk does not know) for the sweep.
type sweepingVoucher struct {
	voucher
	listed product.Swept
}

func (sweepingVoucher) Sweeps() bool { return true }

func (v sweepingVoucher) Sweep(_ context.Context, _, _ time.Time, found func(product.Swept) error) (int, error) {
	return 1, found(v.listed)
}

func (sweepingVoucher) SweptState(_, status string) string {
	if status == "PAID" {
		return product.Succeeded
	}
	return product.Processing
}

// TestFourthProductSweptOnTheAttentionPage: a fourth product that lists
// its refunds is swept and its sweep is on the managers' page, named
// after it; nothing in the handlers or templates knows it.
func TestFourthProductSweptOnTheAttentionPage(t *testing.T) {
	stranger := "7c4f1b52-0d7e-4b7e-9a51-5f3c1f2f0c11"
	var sv sweepingVoucher
	var rs *refunds.Service // the desk's, not the harness's default
	e := newEnv(t, func(d *Deps) {
		sv.listed = product.Swept{RequestID: stranger, TargetRef: "V-7", Status: "PAID", Amount: 4_200, CreatedAt: d.Now().Add(-time.Hour)}
		reg, err := product.NewRegistry(append(refunds.Products(refunds.Gateways{}), sv)...)
		if err != nil {
			t.Fatal(err)
		}
		rs = refunds.New(d.DB, d.Audit, refunds.Gateways{}, refunds.Options{Now: d.Now, Logger: d.Logger, Products: reg})
		d.Refunds = rs
	})
	e.user("manager1", auth.RoleManager)
	mc := e.login("manager1")
	if sw, err := rs.SweepNow(context.Background()); err != nil || sw.Docs != 1 || sw.Findings != 1 || sw.Error != "" {
		t.Fatalf("sweep = %+v, %v", sw, err)
	}
	p := e.get(mc, "/attention")
	for _, s := range []string{"VOUCHER sweep: NeoX&#39;s refund list against the desk", `data-testid="sweep-last"`,
		`data-kind="unknown_to_desk" data-id="` + stranger + `" data-api="VOUCHER"`, "4.200", "V-7"} {
		if !strings.Contains(p.body, s) {
			t.Errorf("attention page lacks %q", s)
		}
	}
	for _, s := range []string{`data-testid="sweep-off"`, `data-testid="sweep-error"`, "COL sweep", `data-testid="finding-api"`} {
		if strings.Contains(p.body, s) {
			t.Errorf("attention page shows %q", s)
		}
	}
}
