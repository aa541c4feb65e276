package sandbox

import (
	"slices"
	"time"
)

// SeedID names one piece of demo data.
type SeedID struct {
	API         string // PG | GC | COL
	ID          string // PG transaction id, GC collection order id, COL collection transaction id
	Description string // one line: what it is and how refunds of it end
}

// SeedIDs lists the demo data loaded by Config.Seed, for the README and the
// demo screens. It is empty when Seed is false.
func (s *Sandbox) SeedIDs() []SeedID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.seeds)
}

func ict(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.FixedZone("ICT", 7*3600))
}

// seed loads the demo data. Called from New, before any concurrency.
func (s *Sandbox) seed() {
	pg := []struct {
		t    PGTransaction
		desc string
	}{
		{PGTransaction{ID: "240830080146NDTISR", OrderID: "DH-2024-0830-0146", Payments: []PGPayment{
			{ID: "1439209", Status: "PROCESSING", Method: "CC", Amount: 20_000_000},
			{ID: "1439211", Status: "SUCCESS", Method: "QR", Amount: 20_000_000, RefundedAmount: 100_000},
		}}, "Docs sample: laptop order, CC payment 1439209 still PROCESSING (refund refused, code 9); QR payment 1439211 20.000.000 ₫ with 100.000 ₫ refunded (needs receiver bank details)"},
		{PGTransaction{ID: "240901101500HCMCAF", OrderID: "PL-HCM-000915", Payments: []PGPayment{
			{ID: "1440001", Status: "SUCCESS", Method: "ATM", Amount: 350_000},
		}}, "Phúc Long Coffee Q1: ATM payment 1440001 350.000 ₫, nothing refunded; refunds succeed"},
		{PGTransaction{ID: "240902141210DNGHTL", OrderID: "BK-DN-778120", Payments: []PGPayment{
			{ID: "1440003", Status: "FAILED", Method: "CC", Amount: 4_500_000},
			{ID: "1440002", Status: "SUCCESS", Method: "CC", Amount: 4_500_000, RefundedAmount: 1_000_000},
		}}, "Đà Nẵng beach hotel booking: first CC attempt 1440003 FAILED (not refundable), retry 1440002 4.500.000 ₫ with 1.000.000 ₫ refunded; refunds succeed"},
		{PGTransaction{ID: "240903090000HNIFLR", OrderID: "HN-FLW-20240903", Payments: []PGPayment{
			{ID: "1440004", Status: "SUCCESS", Method: "QR", Amount: 1_200_000, Outcome: OutcomeFail},
		}}, "Hà Nội flower shop: QR payment 1440004 1.200.000 ₫; refunds are accepted then FAIL at the bank (IPN code 1)"},
		{PGTransaction{ID: "240904161530SGNFAL", OrderID: "SGN-ELEC-5530", Payments: []PGPayment{
			{ID: "1440005", Status: "FAILED", Method: "ATM", Amount: 780_000},
		}}, "Sài Gòn electronics: only payment 1440005 FAILED; nothing to refund (refused)"},
		{PGTransaction{ID: "240905083000VTLFUL", OrderID: "VT-SPA-0905", Payments: []PGPayment{
			{ID: "1440006", Status: "SUCCESS", Method: "QR", Amount: 500_000, RefundedAmount: 500_000},
		}}, "Vũng Tàu spa: QR payment 1440006 500.000 ₫ already fully refunded (any amount refused, code 33)"},
	}
	for _, x := range pg {
		x.t.Description = x.desc
		s.AddPGTransaction(x.t)
		s.st.seeds = append(s.st.seeds, SeedID{API: "PG", ID: x.t.ID, Description: x.desc})
	}
	gc := []CollectionOrder{
		{ID: "CO-20240501-000123456", RequestID: "a3f1c2d4-1234-4e56-b789-0abc12345678", Status: "SUCCESS", OrderType: "TRADE_COLLECTION",
			Currency: "USD", Amount: 150_000, PayCurrency: "USD", PayAmount: 149_500, RecBankCode: "SCBLSG22XXX", CreatedAt: ict(2024, 5, 1, 9, 12),
			Description: "Docs sample: USD 1,500.00 from a US importer (1,495.00 settled after bank charges), SUCCESS; refund succeeds"},
		{ID: "CO-20240502-000200001", RequestID: "b7e0d1c2-0001-4f00-9000-000000200001", Status: "SUCCESS", OrderType: "TRADE_COLLECTION",
			Currency: "EUR", Amount: 8_990, PayCurrency: "VND", PayAmount: 2_431_000, RecBankCode: "ASCBVNVX", CreatedAt: ict(2024, 5, 2, 14, 3),
			Description: "EUR 89.90 ao dài order from Berlin, settled as 2.431.000 VND, SUCCESS; refund succeeds"},
		{ID: "CO-20240503-000200002", RequestID: "b7e0d1c2-0002-4f00-9000-000000200002", Status: "SUCCESS", OrderType: "TRADE_COLLECTION",
			Currency: "SGD", Amount: 25_000, PayAmount: 25_000, RecBankCode: "DBSSSGSGXXX", CreatedAt: ict(2024, 5, 3, 10, 45),
			Description: "SGD 250.00 tour deposit, SUCCESS; refund accepted then FAILS (order back to SUCCESS)", Outcome: OutcomeFail},
		{ID: "CO-20240504-000200003", RequestID: "b7e0d1c2-0003-4f00-9000-000000200003", Status: "SUCCESS", OrderType: "PLATFORM_COLLECTION",
			Currency: "JPY", Amount: 120_000, PayAmount: 120_000, RecBankCode: "MHCBJPJTXXX", CreatedAt: ict(2024, 5, 4, 16, 20),
			Description: "JPY 120,000 coffee beans wholesale, SUCCESS; refund succeeds"},
		{ID: "CO-20240505-000200004", RequestID: "b7e0d1c2-0004-4f00-9000-000000200004", Status: "PENDING", OrderType: "TRADE_COLLECTION",
			Currency: "GBP", Amount: 4_250, RecBankCode: "BARCGB22XXX", CreatedAt: ict(2024, 5, 5, 8, 0),
			Description: "GBP 42.50 PENDING, not settled; the desk does not offer a refund (NeoX refuses: ORDER_NOT_REFUNDABLE)"},
		{ID: "CO-20240506-000200005", RequestID: "b7e0d1c2-0005-4f00-9000-000000200005", Status: "REFUND_SUCCESS", OrderType: "TRADE_COLLECTION",
			Currency: "USD", Amount: 30_000, PayAmount: 30_000, RecBankCode: "CHASUS33XXX", CreatedAt: ict(2024, 5, 6, 11, 30),
			Description: "USD 300.00 already refunded (REFUND_SUCCESS); the desk does not offer a refund (NeoX refuses: ORDER_NOT_REFUNDABLE)"},
		{ID: "CO-20240507-000200006", RequestID: "b7e0d1c2-0006-4f00-9000-000000200006", Status: "SUCCESS", OrderType: "TRADE_COLLECTION",
			Currency: "AUD", Amount: 7_500, PayAmount: 7_500, RecBankCode: "ANZBAU3MXXX", CreatedAt: ict(2024, 5, 7, 13, 15),
			Description: "AUD 75.00 SUCCESS, merchant balance too low; refund refused (INSUFFICIENT_BALANCE)", Outcome: OutcomeInsufficientBalance},
		{ID: "CO-20240508-000200007", RequestID: "b7e0d1c2-0007-4f00-9000-000000200007", SubMerchantID: "SUB-MERCH-00091",
			Status: "SUCCESS", OrderType: "PLATFORM_COLLECTION", Currency: "USD", Amount: 64_000, PayAmount: 64_000, RecBankCode: "SCBLSG22XXX",
			CreatedAt:   ict(2024, 5, 8, 10, 0),
			Description: "USD 640.00 of sub-merchant SUB-MERCH-00091, SUCCESS: NeoX finds it only with that sub-merchant id; refund succeeds"},
		{ID: "CO-20240509-000200008", RequestID: "b7e0d1c2-0008-4f00-9000-000000200008", Status: "MATCHED", OrderType: "TRADE_COLLECTION",
			Currency: "USD", Amount: 12_000, RecBankCode: "SCBLSG22XXX", CreatedAt: ict(2024, 5, 9, 15, 30),
			Description: "USD 120.00 MATCHED, not settled yet; the desk does not offer a refund"},
	}
	for _, o := range gc {
		s.AddCollectionOrder(o)
		s.st.seeds = append(s.st.seeds, SeedID{API: "GC", ID: o.ID, Description: o.Description})
	}
	col := []CollectionTransaction{
		{ID: "FT24323L4AAA", Status: "SUCCESS", Amount: 150_000, Fee: 1_100, CreatedAt: ict(2024, 11, 18, 9, 30),
			Description:   "Docs sample: 150.000 ₫ bank transfer, refund approved then SUCCESS",
			BankSwiftCode: "SCBLSG22XXX", BankAccountNumber: "0107201111", BankAccountName: "STANDARD CHARTERED BANK TEST ACCOUNT"},
		{ID: "FT24324HCM001", Status: "SUCCESS", Amount: 2_500_000, Fee: 5_500, RefundedAmount: 500_000, CreatedAt: ict(2024, 11, 19, 10, 5),
			Description:   "2.500.000 ₫ tuition payment, 500.000 ₫ refunded; refund approved then SUCCESS",
			BankSwiftCode: "BFTVVNVX", BankAccountNumber: "0071000123456", BankAccountName: "TRAN THI BINH"},
		{ID: "FT24325HNI002", Status: "SUCCESS", Amount: 1_000_000, CreatedAt: ict(2024, 11, 20, 15, 40),
			Description: "1.000.000 ₫ membership fee; refund REJECTED by NeoX approval", Outcome: OutcomeReject,
			BankSwiftCode: "VBAAVNVX", BankAccountNumber: "1500205123456", BankAccountName: "LE VAN CUONG"},
		{ID: "FT24326DNG003", Status: "SUCCESS", Amount: 3_200_000, CreatedAt: ict(2024, 11, 21, 8, 15),
			Description: "3.200.000 ₫ furniture order; refund approved then FAILED (beneficiary account closed)", Outcome: OutcomeFail,
			BankSwiftCode: "ICBVVNVX", BankAccountNumber: "101010012345", BankAccountName: "PHAM THI DUNG"},
		{ID: "FT24327SGN004", Status: "SUCCESS", Amount: 800_000, RefundedAmount: 800_000, CreatedAt: ict(2024, 11, 22, 19, 0),
			Description:   "800.000 ₫ concert tickets, fully refunded; refund refused (AMOUNT_EXCEEDS_REFUNDABLE)",
			BankSwiftCode: "VTCBVNVX", BankAccountNumber: "19033456789012", BankAccountName: "HOANG MINH DUC"},
		{ID: "FT24328CTO005", Status: "PROCESSING", Amount: 450_000, ReconcileStatus: "WAITING_UPLOAD", PayoutStatus: "READY", CreatedAt: ict(2024, 11, 23, 7, 45),
			Description:   "450.000 ₫ transfer still PROCESSING; refund refused (TRANSACTION_NOT_REFUNDABLE)",
			BankSwiftCode: "MCOBVNVX", BankAccountNumber: "0801234567", BankAccountName: "NGUYEN THI EM"},
		{ID: "FT24329HPG006", Status: "SUCCESS", Amount: 5_000_000, CreatedAt: ict(2024, 11, 24, 11, 20),
			Description: "5.000.000 ₫ wholesale order, merchant balance too low; refund refused (INSUFFICIENT_BALANCE)", Outcome: OutcomeInsufficientBalance,
			BankSwiftCode: "ASCBVNVX", BankAccountNumber: "0011004455667", BankAccountName: "DO VAN GIANG"},
		{ID: "FT24330QNH007", Status: "COMPLETED", Refundable: true, Amount: 600_000, Fee: 1_100, ReconcileStatus: "SETTLED",
			CreatedAt:     ict(2024, 11, 25, 14, 10),
			Description:   "600.000 ₫ with a status NeoX has not documented (COMPLETED): shown as sent, refund allowed; NeoX accepts and it succeeds",
			BankSwiftCode: "BIDVVNVX", BankAccountNumber: "31410001234567", BankAccountName: "VU THI HOA"},
	}
	for _, t := range col {
		s.AddCollectionTransaction(t)
		s.st.seeds = append(s.st.seeds, SeedID{API: "COL", ID: t.ID, Description: t.Description})
	}
}
