package crashtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// lossyHooks stands between NeoX and the desk's GC webhook endpoint: it
// forwards every delivery except those reporting status FAILED, which it
// acknowledges (so NeoX never redelivers) and drops. For the desk this is
// exactly a lost notification.
type lossyHooks struct {
	to      string
	mu      sync.Mutex
	dropped map[string]int // collectionOrderId → FAILED deliveries dropped
}

func (l *lossyHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev struct {
		Status            string `json:"status"`
		CollectionOrderID string `json:"collectionOrderId"`
	}
	if json.Unmarshal(body, &ev) == nil && ev.Status == "FAILED" {
		l.mu.Lock()
		l.dropped[ev.CollectionOrderID]++
		l.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	resp, err := http.Post(l.to, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (l *lossyHooks) droppedFor(order string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped[order]
}

// TestLostGCFailureNeedsAttention: NeoX fails a GC refund, and its only
// failure notification is lost. GC has no refund query and the
// collection order has no failure state, so nothing else will ever tell
// the desk; and the desk is killed (SIGKILL) and restarted meanwhile.
// With ATTENTION_AFTER_GC=3s the refund ends in needs attention:
// still PROCESSING (never SUCCEEDED, never silently final), audited once,
// and listed on the managers' /attention page.
func TestLostGCFailureNeedsAttention(t *testing.T) {
	c := newCluster(t)
	c.env = append(c.env, "ATTENTION_AFTER_GC=3s")
	hooks := &lossyHooks{to: c.base + "/webhooks/neox/gc", dropped: map[string]int{}}
	proxy := httptest.NewServer(hooks)
	t.Cleanup(proxy.Close)
	c.sb.SetWebhookURLs(c.base+"/webhooks/neox/pg", proxy.URL, c.base+"/webhooks/neox/col")
	c.start()

	const order = "CO-20240503-000200002" // the sandbox fails refunds of this order
	resp := c.post(c.client("staff"), "/refunds", url.Values{"api": {"GC"}, "ref": {order}, "fee_charge_way": {"OUR"},
		"reason_code": {"duplicate"}, "reason_text": {"lost webhook"}, "token": {uuid.NewString()}})
	m := refundPath.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("request GC refund: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	id := m[1]
	c.approve(id)

	deadline := time.Now().Add(20 * time.Second)
	for hooks.droppedFor(order) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("NeoX never sent the failure notification")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The desk dies before the threshold (or just after): the waiting
	// refund must survive the crash and still end in needs attention.
	c.stop(syscall.SIGKILL)
	c.start()
	var since, reason string
	for {
		var sub string
		since, reason, sub = c.attention(id)
		if sub == "SUCCEEDED" || sub == "FAILED" {
			t.Fatalf("the refund ended %s without NeoX telling the desk", sub)
		}
		if since != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund still %s and not in needs attention after 20 s", sub)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, sub, _ := c.row(id); sub != "PROCESSING" || reason != "no_final_answer" {
		t.Errorf("in needs attention as %s (%s), want PROCESSING (no_final_answer)", sub, reason)
	}
	if n := c.auditCount(`action = 'refund.needs_attention' AND target_id = ?`, id); n != 1 {
		t.Errorf("%d needs-attention events, want 1", n)
	}
	if n := c.auditCount(`action = 'refund.state_changed' AND target_id = ? AND details LIKE '%"to":"SUCCEEDED"%'`, id); n != 0 {
		t.Errorf("the refund went SUCCEEDED %d times", n)
	}
	page := c.get("manager", "/attention")
	if !strings.Contains(page, `data-testid="attention-row" data-id="`+id+`"`) {
		t.Errorf("/attention does not list the refund")
	}
	if home := c.get("manager", "/"); !strings.Contains(home, `data-testid="fig-attention-value">1<`) {
		t.Errorf("the managers' dashboard does not count it")
	}
	c.verifyAudit()
}

// attention reads a refund's needs-attention columns and state from the database file.
func (c *cluster) attention(id string) (since, reason, submission string) {
	c.t.Helper()
	db := c.readDB()
	if !c.pg {
		defer db.Close()
	}
	if err := db.QueryRow(`SELECT attention_since, attention_reason, submission FROM refunds WHERE id = ?`, id).
		Scan(&since, &reason, &submission); err != nil {
		c.t.Fatalf("read refund %s: %v", id, err)
	}
	return
}
