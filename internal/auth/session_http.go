package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Session is a signed-in (or anonymous) server-side session.
type Session struct {
	ID         string // SHA-256 hex of the cookie's token, never the token
	UserID     int64  // 0 for an anonymous session
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientIP   string
	UserAgent  string
	Values     map[string]any // string-keyed session values (flash messages etc.)
}

// errNoStore is a wiring mistake: SessionStore was never called.
var errNoStore = errors.New("auth: session store not configured (call Service.SessionStore)")

// touchEvery bounds how often a request rewrites last_seen_at.
func (s *Service) touchEvery() time.Duration { return min(time.Minute, s.idle/4) }

func (s *Service) activeStore() (*SessionStore, error) {
	st := s.sessions.Load()
	if st == nil {
		return nil, errNoStore
	}
	return st, nil
}

// StartSession signs u in on this browser: it always creates a new session
// under a fresh token (so a token planted before login is useless), deletes
// the request's previous session row if any, and sets the cookie. Values of
// the previous session are not carried over. Errors: ErrNotFound,
// ErrDisabled. Not audited itself: Authenticate records the login.
func (s *Service) StartSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u User) error {
	return s.StartSessionWith(ctx, w, r, u, nil)
}

// StartSessionWith is StartSession with the new session's first values
// (what a form kept across an expired session, say).
func (s *Service) StartSessionWith(ctx context.Context, w http.ResponseWriter, r *http.Request, u User, values map[string]any) error {
	m := make(map[any]any, len(values))
	for k, v := range values {
		m[k] = v
	}
	data, err := encodeValues(m)
	if err != nil {
		return err
	}
	st, err := s.activeStore()
	if err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	old, hasOld := st.readToken(r, st.cookie.Name)
	ip, ua := clientInfo(r.WithContext(ctx))
	err = s.tx(ctx, func(tx *store.Tx) error {
		cur, err := userTx(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if cur.Disabled {
			return ErrDisabled
		}
		if hasOld {
			if err := tx.DeleteSession(ctx, hashToken(old)); err != nil {
				return err
			}
		}
		return insertSession(ctx, tx, hashToken(token), u.ID, data, ip, ua)
	})
	if err != nil {
		return err
	}
	if err := st.writeCookie(w, st.cookie.Name, token, st.Options()); err != nil {
		return err
	}
	// A gorilla session already loaded for this request must not later
	// save the old token back over the new cookie.
	if gs, err := sessions.GetRegistry(r).Get(st, st.cookie.Name); err == nil {
		gs.ID, gs.Values, gs.IsNew, gs.Options = encodeToken(token), map[any]any{}, false, st.Options()
	}
	return nil
}

// CurrentUser returns the signed-in user and session of the request. It
// re-checks the row on every call (idle and absolute timeouts, revocation,
// disabled user) and refreshes last_seen_at at most about once a minute.
// Errors: ErrNoSession when there is no valid signed-in session; anything
// else is internal.
func (s *Service) CurrentUser(r *http.Request) (User, Session, error) {
	st, err := s.activeStore()
	if err != nil {
		return User{}, Session{}, err
	}
	ctx := r.Context()
	token, ok := st.readToken(r, st.cookie.Name)
	if !ok {
		return User{}, Session{}, ErrNoSession
	}
	row, err := s.loadSession(ctx, token)
	if err != nil {
		return User{}, Session{}, err
	}
	if row.userID == 0 {
		return User{}, Session{}, ErrNoSession
	}
	u, err := s.User(ctx, row.userID)
	if errors.Is(err, ErrNotFound) || (err == nil && u.Disabled) {
		return User{}, Session{}, ErrNoSession
	}
	if err != nil {
		return User{}, Session{}, err
	}
	if now := s.nowUTC(); !IsBackground(r) && now.Sub(row.lastSeenAt) >= s.touchEvery() {
		err := s.db.TxAt(ctx, now, func(tx *store.Tx) error { return tx.TouchSession(ctx, row.id) })
		if err != nil {
			return User{}, Session{}, err
		}
		row.lastSeenAt = now
	}
	sess, err := row.session()
	return u, sess, err
}

// BackgroundHeader marks a request a page makes on its own, such as the
// refund page's status poll: it is served, but it is not activity, so a
// forgotten tab still signs out after the idle timeout.
const BackgroundHeader = "X-Background"

// IsBackground reports whether r says it was made by the page, not by the
// person (see BackgroundHeader).
func IsBackground(r *http.Request) bool { return r.Header.Get(BackgroundHeader) == "true" }

// IdleLeft is how long sess stays signed in without further activity: to
// the idle timeout, or to the absolute one when that comes first.
func (s *Service) IdleLeft(sess Session) time.Duration {
	end := sess.LastSeenAt.Add(s.idle)
	if abs := sess.CreatedAt.Add(s.absolute); abs.Before(end) {
		end = abs
	}
	return max(end.Sub(s.nowUTC()), 0)
}

func (row sessionRow) session() (Session, error) {
	values, err := decodeValues(row.data)
	if err != nil {
		return Session{}, err
	}
	sv := make(map[string]any, len(values))
	for k, v := range values {
		if ks, ok := k.(string); ok {
			sv[ks] = v
		}
	}
	return Session{ID: row.id, UserID: row.userID, CreatedAt: row.createdAt, LastSeenAt: row.lastSeenAt,
		ClientIP: row.clientIP, UserAgent: row.userAgent, Values: sv}, nil
}

// UpdateValues changes the values of session sessID: set's keys are set
// and del's removed, on the values as stored, read and written in one
// transaction (the row locked on PostgreSQL), so what another request on
// the same session changed meanwhile is kept. It returns the values as
// they were before, so that a value can be taken once: of two requests
// taking it, the second finds it gone. Errors: ErrNoSession.
func (s *Service) UpdateValues(ctx context.Context, sessID string, set map[string]any, del ...string) (map[string]any, error) {
	before := map[string]any{}
	err := s.tx(ctx, func(tx *store.Tx) error {
		data, err := tx.SessionDataForUpdate(ctx, sessID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		values, err := decodeValues(data)
		if err != nil {
			return err
		}
		clear(before)
		for k, v := range values {
			if k, ok := k.(string); ok {
				before[k] = v
			}
		}
		for k, v := range set {
			values[k] = v
		}
		for _, k := range del {
			delete(values, k)
		}
		if data, err = encodeValues(values); err != nil {
			return err
		}
		_, err = tx.SetSessionData(ctx, sessID, data)
		return err
	})
	if err != nil {
		return nil, err
	}
	return before, nil
}

// EndSession logs the request's session out: it deletes the row (so a copy
// of the cookie stops working) and expires the cookie. Without a session it
// only expires the cookie. Audited as auth.logout when a signed-in session
// ended.
func (s *Service) EndSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	st, err := s.activeStore()
	if err != nil {
		return err
	}
	if token, ok := st.readToken(r, st.cookie.Name); ok {
		id := hashToken(token)
		err := s.tx(ctx, func(tx *store.Tx) error {
			owner, err := tx.SessionOwner(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			removed, err := tx.RemoveSession(ctx, id)
			if err != nil {
				return err
			}
			if !removed || owner.UserID == 0 {
				return nil // a concurrent sign-out of this session recorded it
			}
			return s.rec.Record(ctx, tx, audit.Event{
				ActorID: owner.UserID, ActorName: owner.Username, ActorRole: owner.Role,
				Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess,
				TargetType: "session", TargetID: id[:16],
			})
		})
		if err != nil {
			return err
		}
	}
	opts := st.Options()
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(st.cookie.Name, "", opts))
	if gs, err := sessions.GetRegistry(r).Get(st, st.cookie.Name); err == nil {
		gs.ID, gs.Values, gs.Options = "", map[any]any{}, opts
	}
	return nil
}

// EndAllSessions signs a user out everywhere and returns how many sessions
// ended. Errors: ErrNotFound. Audited as auth.sessions_revoked.
func (s *Service) EndAllSessions(ctx context.Context, userID int64) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		if n, err = tx.DeleteSessionsOf(ctx, u.ID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionSessionRevoked, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "count": n},
		})
	})
	return int(n), err
}

