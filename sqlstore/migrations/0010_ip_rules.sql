-- The gateway's IP allow and deny lists (package iprule): service-wide
-- rules (account '') and rules of one account. cidr is the canonical
-- prefix (iprule.Canonical), so that one rule cannot be stored twice
-- under two spellings. The whole table is read at once by every instance
-- (iprule.Checker), on a change and when its copy expires.
CREATE TABLE ip_rules (
	id         {{TEXT}} PRIMARY KEY,
	account    {{TEXT}} NOT NULL,
	action     {{TEXT}} NOT NULL,
	cidr       {{TEXT}} NOT NULL,
	note       {{TEXT}} NOT NULL,
	created    BIGINT NOT NULL,
	created_by {{TEXT}} NOT NULL,
	UNIQUE (account, action, cidr)
);
