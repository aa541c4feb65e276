-- The NeoX outage notice, shared by every instance on the database
-- (issue 16). Portable SQL: SQLite and PostgreSQL.
--
-- One row per NeoX operation (api, op) whose latest calls by any worker
-- went unanswered (timeout, 5xx, lost connection): since_at is the first
-- unanswered call after the last answer, last_at the latest, failures how
-- many in a row, last_error the latest cause. The first answer deletes the
-- row.
CREATE TABLE neox_outages (
	api        TEXT   NOT NULL,
	op         TEXT   NOT NULL,
	since_at   TEXT   NOT NULL,
	last_at    TEXT   NOT NULL,
	failures   BIGINT NOT NULL,
	last_error TEXT   NOT NULL DEFAULT '',
	PRIMARY KEY (api, op)
);
