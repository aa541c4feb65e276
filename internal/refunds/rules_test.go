package refunds

import (
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"1250000", 1250000, ""},
		{"1.250.000", 1250000, ""},
		{"1,250,000", 1250000, ""},
		{"1 250 000", 1250000, ""},
		{"1\u00a0250\u00a0000", 1250000, ""},
		{"  1.250.000 ₫ ", 1250000, ""},
		{"1.250.000đ", 1250000, ""},
		{"50000 VND", 50000, ""},
		{"1.500", 1500, ""},
		{"999", 999, ""},
		{"0", 0, ""},
		{"1000000000000000", MaxAmount, ""},
		{"1.000.000.000.000.000", MaxAmount, ""},
		{"", 0, "enter an amount"},
		{"   ", 0, "enter an amount"},
		{"₫", 0, "enter an amount"},
		{"-5000", 0, "negative"},
		{"−5000", 0, "negative"},
		{"+5000", 0, "sign"},
		{"1.5", 0, "no decimals"},
		{"1,5", 0, "no decimals"},
		{"12.50", 0, "no decimals"},
		{"1.250,00", 0, "one kind"},
		{"1.250,000", 0, "one kind"},
		{"1.25.000", 0, "groups of three"},
		{"1250.000.000", 0, "groups of three"},
		{"1..250", 0, "misplaced"},
		{".250", 0, "misplaced"},
		{"1.250.", 0, "misplaced"},
		{"0.500", 0, "start with 0"},
		{"abc", 0, "only digits"},
		{"12a", 0, "only digits"},
		{"1e6", 0, "only digits"},
		{"0x10", 0, "only digits"},
		{"١٢٣", 0, "only digits"}, // Arabic-Indic digits
		{"１２３", 0, "only digits"}, // fullwidth digits
		{"1000000000000001", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
		{"9223372036854775808", 0, "too large"},
		{"1\x00", 0, "only digits"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseAmount(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1.250.000", "1,5", "-1", "1 000", "₫", "99999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseAmount(s)
		if err != nil {
			return
		}
		if n < 0 || n > MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d out of range", s, n)
		}
		// What we format, we read back.
		back, err := ParseAmount(FormatVND(n))
		if err != nil || back != n {
			t.Fatalf("round trip %d → %q → %d, %v", n, FormatVND(n), back, err)
		}
	})
}

