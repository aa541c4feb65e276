-- API keys for /api/v1 and the idempotency records of their requests
-- (issue 18). SQLite; the PostgreSQL version is postgres/0030_api_keys.sql.
--
-- A key is "rd_live_" + prefix + secret. prefix is stored as is (it names
-- the key in lists and finds its row); the key itself only as the SHA-256
-- (hex) of the whole string: a copy of the database hands out no key.
-- scopes are policy.Scopes' names separated by spaces. revoked_at and
-- last_used_at are '' until set; times are store.TimeFormat.
CREATE TABLE api_keys (
	id              INTEGER PRIMARY KEY,
	name            TEXT    NOT NULL,
	prefix          TEXT    NOT NULL UNIQUE,
	secret_hash     TEXT    NOT NULL,
	scopes          TEXT    NOT NULL,
	created_by      INTEGER NOT NULL,
	created_by_name TEXT    NOT NULL DEFAULT '',
	created_at      TEXT    NOT NULL,
	expires_at      TEXT    NOT NULL,
	revoked_at      TEXT    NOT NULL DEFAULT '',
	last_used_at    TEXT    NOT NULL DEFAULT ''
);

-- One row per (key, Idempotency-Key) that created a refund: the hash of
-- the request it came with and the response given, replayed to retries.
CREATE TABLE api_idempotency (
	key_id          INTEGER NOT NULL REFERENCES api_keys(id),
	idempotency_key TEXT    NOT NULL,
	request_hash    TEXT    NOT NULL,
	status          INTEGER NOT NULL,
	response        TEXT    NOT NULL,
	refund_id       TEXT    NOT NULL DEFAULT '',
	created_at      TEXT    NOT NULL,
	PRIMARY KEY (key_id, idempotency_key)
);
