-- Two-factor sign-in (issue 17). Portable SQL: SQLite and PostgreSQL.
--
-- One TOTP authenticator per user. secret is the shared secret sealed with
-- AES-GCM under a key derived from the session key (auth/secondfactor.go),
-- never the secret itself. confirmed_at is '' while an enrolment waits for
-- its first code; last_step is the TOTP time step of the last code
-- accepted, so a code cannot be used twice.
CREATE TABLE mfa_totp (
	user_id      BIGINT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret       TEXT   NOT NULL,
	confirmed_at TEXT   NOT NULL DEFAULT '',
	last_step    BIGINT NOT NULL DEFAULT 0,
	created_at   TEXT   NOT NULL
);

-- Single-use recovery codes, as the SHA-256 (hex) of an 80-bit random
-- code: too long to guess offline from a copy of the database.
CREATE TABLE mfa_recovery_codes (
	user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	code_hash TEXT   NOT NULL,
	used_at   TEXT   NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, code_hash)
);

-- Admin-issued enrolment links, by the SHA-256 (hex) of their token.
CREATE TABLE mfa_enrol_links (
	token_hash TEXT   NOT NULL PRIMARY KEY,
	user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at TEXT   NOT NULL,
	expires_at TEXT   NOT NULL,
	used_at    TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX mfa_enrol_links_user ON mfa_enrol_links(user_id);
