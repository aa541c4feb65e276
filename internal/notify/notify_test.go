package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/notify/notifytest"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

var zeroPolicy policy.Policy

// A new request writes one email delivery per approver who has an address
// and has not turned the kind off, never to the requester, in the same
// transaction as the request: a rollback leaves no outbox row.
func TestOutboxRowsCommitWithTheChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "minh", "staff", "vi", "minh@example.com")
	f.user(t, "lan", "manager", "vi", "lan@example.com")
	f.user(t, "quiet", "manager", "en", "quiet@example.com", notify.KindRequested)
	f.user(t, "noaddr", "manager", "en", "")
	f.user(t, "root", "admin", "en", "root@example.com")
	id := f.request(t, "minh")
	ds := f.deliveries(t, id)
	if len(ds) != 1 || ds[0].Address != "lan@example.com" || ds[0].Lang != "vi" || ds[0].State != store.NotifyPending {
		t.Fatalf("deliveries = %+v, want one PENDING to lan@example.com in vi", ds)
	}

	// The same writes in a transaction that fails afterwards: nothing stays.
	boom := errors.New("boom")
	err := f.db.TxAt(ctx, f.clk.Now(), func(tx *store.Tx) error {
		if err := f.rec.Record(ctx, tx, audit.Event{ActorName: "minh", Action: audit.ActionRefundApproved,
			Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := f.deliveries(t, id); len(got) != 1 {
		t.Fatalf("after a rollback: %d deliveries, want the 1 from before", len(got))
	}

	// A manager's own request is not sent to that manager.
	f.user(t, "hoa", "manager", "en", "hoa@example.com")
	id2 := f.request(t, "lan")
	var to []string
	for _, d := range f.deliveries(t, id2) {
		to = append(to, d.Address)
	}
	if strings.Join(to, ",") != "hoa@example.com" {
		t.Fatalf("a manager's request went to %v, want only hoa", to)
	}
}

// The known flow by email: a request reaches a Vietnamese approver through
// an SMTP server on loopback, in Vietnamese, with a link to the refund.
func TestEmailReachesApproverInTheirLanguage(t *testing.T) {
	f := newFixture(t)
	sink := notifytest.NewSMTPSink(t)
	f.user(t, "minh", "staff", "vi", "minh@example.com")
	f.user(t, "lan", "manager", "vi", "lan@example.com")
	f.user(t, "john", "manager", "en", "john@example.com")
	id := f.request(t, "minh")

	cfg := notify.SMTPConfig{Host: "127.0.0.1", Port: sink.Addr.Port, From: "Refund Desk <desk@example.com>", TLS: "none"}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{notify.ChannelEmail: notify.NewEmailSender(cfg, nil)},
		notify.DispatchOptions{Now: f.clk.Now})
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := sink.All()
	if len(msgs) != 2 {
		t.Fatalf("%d emails received, want 2", len(msgs))
	}
	byTo := map[string]notifytest.Message{}
	for _, m := range msgs {
		byTo[strings.Join(m.To, ",")] = m
	}
	vi, ok := byTo["lan@example.com"]
	if !ok {
		t.Fatalf("no email to lan: %v", byTo)
	}
	subject, body := notifytest.Decode(t, vi.Data)
	if subject != "Hoàn tiền cần duyệt: PG 240901101500HCMCAF, 350.000 ₫" {
		t.Errorf("subject = %q", subject)
	}
	for _, want := range []string{"đang chờ bạn duyệt", "do minh tạo", "Lý do: khách đổi ý", "https://desk.example/refunds/" + id} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	en, _ := notifytest.Decode(t, byTo["john@example.com"].Data)
	if !strings.HasPrefix(en, "Refund to approve:") {
		t.Errorf("English subject = %q", en)
	}
	for _, dl := range f.deliveries(t, id) {
		if dl.State != store.NotifySent || dl.Attempts != 1 {
			t.Errorf("delivery %d: %s after %d attempts, want SENT after 1", dl.ID, dl.State, dl.Attempts)
		}
	}
}

func TestSMTPConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  notify.SMTPConfig
		want string // "" = valid
	}{
		{notify.SMTPConfig{}, ""},
		{notify.SMTPConfig{Password: "hunter2"}, "SMTP_HOST is not"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "desk@example.com"}, ""},
		{notify.SMTPConfig{Host: "smtp.example.com"}, "SMTP_FROM is required"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "not an address"}, "SMTP_FROM"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "d@example.com", TLS: "ssl"}, "SMTP_TLS must be"},
		{notify.SMTPConfig{Host: "smtp.example.com:587", From: "d@example.com"}, "SMTP_PORT"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "d@example.com", Port: 70000}, "between 1 and 65535"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "d@example.com", Username: "u"}, "go together"},
		{notify.SMTPConfig{Host: "smtp.example.com", From: "d@example.com", Username: "u", Password: "hunter2", TLS: "none"}, "clear text"},
	} {
		err := tc.cfg.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

// receiver is a loopback webhook receiver that checks signatures.
type receiver struct {
	srv    *httptest.Server
	secret atomic.Value // string
	fail   atomic.Int32 // answer 500 this many more times
	hits   atomic.Int32
	mu     sync.Mutex
	byID   map[string]int
	bad    atomic.Int32
	busy   atomic.Int32 // requests in progress, to catch concurrent duplicates
	clk    func() time.Time
}

func newReceiver(t *testing.T, clk func() time.Time) *receiver {
	r := &receiver{byID: map[string]int{}, clk: clk}
	r.secret.Store("")
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := notify.Verify(r.secret.Load().(string), req.Header.Get(notify.HeaderSignature), body, r.clk(), 5*time.Minute); err != nil {
			r.bad.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail.Add(-1) >= 0 {
			http.Error(w, strings.Repeat("x", 10000), http.StatusInternalServerError)
			return
		}
		r.mu.Lock()
		r.byID[req.Header.Get(notify.HeaderEventID)]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// Signed webhooks: the receiver verifies the signature; a tampered body,
// another secret or an old timestamp do not verify.
func TestWebhookSignatureVerifies(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.clk.Now)
	_, secret := f.endpoint(t, rc.srv.URL+"/hook?token=abc")
	rc.secret.Store(secret)
	f.user(t, "minh", "staff", "vi", "")
	id := f.request(t, "minh")
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{
		notify.ChannelWebhook: notify.NewWebhookSender(f.db, f.clk.Now, 5*time.Second)}, notify.DispatchOptions{Now: f.clk.Now})
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds := f.deliveries(t, id)
	if len(ds) != 1 || ds[0].State != store.NotifySent || rc.bad.Load() != 0 || len(rc.byID) != 1 {
		t.Fatalf("deliveries %+v, bad signatures %d, received %v", ds, rc.bad.Load(), rc.byID)
	}
	if rc.byID[ds[0].EventID] != 1 {
		t.Fatalf("event id header %v, want %s", rc.byID, ds[0].EventID)
	}

	body := []byte(`{"id":"e1","type":"refund.outcome","data":{"amount":100}}`)
	sig := notify.Sign(secret, t0, body)
	if err := notify.Verify(secret, sig, body, t0.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, sig string
		body        []byte
		at          time.Time
	}{
		"tampered body": {secret, sig, []byte(`{"id":"e1","type":"refund.outcome","data":{"amount":999}}`), t0},
		"other secret":  {"whsec_other", sig, body, t0},
		"replayed late": {secret, sig, body, t0.Add(10 * time.Minute)},
		"no signature":  {secret, "t=" + "1", body, t0},
		"garbage":       {secret, "v1=zz", body, t0},
	} {
		if err := notify.Verify(tc.secret, tc.sig, tc.body, tc.at, 5*time.Minute); !errors.Is(err, notify.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
	// Over the wire: a receiver with a different secret refuses (401) and
	// the delivery is retried, not marked sent.
	rc.secret.Store("whsec_wrong")
	id2 := f.request(t, "minh")
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries(t, id2); ds[0].State != store.NotifyPending || ds[0].LastStatus != 401 || rc.bad.Load() != 1 {
		t.Fatalf("refused by the receiver: %+v (bad %d)", ds[0], rc.bad.Load())
	}
}

// 500s are retried with exponential backoff on the fake clock, never
// before they are due, and given up after MaxAttempts with the error kept.
func TestWebhookRetriesWithBackoffThenGivesUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc := newReceiver(t, f.clk.Now)
	_, secret := f.endpoint(t, rc.srv.URL)
	rc.secret.Store(secret)
	f.user(t, "minh", "staff", "vi", "")
	id := f.request(t, "minh")
	rc.fail.Store(2)
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{
		notify.ChannelWebhook: notify.NewWebhookSender(f.db, f.clk.Now, 5*time.Second)},
		notify.DispatchOptions{Now: f.clk.Now, RetryBase: 30 * time.Second, RetryMax: 10 * time.Minute, MaxAttempts: 4})
	one := func() store.NotifyDelivery { return f.deliveries(t, id)[0] }

	start := f.clk.Now()
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got := one()
	if got.State != store.NotifyPending || got.Attempts != 1 || !got.NextAttemptAt.Equal(start.Add(30*time.Second)) ||
		got.LastStatus != 500 || !strings.HasPrefix(got.LastError, "HTTP 500") || len(got.LastError) > 600 {
		t.Fatalf("after a 500: %+v", got)
	}
	f.clk.Advance(29 * time.Second)
	_ = d.Tick(ctx)
	if rc.hits.Load() != 1 {
		t.Fatalf("retried before due: %d hits", rc.hits.Load())
	}
	f.clk.Advance(time.Second)
	_ = d.Tick(ctx)
	if got = one(); got.Attempts != 2 || !got.NextAttemptAt.Equal(f.clk.Now().Add(60*time.Second)) {
		t.Fatalf("second failure: %+v, want next in 60s", got)
	}
	f.clk.Advance(60 * time.Second)
	_ = d.Tick(ctx)
	if got = one(); got.State != store.NotifySent || got.Attempts != 3 || rc.hits.Load() != 3 {
		t.Fatalf("third attempt: %+v, hits %d", got, rc.hits.Load())
	}

	// One that never succeeds ends FAILED after MaxAttempts, error visible.
	rc.fail.Store(100)
	id2 := f.request(t, "minh")
	for range 10 {
		_ = d.Tick(ctx)
		f.clk.Advance(10 * time.Minute)
	}
	got = f.deliveries(t, id2)[0]
	if got.State != store.NotifyFailed || got.Attempts != 4 || !strings.Contains(got.LastError, "HTTP 500") {
		t.Fatalf("never succeeding: %+v", got)
	}
	if got := notify.Backoff(30*time.Second, 10*time.Minute, 10); got != 10*time.Minute {
		t.Errorf("Backoff cap = %v", got)
	}
}

// A dispatcher that claimed a delivery and died before sending: while its
// lease is live nobody sends it; once it expires another dispatcher sends
// it exactly once, and the dead one's late outcome changes nothing.
func TestCrashBetweenClaimAndSend(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc := newReceiver(t, f.clk.Now)
	_, secret := f.endpoint(t, rc.srv.URL)
	rc.secret.Store(secret)
	f.user(t, "minh", "staff", "vi", "")
	id := f.request(t, "minh")
	senders := map[string]notify.Sender{notify.ChannelWebhook: notify.NewWebhookSender(f.db, f.clk.Now, 5*time.Second)}
	opt := notify.DispatchOptions{Now: f.clk.Now, Lease: 2 * time.Minute}
	dead := notify.NewDispatcher(f.db, f.out, senders, opt)
	claimed, err := dead.Claim(ctx)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claimed))
	}
	// ...and the process dies here.
	alive := notify.NewDispatcher(f.db, f.out, senders, opt)
	f.clk.Advance(119 * time.Second)
	if err := alive.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if rc.hits.Load() != 0 {
		t.Fatalf("sent while the lease was live")
	}
	f.clk.Advance(time.Second)
	if err := alive.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	_ = alive.Tick(ctx)
	got := f.deliveries(t, id)[0]
	if rc.hits.Load() != 1 || got.State != store.NotifySent || got.Attempts != 2 || got.LeaseOwner != alive.Owner() {
		t.Fatalf("after expiry: hits %d, %+v", rc.hits.Load(), got)
	}
	// The dead claim's outcome, arriving late, is not recorded.
	if err := dead.Deliver(ctx, claimed[0]); err != nil {
		t.Fatal(err)
	}
	if got2 := f.deliveries(t, id)[0]; got2.Attempts != 2 || got2.LeaseOwner != alive.Owner() || got2.State != store.NotifySent {
		t.Fatalf("late outcome overwrote the row: %+v", got2)
	}
}

