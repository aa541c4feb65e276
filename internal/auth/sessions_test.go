package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

func testKeys() [][]byte {
	return [][]byte{securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32)}
}

// sessionEnv is a test env with a configured session store.
func sessionEnv(t *testing.T, cookie CookieOptions) (*testEnv, *SessionStore) {
	t.Helper()
	env := newEnv(t)
	return env, env.svc.SessionStore(testKeys(), cookie)
}

// sessionCookie returns the last session cookie set on rec.
func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "rd_session" {
			found = c
		}
	}
	if found == nil {
		t.Fatalf("no session cookie in %q", rec.Header().Values("Set-Cookie"))
	}
	return found
}

// request builds a request carrying cookie c (if any).
func request(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// login starts a session for u on a request carrying prior (may be nil)
// and returns the response recorder and the new cookie.
func login(t *testing.T, env *testEnv, u User, prior *http.Cookie) (*httptest.ResponseRecorder, *http.Cookie) {
	t.Helper()
	rec := httptest.NewRecorder()
	r := request(prior)
	if err := env.svc.StartSession(r.Context(), rec, r, u); err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	return rec, sessionCookie(t, rec)
}

// mustCurrent asserts that c is a live session of u.
func mustCurrent(t *testing.T, env *testEnv, c *http.Cookie, u User) Session {
	t.Helper()
	got, sess, err := env.svc.CurrentUser(request(c))
	if err != nil {
		t.Fatalf("CurrentUser: %v", err)
	}
	if got.ID != u.ID || sess.UserID != u.ID {
		t.Fatalf("CurrentUser = user %d (session user %d), want %d", got.ID, sess.UserID, u.ID)
	}
	return sess
}

// mustNoSession asserts that c no longer gives a session.
func mustNoSession(t *testing.T, env *testEnv, c *http.Cookie) {
	t.Helper()
	if u, _, err := env.svc.CurrentUser(request(c)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("CurrentUser = %+v, %v; want ErrNoSession", u, err)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			env, st := sessionEnv(t, CookieOptions{Secure: secure})
			u := env.mustCreate(t, "sam", RoleStaff)
			check := func(what, header string, wantDelete bool) {
				t.Helper()
				attrs := map[string]bool{}
				for _, a := range strings.Split(header, ";") {
					attrs[strings.TrimSpace(a)] = true
				}
				if !attrs["HttpOnly"] || !attrs["SameSite=Lax"] || !attrs["Path=/"] || attrs["Secure"] != secure {
					t.Errorf("%s Set-Cookie %q: want HttpOnly, SameSite=Lax, Path=/, Secure=%v", what, header, secure)
				}
				if got := attrs["Max-Age=0"]; got != wantDelete {
					t.Errorf("%s Set-Cookie %q: Max-Age=0 present = %v, want %v", what, header, got, wantDelete)
				}
			}
			rec, c := login(t, env, u, nil)
			check("login", rec.Header().Get("Set-Cookie"), false)

			// A handler that tries to weaken the flags through the gorilla
			// API does not get its way.
			r, w := request(c), httptest.NewRecorder()
			gs, err := st.Get(r, "rd_session")
			if err != nil {
				t.Fatal(err)
			}
			gs.Options.HttpOnly, gs.Options.SameSite = false, http.SameSiteNoneMode
			gs.Values["k"] = "v"
			if err := sessions.Save(r, w); err != nil {
				t.Fatal(err)
			}
			check("gorilla save", w.Header().Get("Set-Cookie"), false)

			w = httptest.NewRecorder()
			if err := env.svc.EndSession(context.Background(), w, request(c)); err != nil {
				t.Fatal(err)
			}
			check("logout", w.Header().Get("Set-Cookie"), true)
		})
	}
}

