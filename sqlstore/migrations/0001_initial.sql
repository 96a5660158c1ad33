-- The initial schema. Shared by SQLite and PostgreSQL: {{TEXT}} is text
-- compared byte for byte and {{BLOB}} is BLOB or BYTEA (see
-- Dialect.schemaTypes). Times are BIGINT nanoseconds since 1970 (UTC), the
-- zero time the smallest BIGINT. Lists (stores, permissions, IPs,
-- countries) are JSON arrays in TEXT columns, "null" for none.

CREATE TABLE accounts (
	id      {{TEXT}} PRIMARY KEY,
	name    {{TEXT}} NOT NULL,
	package {{TEXT}} NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	version BIGINT NOT NULL
);
CREATE INDEX accounts_created ON accounts (created, id);

-- API keys: hashes holds 40 bytes per accepted secret, current first: its
-- SHA-256 (32) and the big-endian BIGINT of its NotAfter (8).
CREATE TABLE api_keys (
	id                {{TEXT}} PRIMARY KEY,
	account           {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	kind              {{TEXT}} NOT NULL,
	name              {{TEXT}} NOT NULL,
	created_by        {{TEXT}} NOT NULL,
	hint              {{TEXT}} NOT NULL,
	status            {{TEXT}} NOT NULL,
	disabled          BOOLEAN NOT NULL,
	hashes            {{BLOB}} NOT NULL,
	stores            {{TEXT}} NOT NULL,
	package           {{TEXT}} NOT NULL,
	permissions       {{TEXT}} NOT NULL,
	allowed_ips       {{TEXT}} NOT NULL,
	denied_ips        {{TEXT}} NOT NULL,
	allowed_countries {{TEXT}} NOT NULL,
	denied_countries  {{TEXT}} NOT NULL,
	created           BIGINT NOT NULL,
	expires           BIGINT NOT NULL,
	last_used         BIGINT NOT NULL,
	approved_by       {{TEXT}} NOT NULL,
	approved_at       BIGINT NOT NULL,
	revoked_at        BIGINT NOT NULL,
	rotated_at        BIGINT NOT NULL,
	version           BIGINT NOT NULL
);
CREATE INDEX api_keys_created ON api_keys (created, id);
CREATE INDEX api_keys_account ON api_keys (account, created, id);

-- HMAC credentials: secrets is a JSON array of {"sealed": base64,
-- "not_after": nanoseconds}, current first; the secrets are sealed by the
-- hmac package before they get here.
CREATE TABLE hmac_credentials (
	key_id            {{TEXT}} PRIMARY KEY,
	account           {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	name              {{TEXT}} NOT NULL,
	package           {{TEXT}} NOT NULL,
	permissions       {{TEXT}} NOT NULL,
	stores            {{TEXT}} NOT NULL,
	allowed_ips       {{TEXT}} NOT NULL,
	denied_ips        {{TEXT}} NOT NULL,
	allowed_countries {{TEXT}} NOT NULL,
	denied_countries  {{TEXT}} NOT NULL,
	secrets           {{TEXT}} NOT NULL,
	status            {{TEXT}} NOT NULL,
	disabled          BOOLEAN NOT NULL,
	created           BIGINT NOT NULL,
	expires           BIGINT NOT NULL,
	revoked_at        BIGINT NOT NULL,
	rotated_at        BIGINT NOT NULL,
	version           BIGINT NOT NULL
);
CREATE INDEX hmac_credentials_created ON hmac_credentials (created, key_id);
CREATE INDEX hmac_credentials_account ON hmac_credentials (account, created, key_id);

-- Refresh tokens, by the SHA-256 of the token. A family's row is the lock
-- that Rotate and RevokeFamily take, so that no rotation slips past a
-- revocation.
CREATE TABLE refresh_families (
	family            {{TEXT}} PRIMARY KEY,
	absolute_expires  BIGINT NOT NULL
);
CREATE INDEX refresh_families_expires ON refresh_families (absolute_expires);
CREATE TABLE refresh_tokens (
	hash              {{BLOB}} PRIMARY KEY,
	family            {{TEXT}} NOT NULL,
	client_id         {{TEXT}} NOT NULL,
	subject           {{TEXT}} NOT NULL,
	account           {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	scope             {{TEXT}} NOT NULL,
	package           {{TEXT}} NOT NULL,
	permissions       {{TEXT}} NOT NULL,
	stores            {{TEXT}} NOT NULL,
	allowed_ips       {{TEXT}} NOT NULL,
	issued_at         BIGINT NOT NULL,
	idle_expires      BIGINT NOT NULL,
	absolute_expires  BIGINT NOT NULL,
	status            {{TEXT}} NOT NULL,
	rotated_at        BIGINT NOT NULL,
	revoked_at        BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- The jti denylist and the subjects' cut-offs.
CREATE TABLE denied_tokens (
	jti               {{TEXT}} PRIMARY KEY,
	until             BIGINT NOT NULL
);
CREATE INDEX denied_tokens_until ON denied_tokens (until);
CREATE TABLE denied_subjects (
	subject           {{TEXT}} PRIMARY KEY,
	cutoff            BIGINT NOT NULL
);

-- One-time tokens, by the SHA-256 of the token; body_hash is all zeros
-- when the token binds no body.
CREATE TABLE one_time_tokens (
	hash              {{BLOB}} PRIMARY KEY,
	purpose           {{TEXT}} NOT NULL,
	account           {{TEXT}} NOT NULL,
	key_id            {{TEXT}} NOT NULL,
	subject           {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	method            {{TEXT}} NOT NULL,
	path              {{TEXT}} NOT NULL,
	entity_id         {{TEXT}} NOT NULL,
	body_hash         {{BLOB}} NOT NULL,
	issued_at         BIGINT NOT NULL,
	expires_at        BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

-- Audit events: the whole event as JSON, and the fields the history
-- filters on in columns. Sequence numbers come from audit_streams, whose
-- row a writing transaction locks: consecutive, without gaps, across
-- restarts and instances.
CREATE TABLE audit_streams (
	stream            {{TEXT}} PRIMARY KEY,
	seq               BIGINT NOT NULL
);
INSERT INTO audit_streams (stream, seq) VALUES ('default', 0);
CREATE TABLE audit_events (
	seq               BIGINT PRIMARY KEY,
	event_time        BIGINT NOT NULL,
	key_id            {{TEXT}} NOT NULL,
	account           {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	store             {{TEXT}} NOT NULL,
	ip                {{TEXT}} NOT NULL,
	decision          {{TEXT}} NOT NULL,
	reason            {{TEXT}} NOT NULL,
	action            {{TEXT}} NOT NULL,
	event             {{TEXT}} NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (event_time);
CREATE INDEX audit_events_key_id ON audit_events (key_id, seq);
CREATE INDEX audit_events_account ON audit_events (account, seq);
CREATE INDEX audit_events_ip ON audit_events (ip, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_reason ON audit_events (reason, seq);

-- Idempotency keys of the admin API.
CREATE TABLE idempotency_keys (
	idem_key          {{TEXT}} PRIMARY KEY,
	fingerprint       {{BLOB}} NOT NULL,
	done              BOOLEAN NOT NULL,
	status            BIGINT NOT NULL,
	body              {{BLOB}},
	reserved_at       BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_reserved ON idempotency_keys (reserved_at);