// Two dispatchers on one database, ticking at once: every delivery is
// sent exactly once.
func TestTwoDispatchersNeverSendTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc := newReceiver(t, f.clk.Now)
	_, secret := f.endpoint(t, rc.srv.URL)
	rc.secret.Store(secret)
	f.user(t, "minh", "staff", "vi", "")
	const n = 40
	for range n {
		f.request(t, "minh")
	}
	senders := map[string]notify.Sender{notify.ChannelWebhook: notify.NewWebhookSender(f.db, f.clk.Now, 5*time.Second)}
	opt := notify.DispatchOptions{Now: f.clk.Now, Batch: 3}
	a, b := notify.NewDispatcher(f.db, f.out, senders, opt), notify.NewDispatcher(f.db, f.out, senders, opt)
	var wg sync.WaitGroup
	for _, d := range []*notify.Dispatcher{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Tick(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.byID) != n || int(rc.hits.Load()) != n {
		t.Fatalf("%d events received in %d requests, want %d", len(rc.byID), rc.hits.Load(), n)
	}
	for id, c := range rc.byID {
		if c != 1 {
			t.Errorf("event %s received %d times", id, c)
		}
	}
}

// Endpoints: bad URLs are refused and nothing is stored; an endpoint
// listening to some kinds gets only those; a removed one gets nothing new.
func TestEndpointsRefuseBadURLsAndFilterKinds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := notify.NewSettings(f.db, f.log, f.clk.Now, zeroPolicy)
	admin := notify.Actor{ID: 1, Name: "root", Role: policy.Admin}
	for _, bad := range []string{"", "ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "//example.com",
		"https://user:pass@example.com/hook", "https://example.com/hook#frag", "example.com/hook", "https://exa mple.com",
		"http://" + strings.Repeat("a", 2001) + ".com"} {
		_, _, err := s.AddEndpoint(ctx, admin, bad, nil)
		if fields, ok := fault.FieldsOf(err); !ok || fields["url"].Key != "notify.err.url" {
			t.Errorf("AddEndpoint(%q) = %v, want a url field error", bad, err)
		}
	}
	if _, _, err := s.AddEndpoint(ctx, notify.Actor{ID: 2, Name: "m", Role: policy.Manager}, "https://example.com/x", nil); !errors.Is(err, notify.ErrForbidden) {
		t.Errorf("a manager added an endpoint: %v", err)
	}
	if es, _ := s.Endpoints(ctx); len(es) != 0 {
		t.Fatalf("refused endpoints were stored: %+v", es)
	}
	outcomes, _ := f.endpoint(t, "https://outcomes.example/hook", notify.KindOutcome)
	all, secret := f.endpoint(t, "https://all.example/hook")
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Errorf("secret %q", secret)
	}
	if es, _ := s.Endpoints(ctx); len(es) != 2 || es[0].Secret != "" {
		t.Fatalf("endpoints as listed: %+v (secrets must be blank)", es)
	}
	f.user(t, "minh", "staff", "vi", "")
	id := f.request(t, "minh")
	if ds := f.deliveries(t, id); len(ds) != 1 || ds[0].EndpointID != all {
		t.Fatalf("a request went to %+v, want only endpoint %d (not %d)", ds, all, outcomes)
	}
	if err := s.RemoveEndpoint(ctx, admin, all); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveEndpoint(ctx, admin, all); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("second removal: %v", err)
	}
	if ds := f.deliveries(t, f.request(t, "minh")); len(ds) != 0 {
		t.Fatalf("a removed endpoint got %+v", ds)
	}
}

