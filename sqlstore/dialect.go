package sqlstore

import (
	"errors"
	"strconv"
	"strings"
)

// Dialect is the SQL dialect of a database: what differs between SQLite
// and PostgreSQL in the statements this package sends and in the errors
// their drivers return. Everything else is shared, standard SQL: upserts
// (INSERT ... ON CONFLICT, SQLite 3.24 and later), RETURNING (SQLite 3.35
// and later) and row values ((a, b) > (?, ?), SQLite 3.15 and later).
type Dialect int

// The dialects.
const (
	// SQLite, for example through modernc.org/sqlite. Write transactions
	// start with BEGIN IMMEDIATE, so that two of them never deadlock on
	// the upgrade from a read lock.
	SQLite Dialect = iota + 1
	// Postgres, for example through github.com/jackc/pgx/v5/stdlib.
	// Transactions run at READ COMMITTED and lock the rows they decide on
	// with SELECT ... FOR UPDATE.
	Postgres
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// valid reports whether d is one of the dialects.
func (d Dialect) valid() bool { return d == SQLite || d == Postgres }

// rebind rewrites the ? placeholders of query for the dialect: $1, $2, ...
// for PostgreSQL, unchanged for SQLite. The queries of this package hold no
// ? anywhere else (no string literals with one).
func (d Dialect) rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if c := query[i]; c != '?' {
			b.WriteByte(c)
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// forUpdate is the locking clause that makes a SELECT in a transaction lock
// the rows it reads: FOR UPDATE on PostgreSQL; nothing on SQLite, where a
// BEGIN IMMEDIATE transaction already excludes every other writer.
func (d Dialect) forUpdate() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// indexedBy is the clause that makes SQLite read a table through the named
// index (INDEXED BY), where its planner, without statistics, would pick a
// worse one; nothing on PostgreSQL, whose planner has statistics.
func (d Dialect) indexedBy(index string) string {
	if d == SQLite {
		return " INDEXED BY " + index
	}
	return ""
}

// schemaTypes replaces the type placeholders of the migrations:
// {{BLOB}} is BLOB or BYTEA, and {{TEXT}} is TEXT compared byte for byte
// (SQLite's default BINARY collation; COLLATE "C" on PostgreSQL, whose
// default collation follows the locale and would order and compare IDs
// differently).
func (d Dialect) schemaTypes(ddl string) string {
	blob, text := "BLOB", "TEXT"
	if d == Postgres {
		blob, text = "BYTEA", `TEXT COLLATE "C"`
	}
	return strings.NewReplacer("{{BLOB}}", blob, "{{TEXT}}", text).Replace(ddl)
}

// errClass is what an error from the database means to a store.
type errClass int

const (
	errOther errClass = iota
	// errDuplicate: a unique or primary key constraint refused a row.
	errDuplicate
	// errRetry: the transaction lost a race with another one
	// (serialization failure, deadlock, a busy SQLite database) and may
	// be run again.
	errRetry
)

// sqlStater is implemented by PostgreSQL drivers' errors (pgx's
// *pgconn.PgError, lib/pq's *pq.Error).
type sqlStater interface{ SQLState() string }

// sqliteCoder is implemented by modernc.org/sqlite's *sqlite.Error: the
// (extended) result code.
type sqliteCoder interface{ Code() int }

// SQLite result codes (https://sqlite.org/rescode.html).
const (
	sqliteBusy             = 5
	sqliteLocked           = 6
	sqliteConstraintPK     = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUnique = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// classify tells what err means, without importing a driver: by the
// SQLSTATE of a PostgreSQL error or the result code of a SQLite one.
func (d Dialect) classify(err error) errClass {
	if err == nil {
		return errOther
	}
	switch d {
	case Postgres:
		var e sqlStater
		if errors.As(err, &e) {
			switch e.SQLState() {
			case "23505": // unique_violation
				return errDuplicate
			case "40001", "40P01": // serialization_failure, deadlock_detected
				return errRetry
			}
		}
	case SQLite:
		var e sqliteCoder
		if errors.As(err, &e) {
			switch c := e.Code(); {
			case c == sqliteConstraintPK || c == sqliteConstraintUnique:
				return errDuplicate
			case c&0xff == sqliteBusy || c&0xff == sqliteLocked:
				return errRetry
			}
		}
	}
	return errOther
}
