-- Security keys and passkeys as a second factor (issue 17). Portable SQL:
-- SQLite and PostgreSQL.
--
-- One row per registered credential. credential_id is the credential's
-- id (base64url); credential is go-webauthn's Credential as JSON (public
-- key, flags, transports, AAGUID), none of it secret; sign_count is kept in
-- its own column so a cloned authenticator (a counter going backwards) is
-- noticed.
CREATE TABLE mfa_webauthn (
	credential_id TEXT   NOT NULL PRIMARY KEY,
	user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name          TEXT   NOT NULL,
	credential    TEXT   NOT NULL,
	sign_count    BIGINT NOT NULL DEFAULT 0,
	created_at    TEXT   NOT NULL,
	last_used_at  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX mfa_webauthn_user ON mfa_webauthn(user_id);

-- Ceremonies in progress, by their challenge: each is used at most once
-- (deleted when answered), belongs to one user and expires.
CREATE TABLE mfa_webauthn_challenges (
	challenge  TEXT   NOT NULL PRIMARY KEY,
	user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	kind       TEXT   NOT NULL,
	session    TEXT   NOT NULL,
	expires_at TEXT   NOT NULL
);
CREATE INDEX mfa_webauthn_challenges_user ON mfa_webauthn_challenges(user_id);
