-- Accounts can be disabled: every credential of a disabled account is
-- refused (account.Manager.Disable). Existing accounts stay enabled.
ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
