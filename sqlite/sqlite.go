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
// mode (readers never wait for the writer), with foreign keys enforced
// and synchronous=NORMAL (a power loss may drop the last transactions, but
// never corrupts the file).
//
// The returned DB writes through a single connection: SQLite allows one
// writer at a time, and one connection queues them in Go instead of making
// them spin on the file lock. Other processes may open the same file;
// their writers wait for each other up to [BusyTimeout].
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: Open: empty path")
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	s, err := sqlstore.Open(ctx, db, sqlstore.SQLite)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

// dsn returns the modernc.org/sqlite data source name for the file at
// path: a file: URI (with %, ? and # escaped) and the connection's
// settings, which the driver applies to every new connection.
func dsn(path string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?_busy_timeout=" + fmt.Sprint(BusyTimeout) +
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"
}
