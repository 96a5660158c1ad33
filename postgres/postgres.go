// Package postgres opens keygate's shared database: PostgreSQL through
// github.com/jackc/pgx/v5 and its database/sql driver, with the stores of
// package [sqlstore]. Any number of processes may share one database: every
// atomic operation is atomic in PostgreSQL, and nothing is cached in
// memory.
//
//	db, err := postgres.Open(ctx, "postgres://keygate@db.internal/keygate")
//	if err != nil { ... }
//	defer db.Close()
//	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys()})
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keygate/keygate/sqlstore"
)

// The connection pool's settings.
const (
	// MaxConns bounds the connections the returned DB opens.
	MaxConns = 20
	// MaxConnIdleTime closes a connection unused for that long.
	MaxConnIdleTime = 5 * time.Minute
	// MaxConnLifetime replaces a connection after that long, so that
	// connections spread over the servers behind a proxy or a DNS
	// change.
	MaxConnLifetime = time.Hour
)

// Open connects to the PostgreSQL database that dsn names (a URL such as
// postgres://user@host:5432/db?sslmode=verify-full, or key=value pairs, as
// libpq takes them), applies keygate's migrations and returns its stores.
// The tables are created in the connection's search_path: give keygate a
// schema of its own (CREATE SCHEMA keygate, then ...&search_path=keygate
// in the dsn), as its table names (accounts, schema_migrations, ...) are
// plain ones.
//
// Open fails, never succeeds half-way, when the database is unreachable
// before ctx ends; so does every store call afterwards while it is, and
// calls succeed again once it is back, without a restart.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included: say only
		// that it did not parse.
		return nil, fmt.Errorf("postgres: invalid data source name")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(MaxConns)
	db.SetConnMaxIdleTime(MaxConnIdleTime)
	db.SetConnMaxLifetime(MaxConnLifetime)
	s, err := sqlstore.Open(ctx, db, sqlstore.Postgres)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