func TestFormatVND(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0 ₫", 5: "5 ₫", 999: "999 ₫", 1000: "1.000 ₫", 1250000: "1.250.000 ₫",
		-1250000: "-1.250.000 ₫", MaxAmount: "1.000.000.000.000.000 ₫",
		-9223372036854775808: "-9.223.372.036.854.775.808 ₫",
	} {
		if got := FormatVND(in); got != want {
			t.Errorf("FormatVND(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestRefundable(t *testing.T) {
	tests := []struct {
		paid, refunded, reserved, want int64
	}{
		{1_000_000, 0, 0, 1_000_000},
		{1_000_000, 100_000, 0, 900_000},
		{1_000_000, 100_000, 400_000, 500_000},
		{1_000_000, 600_000, 400_000, 0},
		{1_000_000, 900_000, 400_000, 0}, // never negative
	}
	for _, tt := range tests {
		if got := Refundable(tt.paid, tt.refunded, tt.reserved); got != tt.want {
			t.Errorf("Refundable(%d, %d, %d) = %d, want %d", tt.paid, tt.refunded, tt.reserved, got, tt.want)
		}
	}
}

func TestTargetRules(t *testing.T) {
	pay := neox.Payment{ID: "P1", Amount: 1_000_000, RefundedAmount: 200_000, Status: "SUCCESS", Method: "CC"}
	pgT := target{api: APIPG, t: pg.Target{Payment: pay}}
	if v := pgT.checkRefundable(800_000, 0); v != nil {
		t.Errorf("exactly refundable refused: %v", v)
	}
	if v := pgT.checkRefundable(800_001, 0); v == nil || v.Fields["amount"].IsZero() {
		t.Errorf("over refundable accepted: %v", v)
	}
	if v := pgT.checkRefundable(500_000, 300_001); v == nil {
		t.Error("reserved amounts not counted")
	}
	qrPay := pay
	qrPay.Method = "QR"
	qr := target{api: APIPG, t: pg.Target{Payment: qrPay}}
	if v := qr.check(NewRequest{API: APIPG, Amount: 1}); v == nil || len(v.Fields) != 3 {
		t.Errorf("QR without receiver: %v", v)
	}
	if v := qr.check(NewRequest{API: APIPG, Amount: 1, BankSwift: "ASCBVNVX", BankAccountNumber: "123", BankAccountName: "A"}); v != nil {
		t.Errorf("QR with receiver refused: %v", v)
	}
	unpaidPay := pay
	unpaidPay.Status = "PROCESSING"
	unpaid := target{api: APIPG, t: pg.Target{Payment: unpaidPay}}
	if v := unpaid.check(NewRequest{API: APIPG, Amount: 1}); v == nil || v.Fields["transaction_ref"].IsZero() {
		t.Errorf("unpaid accepted: %v", v)
	}
	order := neox.CollectionOrder{ID: "CO1", Amount: 150000, Currency: "USD", PayAmount: 149000, PayCurrency: "USD", Status: "SUCCESS"}
	gcT := target{api: APIGC, t: gc.Target{Order: order}}
	if v := gcT.check(NewRequest{API: APIGC, Amount: 100}); v == nil || !strings.Contains(v.Fields["amount"].String(), "1500.00 USD") {
		t.Errorf("GC partial amount: %v", v)
	}
	if v := gcT.check(NewRequest{API: APIGC, Amount: 149000}); v == nil {
		t.Error("GC refund of payAmount accepted: the refund is the order amount")
	}
	if v := gcT.checkRefundable(150000, 150000); v == nil {
		t.Error("second GC refund of an order accepted")
	}
	if gcT.currency() != "USD" || pgT.currency() != "VND" {
		t.Errorf("currencies %s %s", gcT.currency(), pgT.currency())
	}
	for _, st := range []string{"REFUND_PROCESS", "REFUND_SUCCESS", "PENDING", "PAID"} {
		order.Status = st
		gcT.t = gc.Target{Order: order}
		if v := gcT.check(NewRequest{API: APIGC}); v == nil {
			t.Errorf("GC order %s accepted", st)
		}
	}
	txn := neox.CollectionTransaction{ID: "CT1", Amount: 1_000_000, RefundedAmount: 100_000, Status: "COMPLETED"}
	colT := target{api: APICOL, t: col.Target{Txn: txn}}
	if v := colT.check(NewRequest{API: APICOL, Amount: 1}); v != nil {
		t.Errorf("COL with an unrecognised status refused: %v", v)
	}
	if v := colT.checkRefundable(900_001, 0); v == nil || v.Fields["amount"].IsZero() {
		t.Errorf("COL unrecognised status: the amount rule must still hold: %v", v)
	}
	txn.Status = "FAILED"
	colT.t = col.Target{Txn: txn}
	if v := colT.checkRefundable(1, 0); v == nil || !strings.Contains(v.Fields["transaction_ref"].String(), "FAILED") {
		t.Errorf("COL FAILED accepted at approval: %v", v)
	}
}

func TestCheckRequest(t *testing.T) {
	ok := NewRequest{API: APICOL, TransactionRef: "CT1", Amount: 10, ReasonCode: "DUPLICATE"}
	if v := checkRequest(neoxProduct(ok.API), ok); v != nil {
		t.Fatalf("valid request refused: %v", v)
	}
	tests := []struct {
		name  string
		edit  func(*NewRequest)
		field string
	}{
		{"api", func(r *NewRequest) { r.API = "XX" }, "api"},
		{"ref", func(r *NewRequest) { r.TransactionRef = " " }, "transaction_ref"},
		{"zero", func(r *NewRequest) { r.Amount = 0 }, "amount"},
		{"negative", func(r *NewRequest) { r.Amount = -1 }, "amount"},
		{"reason", func(r *NewRequest) { r.ReasonCode = "" }, "reason_code"},
		{"other needs text", func(r *NewRequest) { r.ReasonCode = "OTHER" }, "reason_text"},
		{"pg payment", func(r *NewRequest) { r.API = APIPG }, "payment_id"},
		{"gc fee", func(r *NewRequest) { r.API = APIGC }, "fee_charge_way"},
		{"gc negative", func(r *NewRequest) { r.API, r.FeeChargeWay, r.Amount = APIGC, "OUR", -5 }, "amount"},
		{"account digits", func(r *NewRequest) { r.BankAccountNumber = "12ab" }, "bank_account_number"},
		{"long", func(r *NewRequest) { r.SubMerchantID = strings.Repeat("x", 200) }, "sub_merchant_id"},
		{"NUL in reason", func(r *NewRequest) { r.ReasonText = "refund\x00please" }, "reason_text"},
		{"invalid UTF-8 in reason", func(r *NewRequest) { r.ReasonText = "ho\xffan tien" }, "reason_text"},
		{"escape in account name", func(r *NewRequest) { r.BankAccountName = "NGUYEN\x1b[31m" }, "bank_account_name"},
		{"NUL in branch", func(r *NewRequest) { r.BankBranch = "HCM\x00" }, "bank_branch"},
		{"invalid UTF-8 in reference", func(r *NewRequest) { r.TransactionRef = "CT\xc3" }, "transaction_ref"},
	}
	for _, tt := range tests {
		r := ok
		tt.edit(&r)
		v := checkRequest(neoxProduct(r.API), r)
		if v == nil || v.Fields[tt.field].IsZero() {
			t.Errorf("%s: got %v, want an error on %s", tt.name, v, tt.field)
		}
	}
	multiline := ok
	multiline.ReasonText = "Khách trả hàng.\r\nĐơn hàng\t#42 đổi ý."
	if v := checkRequest(neoxProduct(multiline.API), multiline); v != nil {
		t.Errorf("a reason with line breaks and Vietnamese refused: %v", v)
	}
	gc := NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "BEN"}
	if v := checkRequest(neoxProduct(gc.API), gc); v != nil {
		t.Errorf("GC without amount refused: %v", v)
	}
}

func TestMasking(t *testing.T) {
	r := Refund{BankAccountNumber: "0107201111"}
	if got := r.MaskedAccount(); got != "••••••1111" {
		t.Errorf("MaskedAccount = %q", got)
	}
	if got := maskAccount("123"); got != "•••" {
		t.Errorf("short = %q", got)
	}
	raw := `{"requestId":"R1","bankAccountNumber":"0107201111","BankAccountName":"X","neo_Receiver":"eyJhY2Nv","amount":"150000"}`
	got := maskBody([]byte(raw))
	if strings.Contains(got, "0107201111") || strings.Contains(got, "eyJhY2Nv") {
		t.Errorf("account left in body: %s", got)
	}
	if !strings.Contains(got, `"bankAccountNumber":"••••••1111"`) || !strings.Contains(got, `"amount":"150000"`) {
		t.Errorf("body altered beyond masking: %s", got)
	}
}

func TestForward(t *testing.T) {
	all := []string{SubNotSent, SubQueued, SubSending, SubProcessing, SubSucceeded, SubFailed, SubUnknown}
	allowed := map[[2]string]bool{}
	for _, from := range []string{SubQueued, SubSending, SubUnknown} {
		for _, to := range []string{SubProcessing, SubSucceeded, SubFailed} {
			allowed[[2]string{from, to}] = true
		}
	}
	allowed[[2]string{SubProcessing, SubSucceeded}] = true
	allowed[[2]string{SubProcessing, SubFailed}] = true
	for _, from := range all {
		for _, to := range all {
			if got := forward(from, to); got != allowed[[2]string{from, to}] {
				t.Errorf("forward(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestBankDetails(t *testing.T) {
	ok := NewRequest{API: APICOL, TransactionRef: "CT1", Amount: 10, ReasonCode: "DUPLICATE",
		BankSwift: "BFTVVNVX", BankAccountNumber: "0071001234567", BankAccountName: "Nguyễn Văn A"}
	if v := checkRequest(neoxProduct(ok.API), ok); v != nil {
		t.Fatalf("valid receiver refused: %v", v)
	}
	for _, tt := range []struct {
		name, field, value string
		valid              bool
	}{
		{"11-character BIC", "bank_swift", "SCBLSG22XXX", true},
		{"lower-case BIC", "bank_swift", "bftvvnvx", true},
		{"two letters", "bank_swift", "XX", false},
		{"digits in the bank code", "bank_swift", "B1TVVNVX", false},
		{"9 characters", "bank_swift", "BFTVVNVX1", false},
		{"account with spaces", "bank_account_number", "0071 0012 34567", true},
		{"three digits", "bank_account_number", "123", false},
		{"21 digits", "bank_account_number", strings.Repeat("1", 21), false},
		{"letters", "bank_account_number", "12ab5678", false},
		{"one letter name", "bank_account_name", "A", false},
		{"digits as name", "bank_account_name", "12345", false},
		{"name with a dot and a hyphen", "bank_account_name", "CONG TY TNHH A-B.", true},
		{"71 characters", "bank_account_name", strings.Repeat("a", 71), false},
	} {
		r := ok
		switch tt.field {
		case "bank_swift":
			r.BankSwift = tt.value
		case "bank_account_number":
			r.BankAccountNumber = tt.value
		case "bank_account_name":
			r.BankAccountName = tt.value
		}
		v := checkRequest(neoxProduct(r.API), r)
		if got := v == nil || v.Fields[tt.field].IsZero(); got != tt.valid {
			t.Errorf("%s (%q): valid = %v, want %v (%v)", tt.name, tt.value, got, tt.valid, v)
		}
	}
}
