// Package sqlite opens keygate's embedded database: a SQLite file through
// modernc.org/sqlite (pure Go, no cgo), with the stores of package
// [sqlstore].
//
//	db, err := sqlite.Open(ctx, "keygate.db")
//	if err != nil { ... }
//	defer db.Close()
//	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys()})
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/keygate/keygate/sqlstore"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// BusyTimeout is how long, in milliseconds, a connection waits for
// another process's write lock on the file before it fails with
// SQLITE_BUSY.
const BusyTimeout = 10_000

// Open opens (creating it if needed) the SQLite database at path, applies
// keygate's migrations and returns its stores. The database runs in WAL
// mode, with foreign keys enforced and synchronous=NORMAL (a power loss may
// drop the last transactions, but never corrupts the file).
//
// The returned DB writes through a single connection: SQLite allows one
// writer at a time, and one connection queues the writers in Go instead of
// making them spin on the file lock. Reads (Get, List, revocation checks,
// audit queries) go through up to [Readers] read-only connections beside
// it, which WAL never makes wait for the writer. Other processes may open
// the same file; their writers wait for each other up to [BusyTimeout].
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: Open: empty path")
	}
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	read.SetMaxOpenConns(Readers)
	read.SetMaxIdleConns(Readers)
	s, err := sqlstore.OpenWithReader(ctx, write, read, sqlstore.SQLite)
	if err != nil {
		_ = write.Close()
		_ = read.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

// Readers bounds the read-only connections of a DB that [Open] returns.
const Readers = 4

// dsn returns the modernc.org/sqlite data source name for the file at
// path: a file: URI (with %, ? and # escaped) and the connection's
// settings, which the driver applies to every new connection. The writer
// sets WAL mode, which is kept in the file; readers are query-only.
func dsn(path string, readOnly bool) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	d := "file:" + esc + "?_busy_timeout=" + fmt.Sprint(BusyTimeout) + "&_foreign_keys=1"
	if readOnly {
		return d + "&_query_only=1"
	}
	return d + "&_journal_mode=WAL&_synchronous=NORMAL"
}
