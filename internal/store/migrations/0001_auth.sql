-- Users, server-side sessions, login throttling and generated settings (keys).
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
	display_name  TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL CHECK (role IN ('staff', 'manager', 'admin')),
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	must_change   INTEGER NOT NULL DEFAULT 0 CHECK (must_change IN (0, 1)),
	password_hash TEXT NOT NULL,
	lang          TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);

-- id is the SHA-256 (hex) of the random token the cookie carries, so a
-- copy of the database does not hand out live sessions.
CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
	data         BLOB,
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	client_ip    TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

-- One row per throttled key ("user:NAME" or "ip:ADDR").
CREATE TABLE login_throttle (
	key          TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	last_failure TEXT NOT NULL,
	locked_until TEXT NOT NULL
);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
