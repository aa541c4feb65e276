package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// CookieOptions configure the session cookie. HttpOnly and SameSite=Lax
// are always set; the cookie has no Max-Age (it ends with the browser), the
// server enforces the idle and absolute timeouts.
type CookieOptions struct {
	Name   string // default "rd_session"
	Path   string // default "/"
	Domain string // default: host-only
	Secure bool   // set when BASE_URL is https
}

// SessionStore is a gorilla/sessions Store keeping sessions in SQLite. The
// cookie carries only a signed, encrypted random token; the sessions table
// keys rows by the token's SHA-256, so a copy of the database hands out no
// live sessions.
//
// Sessions made through the Store itself (Get, New, Save) are anonymous
// (user_id NULL), useful for flash messages before login; only StartSession
// binds a session to a user, always under a fresh token. Values are stored
// with encoding/gob: register custom types with gob.Register.
type SessionStore struct {
	svc    *Service
	codecs []securecookie.Codec
	cookie CookieOptions
}

var _ sessions.Store = (*SessionStore)(nil)

const (
	tokenLen     = 32
	maxDataBytes = 64 << 10
)

// DefaultCookieName is the session cookie's name unless CookieOptions.Name
// says otherwise.
const DefaultCookieName = "rd_session"

// UseSessionKeys is SessionStore under the name the wiring code uses.
func (s *Service) UseSessionKeys(keys [][]byte, cookie CookieOptions) *SessionStore {
	return s.SessionStore(keys, cookie)
}

// SessionStore builds the session store from key pairs as returned by
// LoadOrCreateKeys (hash key, block key, then older pairs for rotation) and
// makes it the one StartSession, CurrentUser and EndSession use. Call it once
// while wiring, before serving. It panics without a hash key.
func (s *Service) SessionStore(keys [][]byte, cookie CookieOptions) *SessionStore {
	if len(keys) == 0 || len(keys[0]) == 0 {
		panic("auth.SessionStore: a hash key is required")
	}
	if cookie.Name == "" {
		cookie.Name = DefaultCookieName
	}
	if cookie.Path == "" {
		cookie.Path = "/"
	}
	codecs := securecookie.CodecsFromPairs(keys...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			// The row decides expiry; this only bounds very old cookies.
			sc.MaxAge(int((s.absolute + time.Hour) / time.Second))
			sc.SetSerializer(securecookie.NopEncoder{})
		}
	}
	st := &SessionStore{svc: s, codecs: codecs, cookie: cookie}
	s.sessions.Store(st)
	s.devices.Store(newDeviceCookie(keys, cookie.Secure))
	s.setSealKeys(keys)
	s.pending.Store(newPendingCookie(keys, cookie.Secure))
	return st
}

// CookieName is the name of the session cookie.
func (st *SessionStore) CookieName() string { return st.cookie.Name }

