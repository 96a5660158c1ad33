package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// encList returns the stored form of a list: a JSON array, or "null" for a
// nil slice, so that nil and empty lists both come back as they went in.
func encList(s []string) string {
	if s == nil {
		return "null"
	}
	b, err := json.Marshal(s)
	if err != nil { // a []string always marshals
		panic(err)
	}
	return string(b)
}

// listDecoder decodes stored lists, keeping the first error.
type listDecoder struct{ err error }

func (ld *listDecoder) dec(src string, dst *[]string) {
	if src == "null" || ld.err != nil {
		*dst = nil
		return
	}
	if err := json.Unmarshal([]byte(src), dst); err != nil {
		ld.err = fmt.Errorf("sqlstore: corrupt list column: %w", err)
	}
}

// scanner is what the scan functions read a row from: a *sql.Row, a
// *sql.Rows or an argScanner.
type scanner = interface{ Scan(dest ...any) error }

// listFilter is what the stores' List filters share: equality on account,
// mode and status (each ignored when empty), a keyset position after
// (afterCreated, afterID) and a limit (none when not positive).
type listFilter struct {
	account, mode, status, kind string
	// search: rows whose ID (idColumn) or name, lower-cased by LOWER,
	// contains it (lower-cased by account.FoldSearch alike).
	search string
	// expiresBefore: rows whose expires is set and before it.
	expiresBefore time.Time
	afterCreated  time.Time
	afterID       string
	limit         int
}

// likeEscaper escapes the wildcards of a LIKE pattern (ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// listQuery returns the SELECT of columns from table that lists the rows
// matching f in (created, idColumn) order, and its arguments. It fails,
// with an error wrapping [ErrTimeRange], only for an unstorable
// afterCreated.
func listQuery(table, columns, idColumn string, f listFilter) (string, []any, error) {
	var conds []string
	var args []any
	for _, c := range [...]struct{ col, val string }{{"account", f.account}, {"mode", f.mode}, {"status", f.status}, {"kind", f.kind}} {
		if c.val != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.search != "" {
		// LOWER folds ASCII letters only on both databases (SQLite's
		// built-in; PostgreSQL's under the columns' "C" collation).
		pattern := "%" + likeEscaper.Replace(f.search) + "%"
		conds = append(conds, "(LOWER("+idColumn+`) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	if !f.expiresBefore.IsZero() {
		conds = append(conds, "expires <> ? AND expires < ?")
		args = append(args, int64(zeroTime), clampTime(f.expiresBefore))
	}
	if !f.afterCreated.IsZero() || f.afterID != "" {
		at, err := encTime(f.afterCreated)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "(created, "+idColumn+") > (?, ?)")
		args = append(args, at, f.afterID)
	}
	return "SELECT " + columns + " FROM " + table + where(conds) + " ORDER BY created, " + idColumn + limitClause(f.limit), args, nil
}

// collect runs query on the read pool and scans each row it returns; op
// names the store operation in errors. No rows is a nil slice.
func collect[T any](ctx context.Context, d *DB, op, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, d.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, d.fail(ctx, op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, d.fail(ctx, op, err)
	}
	return out, nil
}

// where joins conditions with AND into a WHERE clause.
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// limitClause returns " LIMIT n" for a positive n.
func limitClause(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", n)
}

// argScanner scans the arguments of a statement as if they were a row read
// back: it gives a record as the database stores it (times in UTC, lists
// and bytes in memory of its own) without a round trip.
type argScanner []any

// Scan implements the Scan method of *sql.Row for the types this package
// stores: string, bool, int64 and []byte.
func (a argScanner) Scan(dest ...any) error {
	if len(dest) != len(a) {
		return fmt.Errorf("sqlstore: scanning %d arguments into %d values", len(a), len(dest))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = a[i].(string)
		case *bool:
			*d = a[i].(bool)
		case *int64:
			*d = a[i].(int64)
		case *[]byte:
			*d = append([]byte(nil), a[i].([]byte)...)
		default:
			return fmt.Errorf("sqlstore: cannot scan into %T", d)
		}
	}
	return nil
}
