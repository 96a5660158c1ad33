-- An audit query of one key within one account (an account owner's, whom
-- the admin API confines to its account, filtering by a key ID) reads the
-- key's events of that account, newest first, and nothing else. Without
-- it SQLite took the account's index for such a query and read all of the
-- account's events when the key was another account's, or a quiet key of
-- a busy account.
CREATE INDEX audit_events_key_account ON audit_events (key_id, account, seq);