func TestSessionCookieHoldsOnlyAToken(t *testing.T) {
	env := newEnv(t)
	keys := testKeys()
	env.svc.SessionStore(keys, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)

	var token []byte
	codecs := securecookie.CodecsFromPairs(keys...)
	for _, codec := range codecs {
		codec.(*securecookie.SecureCookie).SetSerializer(securecookie.NopEncoder{})
	}
	if err := securecookie.DecodeMulti("rd_session", c.Value, &token, codecs...); err != nil {
		t.Fatalf("decode cookie: %v", err)
	}
	if len(token) != 32 {
		t.Fatalf("cookie payload is %d bytes, want just the 32-byte token", len(token))
	}
	sum := sha256.Sum256(token)
	var id, data, ip, ua string
	if err := env.db.Read.QueryRow(`SELECT id, coalesce(data, ''), client_ip, user_agent FROM sessions`).Scan(&id, &data, &ip, &ua); err != nil {
		t.Fatal(err)
	}
	if id != hex.EncodeToString(sum[:]) {
		t.Fatalf("sessions.id = %s, want SHA-256 of the token", id)
	}
	for _, form := range []string{hex.EncodeToString(token), encodeToken(token), c.Value} {
		for _, col := range []string{id, data, ip, ua} {
			if strings.Contains(col, form) {
				t.Fatal("the raw token is stored in the database")
			}
		}
	}
	// Without the keys, the cookie decodes to nothing.
	other := securecookie.CodecsFromPairs(testKeys()...)
	if err := securecookie.DecodeMulti("rd_session", c.Value, &token, other...); err == nil {
		t.Fatal("cookie decodes with other keys")
	}
}

// Login always issues a new id and deletes the pre-login session, so a
// planted cookie is useless afterwards.
func TestStartSessionPreventsFixation(t *testing.T) {
	env, st := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)

	// An anonymous pre-login session, as an attacker could plant.
	r, w := request(nil), httptest.NewRecorder()
	gs, _ := st.Get(r, "rd_session")
	gs.Values["next"] = "/evil"
	if err := sessions.Save(r, w); err != nil {
		t.Fatal(err)
	}
	pre := sessionCookie(t, w)

	// The login handler loaded the pre-login session, signs in, then saves
	// a flash through gorilla: the saved cookie must be the new session.
	r, w = request(pre), httptest.NewRecorder()
	gs, err := st.Get(r, "rd_session")
	if err != nil || gs.IsNew {
		t.Fatalf("pre-login session not loaded: new=%v err=%v", gs.IsNew, err)
	}
	if err := env.svc.StartSession(r.Context(), w, r, u); err != nil {
		t.Fatal(err)
	}
	gs.AddFlash("welcome")
	if err := sessions.Save(r, w); err != nil {
		t.Fatal(err)
	}
	post := sessionCookie(t, w)
	if post.Value == pre.Value {
		t.Fatal("login kept the pre-login cookie")
	}
	mustNoSession(t, env, pre)
	sess := mustCurrent(t, env, post, u)
	if _, ok := sess.Values["next"]; ok {
		t.Fatal("pre-login values carried into the signed-in session")
	}
	if f, ok := sess.Values["_flash"].([]any); !ok || len(f) != 1 || f[0] != "welcome" {
		t.Fatalf("flash saved after login = %#v", sess.Values["_flash"])
	}
	if n := env.countRows(t, `SELECT count(*) FROM sessions`); n != 1 {
		t.Fatalf("%d session rows, want 1 (pre-login row deleted)", n)
	}

	// Logging in again from a signed-in browser also rotates the id.
	_, again := login(t, env, u, post)
	mustNoSession(t, env, post)
	mustCurrent(t, env, again, u)
}

