-- Hourly counts of the request events (action ''), for audit summaries
-- (AuditSink.Summarize): the transaction that inserts events adds their
-- counts here. bucket_hour is the event's hour: event_time (nanoseconds)
-- divided by an hour, rounded down, so hours since the Unix epoch. Events
-- stored before this migration are counted here once, by the INSERT below.
-- audit_rollup_key_id and audit_rollup_account serve the summaries of one
-- key and of one account.
CREATE TABLE audit_rollup (
	bucket_hour       BIGINT NOT NULL,
	account           {{TEXT}} NOT NULL,
	key_id            {{TEXT}} NOT NULL,
	mode              {{TEXT}} NOT NULL,
	decision          {{TEXT}} NOT NULL,
	reason            {{TEXT}} NOT NULL,
	events            BIGINT NOT NULL,
	PRIMARY KEY (bucket_hour, account, key_id, mode, decision, reason)
);
CREATE INDEX audit_rollup_key_id ON audit_rollup (key_id, bucket_hour);
CREATE INDEX audit_rollup_account ON audit_rollup (account, bucket_hour);
INSERT INTO audit_rollup (bucket_hour, account, key_id, mode, decision, reason, events)
SELECT event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END,
	account, key_id, mode, decision, reason, COUNT(*)
FROM audit_events
WHERE action = ''
GROUP BY event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END,
	account, key_id, mode, decision, reason;
