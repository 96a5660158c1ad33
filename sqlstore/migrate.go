package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The migrations, applied in order of their version: the number their file
// name starts with (0001_initial.sql). A migration is never edited once
// released; a change to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned when the database holds migrations this version
// of the package does not know; a newer version migrated it.
var ErrSchemaTooNew = errors.New("sqlstore: the database schema is newer than this program")

// migrationLock is the key of the PostgreSQL advisory lock that migrating
// transactions hold ("kgmigrat" in ASCII).
const migrationLock = 0x6b676d6967726174

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations returns the embedded migrations for dialect d, by version.
func migrations(d Dialect) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || path.Ext(name) != ".sql" {
			return nil, fmt.Errorf("sqlstore: migration file %q: want NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), stmts: splitSQL(d.schemaTypes(string(b)))})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %s: version %d, want %d", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// splitSQL splits a migration into statements: it drops the lines that
// are comments and splits at each semicolon (migrations hold none in
// literals).
func splitSQL(src string) []string {
	var b strings.Builder
	for line := range strings.Lines(src) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	var out []string
	for stmt := range strings.SplitSeq(b.String(), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// migrate applies the migrations the database lacks, all in one
// transaction that excludes every other migrating process: they wait for
// it, then find nothing left to do.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations(d.dialect)
	if err != nil {
		return err
	}
	err = d.inTx(ctx, func(t tx) error {
		if d.dialect == Postgres {
			if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(migrationLock)); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := t.query(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for v := range applied {
			if v > len(ms) {
				return fmt.Errorf("%w: it has migration %d, this program knows %d", ErrSchemaTooNew, v, len(ms))
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			for i, stmt := range m.stmts {
				if _, err := t.exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s, statement %d: %w", m.name, i+1, err)
				}
			}
			if _, err := t.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d.fail(ctx, "migrate", err)
	}
	return nil
}

// SchemaVersion returns the version of the newest migration applied to the
// database.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	row, err := d.readRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
	if err != nil {
		return 0, d.fail(ctx, "schema version", err)
	}
	var v int
	if err := row.Scan(&v); err != nil {
		return 0, d.fail(ctx, "schema version", err)
	}
	return v, nil
}
