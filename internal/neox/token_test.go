package neox

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"
)

func gcOK(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"code": 1, "state": 2, "message": "Successful", "neoResponseId": "nr-1",
		"data": map[string]any{"collectionOrderId": "CO-1", "refundRequestId": "RF-1", "status": "PROCESSING"}})
}

func gcRequest(id string) GCRefundRequest {
	return GCRefundRequest{RequestID: id, CollectionOrderID: "CO-1", FeeChargeWay: "OUR"}
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	f := newFakeOpenAPI(t, gcOK)
	clock := clock.NewFake(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	g := NewGC(f.config(), nil)
	g.api.tokens.now = clock.Now
	ctx := context.Background()
	call := func() {
		t.Helper()
		if _, err := g.Refund(ctx, "vi", gcRequest("r")); err != nil {
			t.Fatal(err)
		}
	}
	call()
	call()
	if n := f.tokens(); n != 1 {
		t.Fatalf("token fetches = %d, want 1 (cached)", n)
	}
	clock.Advance(3600*time.Second - 31*time.Second)
	call()
	if n := f.tokens(); n != 1 {
		t.Fatalf("token fetches = %d, want 1 (31s before expiry)", n)
	}
	clock.Advance(2 * time.Second) // now inside the 30s margin
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Refund(ctx, "vi", gcRequest("r")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := f.tokens(); n != 2 {
		t.Fatalf("token fetches after expiry = %d, want exactly 2", n)
	}
	_, hdrs := f.requests()
	if got := hdrs[len(hdrs)-1].Get("Authorization"); got != "Bearer tok2" {
		t.Fatalf("Authorization = %q, want the refreshed token", got)
	}
}

func TestTokenFlatShapeAndScope(t *testing.T) {
	var gotScope string
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tokenPath, func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		_ = json.NewDecoder(r.Body).Decode(&req)
		gotScope = req["scope"]
		if req["grant_type"] != "client_credentials" || req["client_id"] != "cid" || req["client_secret"] != "csecret" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "bad"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "flat", "token_type": "bearer", "expires_in": "600"})
	})
	mux.HandleFunc("GET /v2/col/refund-requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer flat" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 2, "message": "INVALID_TOKEN"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": 1, "data": map[string]any{"requestId": r.PathValue("id"), "amount": "100"}})
	})
	srv := newServer(t, mux)
	c := NewCOL(OpenAPIConfig{BaseURL: srv, ClientID: "cid", ClientSecret: "csecret", Scope: "collection"}, nil)
	got, err := c.GetRefund(context.Background(), "vi", "abc")
	if err != nil || got.RequestID != "abc" || got.Amount != 100 {
		t.Fatalf("GetRefund = %+v, %v", got, err)
	}
	if gotScope != "collection" {
		t.Fatalf("scope = %q", gotScope)
	}
}

func TestTokenRefusedIsUnknownAndSendsNothing(t *testing.T) {
	f := newFakeOpenAPI(t, gcOK)
	cfg := f.config()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+tokenPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"code": 2, "message": "INVALID_CLIENT"})
	})
	cfg.BaseURL = newServer(t, mux)
	_, err := NewGC(cfg, nil).Refund(context.Background(), "vi", gcRequest("r"))
	if !IsUnknown(err) {
		t.Fatalf("err = %v, want unknown", err)
	}
}

// TestRefreshOnInvalidToken: a refused token is replaced once and the call
// retried once with the byte-identical body (same requestId).
func TestRefreshOnInvalidToken(t *testing.T) {
	tests := []struct {
		name    string
		refuse  func(w http.ResponseWriter)
		refuses int // how many calls are refused
		wantOK  bool
		calls   int
		tokens  int
	}{
		{"HTTP 401", func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }, 1, true, 2, 2},
		{"INVALID_TOKEN in 200", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusOK, map[string]any{"code": 2, "message": "INVALID_TOKEN"})
		}, 1, true, 2, 2},
		{"code 422", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusOK, map[string]any{"code": 422, "message": "Unauthorized"})
		}, 1, true, 2, 2},
		{"refused twice: no third try", func(w http.ResponseWriter) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 2, "message": "INVALID_TOKEN"})
		}, 5, false, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				refuse := n <= tt.refuses
				mu.Unlock()
				if refuse {
					tt.refuse(w)
					return
				}
				gcOK(w, r)
			})
			_, err := NewGC(f.config(), nil).Refund(context.Background(), "vi", gcRequest("same-id-1"))
			if (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, wantOK %v", err, tt.wantOK)
			}
			bodies, hdrs := f.requests()
			if len(bodies) != tt.calls || f.tokens() != tt.tokens {
				t.Fatalf("calls = %d tokens = %d, want %d and %d", len(bodies), f.tokens(), tt.calls, tt.tokens)
			}
			if bodies[0] != bodies[1] {
				t.Fatalf("retry body differs:\n%s\n%s", bodies[0], bodies[1])
			}
			if hdrs[0].Get("Authorization") == hdrs[1].Get("Authorization") {
				t.Fatal("retry did not use a new token")
			}
		})
	}
}

func TestAcceptLanguage(t *testing.T) {
	f := newFakeOpenAPI(t, gcOK)
	g := NewGC(f.config(), nil)
	for _, lang := range []string{"en", "vi", "fr", ""} {
		if _, err := g.Refund(context.Background(), lang, gcRequest("r")); err != nil {
			t.Fatal(err)
		}
	}
	_, hdrs := f.requests()
	want := []string{"en", "vi", "vi", "vi"}
	for i, h := range hdrs {
		if got := h.Get("Accept-Language"); got != want[i] {
			t.Errorf("call %d Accept-Language = %q, want %q", i, got, want[i])
		}
		if h.Get("Content-Type") != "application/json" {
			t.Errorf("call %d Content-Type = %q", i, h.Get("Content-Type"))
		}
	}
}
