package refunds

import (
	"context"
	"testing"
)

// TestAccountNumberKeptOnlyWhileNeeded: the receiver's full account number
// stays while NeoX may need it; a final refund (succeeded, rejected,
// cancelled) keeps only the last four characters, and the keyed hash still
// says which refunds went to the same account.
func TestAccountNumberKeptOnlyWhileNeeded(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(10_000_000, 0)}}, Options{})
	ctx := context.Background()
	stored := func(id string) (number, hash string) {
		t.Helper()
		if err := db.Read.QueryRow(`SELECT bank_account_number, bank_account_hash FROM refunds WHERE id = ?`, id).
			Scan(&number, &hash); err != nil {
			t.Fatal(err)
		}
		return number, hash
	}
	inFlight := approved(t, s, colRequest(100_000, ""))
	processing(t, db, inFlight.ID, "")
	succeeded := approved(t, s, colRequest(110_000, ""))
	processing(t, db, succeeded.ID, "")
	if res, err := s.ApplyCOL(ctx, colEvent(succeeded, "APPROVED", "SUCCESS"), nil); err != nil || res.Applied != HookApplied {
		t.Fatalf("%+v %v", res, err)
	}
	rejected := mustCreate(t, s, staff, colRequest(120_000, ""))
	if _, err := s.Reject(ctx, manager, rejected.ID, "duplicate request"); err != nil {
		t.Fatal(err)
	}
	cancelled := mustCreate(t, s, staff, colRequest(130_000, ""))
	if _, err := s.Cancel(ctx, staff, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	other := colRequest(140_000, "")
	other.BankAccountNumber = "9999888877"
	pending := mustCreate(t, s, staff, other)

	fullNumber, fullHash := stored(inFlight.ID)
	if fullNumber != "0107201111" || len(fullHash) != 64 {
		t.Fatalf("in flight: %q %q", fullNumber, fullHash)
	}
	for name, id := range map[string]string{"succeeded": succeeded.ID, "rejected": rejected.ID, "cancelled": cancelled.ID} {
		number, hash := stored(id)
		if number != "••••••1111" || hash != fullHash {
			t.Errorf("%s: number %q hash %q, want the last four and the same hash", name, number, hash)
		}
		if got, _ := s.Get(ctx, id); got.MaskedAccount() != "••••••1111" {
			t.Errorf("%s: masked %q", name, got.MaskedAccount())
		}
	}
	if number, hash := stored(pending.ID); number != "9999888877" || hash == fullHash || hash == "" {
		t.Errorf("pending other account: %q %q", number, hash)
	}
}