// Options returns the cookie options every session gets.
func (st *SessionStore) Options() *sessions.Options {
	return &sessions.Options{
		Path: st.cookie.Path, Domain: st.cookie.Domain, Secure: st.cookie.Secure,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the request's session, cached in the gorilla registry.
func (st *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New loads the session named by the request's cookie, or returns a fresh
// one (IsNew) when there is none or it is invalid, expired or revoked.
// Unlike gorilla's CookieStore, an undecodable cookie (old keys, tampering)
// is not an error: it simply yields a fresh session. Errors are database
// failures only.
func (st *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(st, name)
	sess.Options = st.Options()
	sess.IsNew = true
	token, ok := st.readToken(r, name)
	if !ok {
		return sess, nil
	}
	row, err := st.svc.loadSession(r.Context(), token)
	if errors.Is(err, ErrNoSession) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	values, err := decodeValues(row.data)
	if err != nil {
		return sess, err
	}
	sess.ID = encodeToken(token)
	sess.Values = values
	sess.IsNew = false
	return sess, nil
}

// Save stores the session's values and writes its cookie. Options.MaxAge < 0
// deletes the row and expires the cookie (not audited: use EndSession to log
// out). A new session with no values is not stored at all. If the row has
// gone meanwhile (expired, revoked) the values go to a new anonymous session,
// never back into the revoked one.
func (st *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	opts := st.Options()
	if sess.Options != nil {
		opts.MaxAge = sess.Options.MaxAge
		opts.Secure = opts.Secure || sess.Options.Secure
	}
	if opts.MaxAge < 0 {
		if token, err := decodeToken(sess.ID); err == nil {
			if err := st.svc.deleteSession(ctx, hashToken(token)); err != nil {
				return err
			}
		}
		sess.ID = ""
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", opts))
		return nil
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	token, err := decodeToken(sess.ID)
	if err != nil && len(sess.Values) == 0 {
		return nil
	}
	updated := false
	if err == nil {
		updated, err = st.svc.updateSessionData(ctx, hashToken(token), data)
		if err != nil {
			return err
		}
	}
	if !updated {
		if token, err = newToken(); err != nil {
			return err
		}
		ip, ua := clientInfo(r)
		err = st.svc.tx(ctx, func(tx *store.Tx) error {
			return insertSession(ctx, tx, hashToken(token), 0, data, ip, ua)
		})
		if err != nil {
			return err
		}
		sess.ID = encodeToken(token)
	}
	return st.writeCookie(w, sess.Name(), token, opts)
}

func (st *SessionStore) writeCookie(w http.ResponseWriter, name string, token []byte, opts *sessions.Options) error {
	// securecookie encrypts the serialized value in place, and NopEncoder
	// hands it our slice: give it a copy.
	encoded, err := securecookie.EncodeMulti(name, bytes.Clone(token), st.codecs...)
	if err != nil {
		return fmt.Errorf("encode session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(name, encoded, opts))
	return nil
}

// readToken returns the verified token from the request's cookie.
func (st *SessionStore) readToken(r *http.Request, name string) ([]byte, bool) {
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return nil, false
	}
	var token []byte
	if err := securecookie.DecodeMulti(name, c.Value, &token, st.codecs...); err != nil || len(token) != tokenLen {
		return nil, false
	}
	return token, true
}

func newToken() ([]byte, error) {
	b := make([]byte, tokenLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("session token: %w", err)
	}
	return b, nil
}

// hashToken is the sessions.id of a token.
func hashToken(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])
}

// The gorilla Session.ID holds the token (base64url) so Save can re-sign it;
// it never leaves the process except inside the signed cookie.
func encodeToken(token []byte) string { return base64.RawURLEncoding.EncodeToString(token) }

func decodeToken(id string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != tokenLen {
		return nil, errors.New("no session token")
	}
	return b, nil
}

func encodeValues(values map[any]any) ([]byte, error) {
	if len(values) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(values); err != nil {
		return nil, fmt.Errorf("encode session values: %w", err)
	}
	if buf.Len() > maxDataBytes {
		return nil, fmt.Errorf("session values too large (%d bytes)", buf.Len())
	}
	return buf.Bytes(), nil
}

func decodeValues(data []byte) (map[any]any, error) {
	values := map[any]any{}
	if len(data) == 0 {
		return values, nil
	}
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&values); err != nil {
		return nil, fmt.Errorf("decode session values: %w", err)
	}
	return values, nil
}

// sessionRow is a sessions row that passed the validity checks.
type sessionRow struct {
	id         string
	userID     int64 // 0 for an anonymous session
	data       []byte
	createdAt  time.Time
	lastSeenAt time.Time
	clientIP   string
	userAgent  string
}

// loadSession returns the row for token, or ErrNoSession when there is none
// or it is past its idle or absolute timeout or its user is disabled; an
// invalid row is deleted.
func (s *Service) loadSession(ctx context.Context, token []byte) (sessionRow, error) {
	rec, err := s.db.Session(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return sessionRow{}, ErrNoSession
	}
	if err != nil {
		return sessionRow{}, err
	}
	row := sessionRow{id: rec.ID, userID: rec.UserID, data: rec.Data, createdAt: rec.CreatedAt,
		lastSeenAt: rec.LastSeenAt, clientIP: rec.ClientIP, userAgent: rec.UserAgent}
	now := s.nowUTC()
	if now.Sub(row.createdAt) >= s.absolute || now.Sub(row.lastSeenAt) >= s.idle || rec.OwnerUnusable {
		if err := s.deleteSession(ctx, row.id); err != nil {
			return sessionRow{}, err
		}
		return sessionRow{}, ErrNoSession
	}
	return row, nil
}

func (s *Service) deleteSession(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, id) })
}

func (s *Service) updateSessionData(ctx context.Context, id string, data []byte) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(tx *store.Tx) error {
		var err error
		ok, err = tx.SetSessionData(ctx, id, data)
		return err
	})
	return ok, err
}

// insertSession stores a new session (userID 0: anonymous) created now,
// the client's address and user agent clipped to what is worth keeping.
func insertSession(ctx context.Context, tx *store.Tx, id string, userID int64, data []byte, ip, ua string) error {
	return tx.InsertSession(ctx, store.SessionRecord{ID: id, UserID: userID, Data: data,
		ClientIP: clip(ip, 64), UserAgent: clip(ua, 512)})
}
