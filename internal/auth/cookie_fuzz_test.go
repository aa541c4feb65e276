package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// FuzzSessionCookie sends arbitrary session cookie values: none may panic,
// and none may be taken for a session (only signed, stored tokens are).
func FuzzSessionCookie(f *testing.F) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	svc := NewService(db, nopRecorder{}, Options{Argon: Params{Memory: 64, Time: 1, Threads: 1}})
	keys, err := LoadOrCreateKeys(ctx, db, "")
	if err != nil {
		f.Fatal(err)
	}
	st := svc.UseSessionKeys(keys, CookieOptions{})
	name := st.CookieName()
	for _, s := range []string{"", "x", "MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQUJQLUNBQUE9fA==", "a|b|c", "%00", "\"quoted\"",
		"MTcwMDAwMDAwMHx8", "||||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", name+"="+value)
		if u, _, err := svc.CurrentUser(r); err == nil {
			t.Fatalf("cookie %q gave a session for user %d", value, u.ID)
		}
		if _, ok := st.readToken(r, name); ok {
			t.Fatalf("cookie %q verified without our keys' signature", value)
		}
	})
}

// FuzzSessionValues decodes arbitrary stored session data without panicking.
func FuzzSessionValues(f *testing.F) {
	b, _ := encodeValues(map[any]any{"flash": "saved", "n": 1})
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x02garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeValues(data)
		if err == nil && v == nil {
			t.Fatal("nil map without an error")
		}
	})
}
