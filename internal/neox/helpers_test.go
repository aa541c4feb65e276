package neox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeOpenAPI is a hand-written GC/COL server: a token endpoint counting
// fetches plus a per-test handler for everything else.
type fakeOpenAPI struct {
	srv *httptest.Server

	mu          sync.Mutex
	tokenCalls  int
	tokenPrefix string
	bodies      []string // bodies of non-token requests, in arrival order
	headers     []http.Header
}

func newFakeOpenAPI(t *testing.T, handler http.HandlerFunc) *fakeOpenAPI {
	t.Helper()
	f := &fakeOpenAPI{tokenPrefix: "tok"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			f.mu.Lock()
			f.tokenCalls++
			n := f.tokenCalls
			f.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"code": 1, "state": 2, "message": "Successful",
				"data": map[string]any{"access_token": f.tokenPrefix + string(rune('0'+n)), "token_type": "bearer", "expires_in": 3600}})
			return
		}
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(b))
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAPI) tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls
}

func (f *fakeOpenAPI) requests() ([]string, []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...), append([]http.Header(nil), f.headers...)
}

func (f *fakeOpenAPI) config() OpenAPIConfig {
	return OpenAPIConfig{BaseURL: f.srv.URL, ClientID: "cid", ClientSecret: "csecret", Scope: GCScope, Timeout: 2 * time.Second}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// hijackClose reads nothing more, then cuts the connection without answering.
func hijackClose(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}
