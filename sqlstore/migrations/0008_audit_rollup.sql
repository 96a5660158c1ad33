-- Counts of the request events (action ''), for audit summaries
-- (AuditSink.Summarize), and the sequence numbers of each hour's events,
-- for audit queries over a time range (AuditSink.Query): the transaction
-- that inserts events adds to them. bucket_hour is the event's hour:
-- event_time (nanoseconds) divided by an hour, rounded down, so hours since
-- the Unix epoch; bucket_minute likewise in minutes.
--
-- audit_rollup counts by hour and every dimension a summary filters on;
-- audit_rollup_key_id and audit_rollup_account serve the summaries of one
-- key and of one account. audit_rollup_minute counts by minute, without
-- account or key, for the parts of hours at either end of a summary of
-- everything; audit_rollup_account_minute likewise for one account's.
-- audit_seq_hours holds the smallest and largest sequence
-- number of each hour's events (management events too), so that a query
-- over a time range reads from the first sequence number it can hold.
--
-- Events stored before this migration are counted once, by the INSERTs
-- below.
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
CREATE TABLE audit_rollup_minute (
	bucket_minute     BIGINT NOT NULL,
	mode              {{TEXT}} NOT NULL,
	decision          {{TEXT}} NOT NULL,
	reason            {{TEXT}} NOT NULL,
	events            BIGINT NOT NULL,
	PRIMARY KEY (bucket_minute, mode, decision, reason)
);
CREATE TABLE audit_rollup_account_minute (
	account           {{TEXT}} NOT NULL,
	bucket_minute     BIGINT NOT NULL,
	mode              {{TEXT}} NOT NULL,
	decision          {{TEXT}} NOT NULL,
	reason            {{TEXT}} NOT NULL,
	events            BIGINT NOT NULL,
	PRIMARY KEY (account, bucket_minute, mode, decision, reason)
);
CREATE TABLE audit_seq_hours (
	bucket_hour       BIGINT PRIMARY KEY,
	min_seq           BIGINT NOT NULL,
	max_seq           BIGINT NOT NULL
);
INSERT INTO audit_rollup (bucket_hour, account, key_id, mode, decision, reason, events)
SELECT event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END,
	account, key_id, mode, decision, reason, COUNT(*)
FROM audit_events
WHERE action = ''
GROUP BY event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END,
	account, key_id, mode, decision, reason;
INSERT INTO audit_rollup_minute (bucket_minute, mode, decision, reason, events)
SELECT event_time / 60000000000 - CASE WHEN event_time % 60000000000 < 0 THEN 1 ELSE 0 END,
	mode, decision, reason, COUNT(*)
FROM audit_events
WHERE action = ''
GROUP BY event_time / 60000000000 - CASE WHEN event_time % 60000000000 < 0 THEN 1 ELSE 0 END,
	mode, decision, reason;
INSERT INTO audit_rollup_account_minute (account, bucket_minute, mode, decision, reason, events)
SELECT account, event_time / 60000000000 - CASE WHEN event_time % 60000000000 < 0 THEN 1 ELSE 0 END,
	mode, decision, reason, COUNT(*)
FROM audit_events
WHERE action = ''
GROUP BY account, event_time / 60000000000 - CASE WHEN event_time % 60000000000 < 0 THEN 1 ELSE 0 END,
	mode, decision, reason;
INSERT INTO audit_seq_hours (bucket_hour, min_seq, max_seq)
SELECT event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END,
	MIN(seq), MAX(seq)
FROM audit_events
GROUP BY event_time / 3600000000000 - CASE WHEN event_time % 3600000000000 < 0 THEN 1 ELSE 0 END;