func TestSessionIdleTimeout(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	for range 3 {
		env.clock.Advance(29 * time.Minute)
		mustCurrent(t, env, c, u) // activity keeps it alive
	}
	env.clock.Advance(30 * time.Minute)
	mustNoSession(t, env, c)
	if n := env.countRows(t, `SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("expired session row kept (%d rows)", n)
	}
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
		env.clock.Advance(20 * time.Minute)
		mustCurrent(t, env, c, u)
	}
	env.clock.Advance(20 * time.Minute) // 12h after login, though active
	mustNoSession(t, env, c)
}

func TestSessionTouchesAtMostOncePerMinute(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	start := env.clock.Now()
	env.clock.Advance(30 * time.Second)
	if s := mustCurrent(t, env, c, u); !s.LastSeenAt.Equal(start) {
		t.Fatalf("last_seen_at rewritten after 30s: %v", s.LastSeenAt)
	}
	env.clock.Advance(31 * time.Second)
	if s := mustCurrent(t, env, c, u); !s.LastSeenAt.Equal(env.clock.Now()) {
		t.Fatalf("last_seen_at = %v after 61s, want %v", s.LastSeenAt, env.clock.Now())
	}
}

func TestEndSession(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	_, other := login(t, env, u, nil) // another browser
	stolen := *c

	w := httptest.NewRecorder()
	if err := env.svc.EndSession(context.Background(), w, request(c)); err != nil {
		t.Fatal(err)
	}
	if got := sessionCookie(t, w); got.MaxAge >= 0 || got.Value != "" {
		t.Fatalf("logout cookie %+v does not expire the session cookie", got)
	}
	mustNoSession(t, env, &stolen) // a copied cookie stops working too
	mustCurrent(t, env, other, u)
	ev := env.wantLastEvent(t, audit.ActionLogout, audit.OutcomeSuccess)
	if ev.ActorID != u.ID || ev.TargetType != "session" {
		t.Fatalf("logout event %+v", ev)
	}

	// Logging out without a session only clears the cookie.
	before := len(env.events(t))
	if err := env.svc.EndSession(context.Background(), httptest.NewRecorder(), request(nil)); err != nil {
		t.Fatal(err)
	}
	if len(env.events(t)) != before {
		t.Fatal("logout without a session was audited")
	}
}

func TestEndAllSessions(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	ctx := context.Background()
	sam := env.mustCreate(t, "sam", RoleStaff)
	bob := env.mustCreate(t, "bob", RoleStaff)
	_, s1 := login(t, env, sam, nil)
	_, s2 := login(t, env, sam, nil)
	_, b1 := login(t, env, bob, nil)
	if list, err := env.svc.ListSessions(ctx, sam.ID); err != nil || len(list) != 2 {
		t.Fatalf("ListSessions = %d, %v", len(list), err)
	}
	n, err := env.svc.EndAllSessions(ctx, sam.ID)
	if err != nil || n != 2 {
		t.Fatalf("EndAllSessions = %d, %v; want 2", n, err)
	}
	mustNoSession(t, env, s1)
	mustNoSession(t, env, s2)
	mustCurrent(t, env, b1, bob)
	ev := env.wantLastEvent(t, audit.ActionSessionRevoked, audit.OutcomeSuccess)
	if ev.TargetID != userTarget(sam.ID) || ev.Details["count"] != float64(2) {
		t.Fatalf("revoke event %+v", ev)
	}
	if _, err := env.svc.EndAllSessions(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// Account changes that must sign the user out everywhere.
func TestSessionsEndOnAccountChanges(t *testing.T) {
	const next = "a brand new passphrase"
	tests := []struct {
		name   string
		change func(env *testEnv, u User) error
	}{
		{"disabled", func(env *testEnv, u User) error { return env.svc.SetDisabled(context.Background(), u.ID, true) }},
		{"password reset", func(env *testEnv, u User) error {
			return env.svc.ResetPassword(context.Background(), u.ID, next, true)
		}},
		{"password changed", func(env *testEnv, u User) error {
			return env.svc.ChangePassword(context.Background(), u.ID, goodPassword, next)
		}},
		{"disabled behind our back", func(env *testEnv, u User) error {
			_, err := env.db.Write.Exec(`UPDATE users SET disabled = 1 WHERE id = ?`, u.ID)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := sessionEnv(t, CookieOptions{})
			env.mustCreate(t, "root", RoleAdmin)
			u := env.mustCreate(t, "sam", RoleStaff)
			_, c1 := login(t, env, u, nil)
			_, c2 := login(t, env, u, nil)
			if err := tt.change(env, u); err != nil {
				t.Fatal(err)
			}
			mustNoSession(t, env, c1)
			mustNoSession(t, env, c2)
			if n := env.countRows(t, `SELECT count(*) FROM sessions WHERE user_id = ?`, u.ID); n != 0 {
				t.Fatalf("%d session rows left", n)
			}
		})
	}
}

func TestStartSessionRefusesDisabledUser(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	env.mustCreate(t, "root", RoleAdmin)
	u := env.mustCreate(t, "sam", RoleStaff)
	env.svc.SetDisabled(context.Background(), u.ID, true)
	r := request(nil)
	if err := env.svc.StartSession(r.Context(), httptest.NewRecorder(), r, u); !errors.Is(err, ErrDisabled) {
		t.Fatalf("StartSession for a disabled user: %v", err)
	}
}

func TestGorillaStoreAnonymousSession(t *testing.T) {
	env, st := sessionEnv(t, CookieOptions{})

	// Nothing to keep: no row, no cookie.
	r, w := request(nil), httptest.NewRecorder()
	gs, err := st.Get(r, "rd_session")
	if err != nil || !gs.IsNew {
		t.Fatalf("Get without cookie = new %v, %v", gs.IsNew, err)
	}
	if err := sessions.Save(r, w); err != nil {
		t.Fatal(err)
	}
	if len(w.Result().Cookies()) != 0 || env.countRows(t, `SELECT count(*) FROM sessions`) != 0 {
		t.Fatal("an empty new session was stored")
	}

	gs.AddFlash("saved")
	w = httptest.NewRecorder()
	if err := sessions.Save(r, w); err != nil {
		t.Fatal(err)
	}
	c := sessionCookie(t, w)
	if n := env.countRows(t, `SELECT count(*) FROM sessions WHERE user_id IS NULL`); n != 1 {
		t.Fatalf("%d anonymous rows, want 1", n)
	}
	mustNoSession(t, env, c) // anonymous is not signed in

	r = request(c)
	gs, err = st.New(r, "rd_session")
	if err != nil || gs.IsNew {
		t.Fatalf("reload: new %v, %v", gs.IsNew, err)
	}
	if f := gs.Flashes(); len(f) != 1 || f[0] != "saved" {
		t.Fatalf("flashes = %v", f)
	}

	gs.Options.MaxAge = -1
	w = httptest.NewRecorder()
	if err := st.Save(r, w, gs); err != nil {
		t.Fatal(err)
	}
	if got := sessionCookie(t, w); got.MaxAge >= 0 {
		t.Fatalf("cookie not expired: %+v", got)
	}
	if n := env.countRows(t, `SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("MaxAge<0 kept %d rows", n)
	}
}

