package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// Issue 12: unauthenticated visitors cannot grow the audit trail without
// bound. 2,000 anonymous requests over loopback from 8 connections at
// once, half refused webhooks and half logins at an account whose budget
// they spend, add at most AccountGuesses login_failed rows plus
// PerSource+1 rows each of webhook.received and auth.login_throttled
// (5 + 6 + 6 = 17 with the defaults), and every refusal is counted. A
// legitimate sign-in in the middle is recorded as usual, and no byte of a
// refused body is stored.
func TestRefusalFloodIsBounded(t *testing.T) {
	e := newEnv(t)
	e.user("admin", auth.RoleAdmin)
	e.user("staff1", auth.RoleStaff)
	rows := func() int { return e.count(`SELECT count(*) FROM audit_events`) }
	before := rows()

	const n, workers = 1000, 8
	const marker = "FLOODMARKER-7f1c"
	body := `{"merchantCode":"TEST01","requestId":"` + marker + `","signature":"00"}`
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for i := range jobs {
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequest(http.MethodPost, e.url+"/webhooks/neox/col", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(http.MethodPost, e.url+"/login",
						strings.NewReader(url.Values{"username": {"admin"}, "password": {"guess " + marker}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	for i := range 2 * n {
		if i == n {
			e.login("staff1") // a legitimate sign-in mid-flood
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if statuses[http.StatusBadRequest]+statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != 2*n {
		t.Fatalf("statuses %v, want every request refused (400, 401 or 429)", statuses)
	}
	// The window ends; its counts are written as aggregates.
	e.clock.Advance(time.Minute)
	if err := e.refused.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	const bound = 5 + (5 + 1) + (5 + 1)
	// The staff sign-in adds its own auth.login row (not limited).
	if added := rows() - before - 1; added > bound {
		t.Fatalf("the flood added %d audit rows, want at most %d", added, bound)
	} else {
		t.Logf("2,000 refused requests added %d audit rows (bound %d); statuses %v", added, bound, statuses)
	}
	if e.count(`SELECT count(*) FROM audit_events WHERE action = 'auth.login' AND actor_name = 'staff1'`) != 1 {
		t.Fatal("the legitimate sign-in was not recorded")
	}
	// Every refusal is accounted for: rows one by one plus aggregate counts.
	for _, tc := range []struct {
		actions string
		want    int
	}{{`'webhook.received'`, n}, {`'auth.login_failed', 'auth.login_throttled'`, n}} {
		single := e.count(`SELECT count(*) FROM audit_events WHERE action IN (` + tc.actions + `) AND json_extract(details, '$.aggregate') IS NULL`)
		summed := e.count(`SELECT coalesce(sum(json_extract(details, '$.count')), 0) FROM audit_events WHERE action IN (` + tc.actions + `) AND json_extract(details, '$.aggregate')`)
		if single+summed != tc.want {
			t.Errorf("%s: %d rows + %d counted, want %d", tc.actions, single, summed, tc.want)
		}
	}
	if k := e.count(`SELECT count(*) FROM audit_events WHERE details LIKE '%' || ? || '%'`, marker) +
		e.count(`SELECT count(*) FROM webhook_events WHERE raw_body LIKE '%' || ? || '%'`, marker); k != 0 {
		t.Fatalf("a refused body or guessed password was stored (%d rows)", k)
	}
	st, err := e.audit.Verify(context.Background(), audit.Anchor{})
	if err != nil || !st.OK {
		t.Fatalf("chain after the flood: %+v %v", st, err)
	}
}
