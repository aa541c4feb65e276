package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/store"
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
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "desk.db"))
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

// smtpSink is an SMTP server on loopback keeping what it receives.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sunk
	addr *net.TCPAddr
}

type sunk struct {
	from string
	to   []string
	data []byte
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	s := &smtpSink{}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().(*net.TCPAddr)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

func (s *smtpSink) all() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

type sinkSession struct {
	sink *smtpSink
	cur  sunk
}

func (s *sinkSession) Reset()        { s.cur = sunk{} }
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.cur)
	s.sink.mu.Unlock()
	return nil
}

// decode reads a received message's subject and text body.
func decode(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "base64":
		t.Fatal("unexpected base64 body")
	}
	b, err := io.ReadAll(body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return subject, string(b)
}
