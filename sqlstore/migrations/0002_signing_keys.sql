-- JWT signing keys shared by instances, sealed by package jwt under the
-- master key before they get here: the database never holds a private key
-- in the clear.
CREATE TABLE jwt_signing_keys (
	id      {{TEXT}} PRIMARY KEY,
	sealed  {{BLOB}} NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX jwt_signing_keys_created ON jwt_signing_keys (created, id);
