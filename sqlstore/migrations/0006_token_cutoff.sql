-- Revocation reaches the tokens a credential obtained. tokens_not_before
-- is apikey.Record.TokensNotBefore, and on HMAC credentials
-- hmac.Credential.TokensNotBefore (nanoseconds; the smallest BIGINT is
-- the zero time, as in every other time column): the tokens a key or
-- credential obtained at or before it are refused. denied_sessions lists
-- revoked refresh-token families (the "sid" claim of their access tokens)
-- until their access tokens would have expired. refresh_tokens_owner
-- serves a sign-in's scan of the client's open families (OpenFamilies), and
-- one_time_tokens_owner the per-key count of live one-time tokens (the
-- one-time quota).
ALTER TABLE api_keys ADD COLUMN tokens_not_before BIGINT NOT NULL DEFAULT 0;
UPDATE api_keys SET tokens_not_before = -9223372036854775807 - 1;
ALTER TABLE hmac_credentials ADD COLUMN tokens_not_before BIGINT NOT NULL DEFAULT 0;
UPDATE hmac_credentials SET tokens_not_before = -9223372036854775807 - 1;
CREATE TABLE denied_sessions (
	sid               {{TEXT}} PRIMARY KEY,
	until             BIGINT NOT NULL
);
CREATE INDEX denied_sessions_until ON denied_sessions (until);
CREATE INDEX refresh_tokens_owner ON refresh_tokens (client_id, subject);
CREATE INDEX one_time_tokens_owner ON one_time_tokens (account, key_id, expires_at);