// Preferences: a bad address is refused; a kind turned off is not sent;
// saving is audited.
func TestPreferences(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := notify.NewSettings(f.db, f.log, f.clk.Now, zeroPolicy)
	lan := f.user(t, "lan", "manager", "vi", "")
	f.user(t, "minh", "staff", "vi", "")
	me := notify.Actor{ID: lan, Name: "lan", Role: policy.Manager}
	for _, bad := range []string{"lan", "lan@", "Lan <lan@example.com>", "a@example.com, b@example.com"} {
		if _, ok := fault.FieldsOf(s.SavePrefs(ctx, me, bad, notify.Kinds())); !ok {
			t.Errorf("SavePrefs(%q) accepted", bad)
		}
	}
	if err := s.SavePrefs(ctx, me, "lan@example.com", []notify.Kind{notify.KindOutcome}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Prefs(ctx, lan)
	if err != nil || p.Email != "lan@example.com" || !p.Off[notify.KindRequested] || p.Off[notify.KindOutcome] {
		t.Fatalf("prefs = %+v, %v", p, err)
	}
	if ds := f.deliveries(t, f.request(t, "minh")); len(ds) != 0 {
		t.Fatalf("a kind turned off was sent: %+v", ds)
	}
	if err := s.SavePrefs(ctx, me, "lan@example.com", notify.Kinds()); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries(t, f.request(t, "minh")); len(ds) != 1 {
		t.Fatalf("turned back on: %d deliveries", len(ds))
	}
	evs, err := f.log.Query(ctx, audit.Filter{Action: notify.ActionPrefsChanged}, audit.Cursor{}, 10)
	if err != nil || len(evs.Entries) != 2 {
		t.Fatalf("audit: %v, %v", evs, err)
	}
}

// Reminders: a request still pending after RemindAfter sends approvers one
// reminder, once, however many ticks pass.
func TestReminderOncePerRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "minh", "staff", "vi", "")
	f.user(t, "lan", "manager", "vi", "lan@example.com")
	id := f.request(t, "minh")
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{}, notify.DispatchOptions{Now: f.clk.Now, RemindAfter: 24 * time.Hour})
	count := func() int {
		n := 0
		for _, dl := range f.deliveries(t, id) {
			if dl.Event.Kind == string(notify.KindReminder) {
				n++
			}
		}
		return n
	}
	_ = d.Tick(ctx)
	f.clk.Advance(23 * time.Hour)
	_ = d.Tick(ctx)
	if count() != 0 {
		t.Fatal("reminded too early")
	}
	f.clk.Advance(time.Hour)
	for range 3 {
		_ = d.Tick(ctx)
		f.clk.Advance(time.Hour)
	}
	if count() != 1 {
		t.Fatalf("%d reminders, want 1", count())
	}
}