// A revoked session saved later does not come back to life.
func TestGorillaSaveDoesNotResurrectRevokedSession(t *testing.T) {
	env, st := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	r := request(c)
	gs, err := st.Get(r, "rd_session")
	if err != nil || gs.IsNew {
		t.Fatal("signed-in session not loaded", err)
	}
	if _, err := env.svc.EndAllSessions(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	gs.Values["x"] = "y"
	w := httptest.NewRecorder()
	if err := sessions.Save(r, w); err != nil {
		t.Fatal(err)
	}
	mustNoSession(t, env, c)
	mustNoSession(t, env, sessionCookie(t, w))
	if n := env.countRows(t, `SELECT count(*) FROM sessions WHERE user_id IS NOT NULL`); n != 0 {
		t.Fatalf("revoked session resurrected (%d signed-in rows)", n)
	}
}

func TestTamperedOrForeignCookie(t *testing.T) {
	env, st := sessionEnv(t, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	b := []byte(c.Value)
	b[len(b)/2] ^= 1
	tampered := &http.Cookie{Name: c.Name, Value: string(b)}

	otherEnv := newEnv(t)
	otherEnv.svc.SessionStore(testKeys(), CookieOptions{})
	foreignUser := otherEnv.mustCreate(t, "sam", RoleStaff)
	_, foreign := login(t, otherEnv, foreignUser, nil)

	for name, bad := range map[string]*http.Cookie{"tampered": tampered, "other keys": foreign,
		"garbage": {Name: "rd_session", Value: "garbage"}} {
		t.Run(name, func(t *testing.T) {
			mustNoSession(t, env, bad)
			gs, err := st.New(request(bad), "rd_session")
			if err != nil || !gs.IsNew {
				t.Fatalf("New = new %v, %v; want a fresh session and no error", gs.IsNew, err)
			}
		})
	}
}

func TestUpdateValues(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	ctx := context.Background()
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	sess := mustCurrent(t, env, c, u)
	if _, err := env.svc.UpdateValues(ctx, sess.ID, map[string]any{"flash": "Refund approved", "n": 3}); err != nil {
		t.Fatal(err)
	}
	// Two requests on the one session, each changing its own key from the
	// values it loaded: neither loses the other's.
	if _, err := env.svc.UpdateValues(ctx, sess.ID, map[string]any{"a": "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.UpdateValues(ctx, sess.ID, map[string]any{"b": "2"}, "n"); err != nil {
		t.Fatal(err)
	}
	sess = mustCurrent(t, env, c, u)
	if sess.Values["flash"] != "Refund approved" || sess.Values["a"] != "1" || sess.Values["b"] != "2" || sess.Values["n"] != nil {
		t.Fatalf("values = %#v", sess.Values)
	}
	// A value taken twice is there for the first taker only.
	for i, want := range []any{"Refund approved", nil} {
		before, err := env.svc.UpdateValues(ctx, sess.ID, nil, "flash")
		if err != nil || before["flash"] != want {
			t.Errorf("take %d: %#v, %v; want %v", i+1, before["flash"], err, want)
		}
	}
	if _, err := env.svc.UpdateValues(ctx, "nope", nil); !errors.Is(err, ErrNoSession) {
		t.Fatalf("UpdateValues on a missing session: %v", err)
	}
}

func TestKeyRotationKeepsSessions(t *testing.T) {
	env := newEnv(t)
	old := testKeys()
	env.svc.SessionStore(old, CookieOptions{})
	u := env.mustCreate(t, "sam", RoleStaff)
	_, c := login(t, env, u, nil)
	env.svc.SessionStore(append(testKeys(), old...), CookieOptions{})
	mustCurrent(t, env, c, u)
	env.svc.SessionStore(testKeys(), CookieOptions{})
	mustNoSession(t, env, c)
}

func TestPruneSessions(t *testing.T) {
	env, _ := sessionEnv(t, CookieOptions{})
	ctx := context.Background()
	u := env.mustCreate(t, "sam", RoleStaff)
	login(t, env, u, nil)
	env.clock.Advance(20 * time.Minute)
	_, fresh := login(t, env, u, nil)
	env.clock.Advance(15 * time.Minute)
	n, err := env.svc.PruneSessions(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PruneSessions = %d, %v; want 1", n, err)
	}
	mustCurrent(t, env, fresh, u)
	if list, _ := env.svc.ListSessions(ctx, u.ID); len(list) != 1 {
		t.Fatalf("ListSessions = %d sessions, want 1", len(list))
	}
}

func TestSessionHelpersNeedAStore(t *testing.T) {
	env := newEnv(t)
	if _, _, err := env.svc.CurrentUser(request(nil)); err == nil || errors.Is(err, ErrNoSession) {
		t.Fatalf("CurrentUser without a store: %v", err)
	}
}
