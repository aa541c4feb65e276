package app

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/notify/notifytest"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// The whole app, a known flow, real email: a Vietnamese staff member asks
// for a refund, the Vietnamese approver is emailed (in Vietnamese, with the
// link), the approval and NeoX's success are emailed to the requester,
// each once, through an SMTP server on loopback; shutdown stops the
// dispatcher cleanly.
func TestNotificationEmailsOfAKnownFlow(t *testing.T) {
	ctx := context.Background()
	sink := notifytest.NewSMTPSink(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DB_PATH": filepath.Join(t.TempDir(), "app.db"), "NEOX_MODE": "sandbox",
		"ADDR": ln.Addr().String(), "SANDBOX_SETTLE_DELAY": "10ms",
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(sink.Addr.Port), "SMTP_FROM": "Refund Desk <desk@example.com>",
		"SMTP_TLS": "none", "SMTP_USERNAME": "", "NOTIFY_REMIND_AFTER": "24h"}
	cfg, err := ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(ctx, cfg, NewLogger(io.Discard, cfg.Level()), Options{Argon: &auth.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.StartNeoX(refunds.Options{PollInterval: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	h, _, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(runCtx, ln, h) }()
	defer stop()

	person := func(name string, role auth.Role) auth.User {
		u, err := a.Auth.CreateUser(ctx, name, "", role, "a long enough passphrase 42", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Auth.SetLang(ctx, u.ID, "vi"); err != nil {
			t.Fatal(err)
		}
		if err := a.Notify.SavePrefs(ctx, notify.Actor{ID: u.ID, Name: name, Role: role}, name+"@example.com", notify.Kinds()); err != nil {
			t.Fatal(err)
		}
		return u
	}
	minh, lan := person("minh", auth.RoleStaff), person("lan", auth.RoleManager)

	r, err := a.Refunds.Create(ctx, refunds.Actor{ID: minh.ID, Name: "minh", Role: minh.Role, Lang: "vi"}, refunds.NewRequest{
		API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 10000,
		ReasonCode: "other", ReasonText: "khách đổi ý", IdempotencyKey: uuid.NewString(), Lang: "vi"})
	if err != nil {
		t.Fatal(err)
	}
	link := cfg.BaseURL + "/refunds/" + r.ID
	_, body := sink.WaitFor(t, "lan@example.com", func(s, b string) bool {
		return strings.HasPrefix(s, "Hoàn tiền cần duyệt: PG 240901101500HCMCAF")
	}, 30*time.Second)
	if !strings.Contains(body, link) || !strings.Contains(body, "đang chờ bạn duyệt") {
		t.Errorf("approver's email:\n%s", body)
	}
	if _, err := a.Refunds.Approve(ctx, refunds.Actor{ID: lan.ID, Name: "lan", Role: lan.Role}, r.ID, "đồng ý"); err != nil {
		t.Fatal(err)
	}
	sink.WaitFor(t, "minh@example.com", func(s, b string) bool {
		return strings.HasPrefix(s, "Hoàn tiền đã được duyệt") && strings.Contains(b, "Ghi chú: đồng ý")
	}, 30*time.Second)
	sink.WaitFor(t, "minh@example.com", func(s, b string) bool {
		return strings.HasPrefix(s, "Hoàn tiền thành công") && strings.Contains(b, link)
	}, 60*time.Second)

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	ds, err := a.DB.NotifyDeliveriesOf(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, d := range ds {
		if d.State != store.NotifySent {
			t.Errorf("delivery %d to %s: %s (%s)", d.ID, d.Address, d.State, d.LastError)
		}
		per[d.Event.Kind+" "+d.Address]++
	}
	want := map[string]int{"refund.requested lan@example.com": 1, "refund.decided minh@example.com": 1,
		"refund.outcome minh@example.com": 1}
	for k, n := range want {
		if per[k] != n {
			t.Errorf("%s: %d deliveries, want %d (all: %v)", k, per[k], n, per)
		}
	}
	if got := len(sink.All()); got != len(ds) {
		t.Errorf("%d emails received for %d deliveries", got, len(ds))
	}
}
