-- The users of the OAuth password grant. password_hash is the Argon2id
-- hash of the password as a PHC string (package password), never the
-- password. Names compare byte for byte: "Alice" and "alice " are other
-- users than "alice".
CREATE TABLE users (
	username      {{TEXT}} PRIMARY KEY,
	password_hash {{TEXT}} NOT NULL,
	subject       {{TEXT}} NOT NULL,
	account       {{TEXT}} NOT NULL,
	created       BIGINT NOT NULL,
	updated       BIGINT NOT NULL
);
