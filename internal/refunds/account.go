package refunds

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// settingAccountKey names the key of the receivers' account hashes in the
// settings table.
const settingAccountKey = "refunds.account_hash_key"

// accountHash is the keyed hash kept for a receiver's bank account number:
// once a refund is final the number itself is cut to its last four
// characters (migration 0013), and this still tells whether two refunds
// went to the same account without keeping the number. "" for no number.
func accountHash(ctx context.Context, tx *store.Tx, number string) (string, error) {
	number = strings.ToUpper(strings.Join(strings.Fields(number), ""))
	if number == "" {
		return "", nil
	}
	key, err := accountKey(ctx, tx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(number))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// accountKey loads the desk's account-hash key, creating it on first use
// inside the caller's write transaction.
func accountKey(ctx context.Context, tx *store.Tx) ([]byte, error) {
	key, err := tx.RefundSecret(ctx, settingAccountKey)
	switch {
	case err == nil && len(key) == 32:
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("refunds: setting %s has %d bytes, want 32", settingAccountKey, len(key))
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("refunds: account key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Another instance's first use may have stored its key first: the
	// one stored is the one to use.
	key, err = tx.InsertRefundSecret(ctx, settingAccountKey, key)
	if err != nil {
		return nil, fmt.Errorf("refunds: store account key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("refunds: setting %s has %d bytes, want 32", settingAccountKey, len(key))
	}
	return key, nil
}