// ListSessions returns a user's live sessions, newest first (values omitted).
func (s *Service) ListSessions(ctx context.Context, userID int64) ([]Session, error) {
	now := s.nowUTC()
	recs, err := s.db.SessionsOf(ctx, userID, now.Add(-s.absolute), now.Add(-s.idle))
	if err != nil {
		return nil, err
	}
	var out []Session
	for _, r := range recs {
		out = append(out, Session{ID: r.ID, UserID: userID, CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt,
			ClientIP: r.ClientIP, UserAgent: r.UserAgent})
	}
	return out, nil
}

// PruneSessions deletes sessions past their idle or absolute timeout and
// returns how many; run it now and then (expired rows are also refused and
// deleted when presented).
func (s *Service) PruneSessions(ctx context.Context) (int, error) {
	now := s.nowUTC()
	var n int64
	err := s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		var err error
		n, err = tx.PruneSessions(ctx, now.Add(-s.absolute), now.Add(-s.idle))
		return err
	})
	return int(n), err
}

// clientInfo is the client address and user agent of r: from the audit
// origin in its context when the handlers set one (they know about
// proxies), else from the connection.
func clientInfo(r *http.Request) (ip, ua string) {
	if o, ok := audit.OriginFrom(r.Context()); ok {
		ip, ua = o.ClientIP, o.UserAgent
	}
	if ip == "" {
		ip = r.RemoteAddr
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	if ua == "" {
		ua = r.UserAgent()
	}
	return ip, ua
}