// A NeoX outage reaches admins once per outage, however many ticks see
// it; a new outage (another start) is told again. Needs attention reaches
// managers and admins.
func TestOutagesAndAttentionReachTheirRoles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "minh", "staff", "vi", "minh@example.com")
	f.user(t, "lan", "manager", "vi", "lan@example.com")
	f.user(t, "root", "admin", "en", "root@example.com")
	since := t0.Add(-time.Minute)
	outages := []notify.OutageInfo{{API: "PG", Op: "refund", Since: since, LastError: "timeout"}}
	var mu sync.Mutex
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{}, notify.DispatchOptions{Now: f.clk.Now,
		Outages: func(context.Context) ([]notify.OutageInfo, error) { mu.Lock(); defer mu.Unlock(); return outages, nil }})
	for range 3 {
		_ = d.Tick(ctx)
	}
	mu.Lock()
	outages = []notify.OutageInfo{{API: "PG", Op: "refund", Since: since.Add(time.Hour), LastError: "timeout"}}
	mu.Unlock()
	_ = d.Tick(ctx)
	log, err := f.db.NotifyDeliveryLog(ctx, notify.ChannelEmail, 50)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, dl := range log {
		if dl.Event.Kind == string(notify.KindOutage) {
			to = append(to, dl.Address)
		}
	}
	if strings.Join(to, ",") != "root@example.com,root@example.com" {
		t.Fatalf("outage emails to %v, want root twice (two outages)", to)
	}

	id := f.request(t, "minh")
	if err := f.db.TxAt(ctx, f.clk.Now(), func(tx *store.Tx) error {
		return f.rec.Record(ctx, tx, audit.Event{ActorName: "system", Action: audit.ActionRefundNeedsAttention,
			Outcome: audit.OutcomeUnknown, TargetType: "refund", TargetID: id})
	}); err != nil {
		t.Fatal(err)
	}
	to = nil
	for _, dl := range f.deliveries(t, id) {
		if dl.Event.Kind == string(notify.KindAttention) {
			to = append(to, dl.Address)
		}
	}
	if strings.Join(to, ",") != "lan@example.com,root@example.com" {
		t.Fatalf("needs attention to %v", to)
	}
}

