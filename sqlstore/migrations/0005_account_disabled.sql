-- Accounts can be disabled: every credential of a disabled account is
-- refused (account.Manager.Disable). Existing accounts stay enabled.
-- tokens_not_before is account.Account.TokensNotBefore (nanoseconds; the
-- smallest BIGINT is the zero time, as in every other time column): the
-- tokens of the account issued at or before it stay refused once it is
-- enabled again. Existing accounts have none.
ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN tokens_not_before BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET tokens_not_before = -9223372036854775807 - 1;
