package sqlstore

import (
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

// position is the WHERE clause of a keyset position (created, id) > (?, ?)
// and its arguments, or nothing when both are zero.
func position(afterCreated time.Time, afterID, idColumn string) (string, []any, error) {
	if afterCreated.IsZero() && afterID == "" {
		return "", nil, nil
	}
	at, err := encTime(afterCreated)
	if err != nil {
		return "", nil, err
	}
	return "(created, " + idColumn + ") > (?, ?)", []any{at, afterID}, nil
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