// A receiver that never answers is cut off by the timeout and retried; a
// redirect is not followed (the signed body stays where it was sent).
func TestWebhookTimeoutAndRedirect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	t.Cleanup(elsewhere.Close)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	f.endpoint(t, hang.URL)
	f.endpoint(t, redirect.URL)
	f.user(t, "minh", "staff", "vi", "")
	id := f.request(t, "minh")
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{
		notify.ChannelWebhook: notify.NewWebhookSender(f.db, f.clk.Now, 300*time.Millisecond)}, notify.DispatchOptions{Now: f.clk.Now})
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for _, dl := range f.deliveries(t, id) {
		if dl.State != store.NotifyPending || dl.Attempts != 1 {
			t.Errorf("delivery to %s: %s after %d attempts (%s), want PENDING after 1", dl.Address, dl.State, dl.Attempts, dl.LastError)
		}
		switch dl.Address {
		case hang.URL:
			if !strings.Contains(dl.LastError, "POST failed") || dl.LastStatus != 0 {
				t.Errorf("timeout recorded as %q (%d)", dl.LastError, dl.LastStatus)
			}
		case redirect.URL:
			if dl.LastStatus != http.StatusTemporaryRedirect {
				t.Errorf("redirect recorded as %q (%d)", dl.LastError, dl.LastStatus)
			}
		}
	}
	if followed.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// Settled deliveries older than the retention go, with their events; a
