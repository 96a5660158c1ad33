-- Who last set an API key's permissions or package (apikey.Record's
-- PermissionsSetBy), for the admin API's separation of duties. Keys
-- created before this migration had theirs set by their creator, as far
-- as anything records.
ALTER TABLE api_keys ADD COLUMN permissions_set_by {{TEXT}} NOT NULL DEFAULT '';
UPDATE api_keys SET permissions_set_by = created_by;
