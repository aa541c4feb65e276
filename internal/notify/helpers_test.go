package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

var t0 = time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)

type fixture struct {
	db    *store.DB
	clk   *clock.Fake
	log   *audit.Log
	out   *notify.Outbox
	rec   *notify.WrappedRecorder
	users map[string]int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	// SQLite by default; STORE_TEST_DIALECT=postgres runs them on PostgreSQL.
	db, err := store.OpenURL(ctx, storetest.URL(t, ""), store.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(t0)
	al := audit.New(db, clk.Now)
	out := notify.NewOutbox("https://desk.example", nil)
	return &fixture{db: db, clk: clk, log: al, out: out, rec: out.Wrap(al), users: map[string]int64{}}
}

// user adds a user with role and language and, when email is not "",
// notification settings (muted: kinds turned off).
func (f *fixture) user(t *testing.T, name, role, lang, email string, muted ...notify.Kind) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.db.TxAt(ctx, f.clk.Now(), func(tx *store.Tx) error {
		u, err := tx.InsertUser(ctx, store.UserRecord{Username: name, Role: role, Lang: lang}, "x")
		if err != nil {
			return err
		}
		id = u.ID
		if email == "" {
			return nil
		}
		var off []string
		for _, k := range muted {
			off = append(off, string(k))
		}
		return tx.SetNotifyPrefs(ctx, store.NotifyPrefRecord{UserID: id, Email: email, Muted: strings.Join(off, ",")})
	})
	if err != nil {
		t.Fatal(err)
	}
	f.users[name] = id
	return id
}

// request stores a pending refund by maker and records its audit event
// through the wrapped recorder, as the refund domain does, in one
// transaction.
func (f *fixture) request(t *testing.T, maker string) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	err := f.db.TxAt(ctx, f.clk.Now(), func(tx *store.Tx) error {
		if err := tx.InsertRefund(ctx, store.NewRefund{RefundRecord: store.RefundRecord{ID: id, API: "PG",
			TransactionRef: "240901101500HCMCAF", PaymentID: "1", Amount: 350000, Currency: "VND", ReasonCode: "other",
			ReasonText: "khách đổi ý", RequestedBy: f.users[maker], RequestedByName: maker, RequestedAt: f.clk.Now(),
			UpdatedAt: f.clk.Now(), ApprovalsRequired: 1}}); err != nil {
			return err
		}
		return f.rec.Record(ctx, tx, audit.Event{ActorID: f.users[maker], ActorName: maker, ActorRole: "staff",
			Action: audit.ActionRefundRequested, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id,
			Details: map[string]any{"approvals_required": 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) deliveries(t *testing.T, refundID string) []store.NotifyDelivery {
	t.Helper()
	ds, err := f.db.NotifyDeliveriesOf(context.Background(), refundID)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (f *fixture) endpoint(t *testing.T, url string, kinds ...notify.Kind) (int64, string) {
	t.Helper()
	s := notify.NewSettings(f.db, f.log, f.clk.Now, zeroPolicy)
	id, secret, err := s.AddEndpoint(context.Background(), notify.Actor{ID: 1, Name: "root", Role: "admin"}, url, kinds)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}