// pending refund's reminder stays (or it would be sent again), and so do
// deliveries still waiting.
func TestPruneKeepsWhatMatters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "minh", "staff", "vi", "")
	f.user(t, "lan", "manager", "vi", "lan@example.com")
	sent := f.request(t, "minh")
	waiting := f.request(t, "minh")
	ok := &fakeSender{}
	d := notify.NewDispatcher(f.db, f.out, map[string]notify.Sender{notify.ChannelEmail: ok},
		notify.DispatchOptions{Now: f.clk.Now, RemindAfter: time.Hour})
	_ = d.Tick(ctx) // both requests' emails sent
	f.clk.Advance(2 * time.Hour)
	ok.fail.Store(true)
	_ = d.Tick(ctx) // both reminders written, their emails fail and wait
	f.clk.Advance(100 * 24 * time.Hour)
	n, err := d.Prune(ctx, 90*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the 2 sent emails", n, err)
	}
	for _, id := range []string{sent, waiting} {
		ds := f.deliveries(t, id)
		if len(ds) != 1 || ds[0].Event.Kind != string(notify.KindReminder) || ds[0].State != store.NotifyPending {
			t.Fatalf("left for %s: %+v", id, ds)
		}
	}
	// No second reminder: the pending refunds' reminder events stayed.
	ok.fail.Store(false)
	_ = d.Tick(ctx)
	for _, id := range []string{sent, waiting} {
		if ds := f.deliveries(t, id); len(ds) != 1 || ds[0].State != store.NotifySent {
			t.Fatalf("after pruning, %s: %+v", id, ds)
		}
	}
}

// fakeSender succeeds, or fails while fail is set.
type fakeSender struct{ fail atomic.Bool }

func (s *fakeSender) Send(context.Context, store.NotifyDelivery, notify.Event) error {
	if s.fail.Load() {
		return errors.New("mail server down")
	}
	return nil
}
