package auth

import (
	"context"
	"database/sql"
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
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		cur, err := userTx(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if cur.Disabled {
			return ErrDisabled
		}
		if hasOld {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, hashToken(old)); err != nil {
				return err
			}
		}
		return s.insertSession(ctx, tx, hashToken(token), sql.NullInt64{Int64: u.ID, Valid: true}, nil, ip, ua)
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
	if now := s.nowUTC(); now.Sub(row.lastSeenAt) >= s.touchEvery() {
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, store.FormatTime(now), row.id)
			return err
		})
		if err != nil {
			return User{}, Session{}, err
		}
		row.lastSeenAt = now
	}
	sess, err := row.session()
	return u, sess, err
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

// SaveValues replaces the values of session sessID (a Session.ID). Errors:
// ErrNoSession when the row is gone.
func (s *Service) SaveValues(ctx context.Context, sessID string, values map[string]any) error {
	m := make(map[any]any, len(values))
	for k, v := range values {
		m[k] = v
	}
	data, err := encodeValues(m)
	if err != nil {
		return err
	}
	ok, err := s.updateSessionData(ctx, sessID, data)
	if err == nil && !ok {
		err = ErrNoSession
	}
	return err
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
		err := s.db.Tx(ctx, func(tx *store.Tx) error {
			var userID sql.NullInt64
			var name, role sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT s.user_id, u.username, u.role
				FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = ?`, id).Scan(&userID, &name, &role)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
				return err
			}
			if !userID.Valid {
				return nil
			}
			return s.rec.Record(ctx, tx, audit.Event{
				ActorID: userID.Int64, ActorName: name.String, ActorRole: role.String,
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
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		if n, err = deleteUserSessions(ctx, tx, u.ID); err != nil {
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
	rows, err := s.db.Read.QueryContext(ctx, `SELECT id, created_at, last_seen_at, client_ip, user_agent
		FROM sessions WHERE user_id = ? AND created_at > ? AND last_seen_at > ? ORDER BY created_at DESC`,
		userID, store.FormatTime(now.Add(-s.absolute)), store.FormatTime(now.Add(-s.idle)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var created, seen string
		sess := Session{UserID: userID}
		if err := rows.Scan(&sess.ID, &created, &seen, &sess.ClientIP, &sess.UserAgent); err != nil {
			return nil, err
		}
		var err1, err2 error
		sess.CreatedAt, err1 = store.ParseTime(created)
		sess.LastSeenAt, err2 = store.ParseTime(seen)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// PruneSessions deletes sessions past their idle or absolute timeout and
// returns how many; run it now and then (expired rows are also refused and
// deleted when presented).
func (s *Service) PruneSessions(ctx context.Context) (int, error) {
	now := s.nowUTC()
	var n int64
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE created_at <= ? OR last_seen_at <= ?`,
			store.FormatTime(now.Add(-s.absolute)), store.FormatTime(now.Add(-s.idle)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
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
