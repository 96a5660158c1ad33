-- The admin console's users and sessions (package console).
-- console_users.password_hash is the Argon2id hash of the password as a
-- PHC string (package password), never the password; permissions is a
-- JSON array, "null" for none (an owner's). Names compare byte for byte.
CREATE TABLE console_users (
	username      {{TEXT}} PRIMARY KEY,
	role          {{TEXT}} NOT NULL,
	account       {{TEXT}} NOT NULL,
	permissions   {{TEXT}} NOT NULL,
	disabled      BOOLEAN NOT NULL,
	password_hash {{TEXT}} NOT NULL,
	created       BIGINT NOT NULL,
	updated       BIGINT NOT NULL
);

-- Sessions are kept by the SHA-256 hash of their ID, never the ID, so that
-- a copy of the table signs nobody in. console_sessions_username serves
-- signing a user out everywhere; the two time indexes the sweep of ended
-- sessions.
CREATE TABLE console_sessions (
	id_hash   {{BLOB}} PRIMARY KEY,
	username  {{TEXT}} NOT NULL,
	created   BIGINT NOT NULL,
	last_seen BIGINT NOT NULL
);
CREATE INDEX console_sessions_username ON console_sessions (username);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen);
CREATE INDEX console_sessions_created ON console_sessions (created);
