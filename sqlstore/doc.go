// Package sqlstore keeps keygate's records in a SQL database through
// [database/sql]: accounts, API keys, HMAC credentials, refresh-token
// families, the jti denylist, one-time tokens, sealed JWT signing keys,
// the password grant's users, the admin console's users and sessions,
// audit events and the admin API's idempotency keys. It imports no driver: package
// github.com/keygate/keygate/sqlite opens an embedded SQLite database and
// package github.com/keygate/keygate/postgres a PostgreSQL one, each in
// its own module, so that a program pulls only the driver it uses.
//
// One set of statements serves both dialects; what differs is explicit in
// [Dialect]: placeholders (? or $n), type names (BLOB or BYTEA, a binary
// collation), row locks (SELECT ... FOR UPDATE on PostgreSQL, a BEGIN
// IMMEDIATE transaction on SQLite) and the classification of driver
// errors. [Open] applies the embedded, versioned migrations, once, even
// when several processes start at once.
//
// Every atomic operation of the store contracts is atomic in the database:
// Create is an INSERT ... ON CONFLICT DO NOTHING, Update an UPDATE ...
// WHERE version = ?, a one-time token's Consume a DELETE ... RETURNING, a
// refresh token's Rotate a transaction that locks its family. Nothing is
// cached in memory, so that any number of processes can share one
// PostgreSQL database.
//
// Times are stored as BIGINT nanoseconds since 1970, exact for ordering
// and cursors, within the years 1678 to 2262 ([ErrTimeRange] outside).
// Secrets never reach this package in plaintext: API keys arrive hashed,
// HMAC secrets sealed, refresh and one-time tokens and console session IDs
// as their SHA-256, passwords as Argon2id hashes; and
// no error it returns carries a value it was given other than an ID.
package sqlstore
