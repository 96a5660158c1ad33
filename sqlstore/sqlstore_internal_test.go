package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name    string
		dialect Dialect
		in      string
		want    string
	}{
		{"sqlite unchanged", SQLite, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?"},
		{"postgres numbered", Postgres, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"postgres many", Postgres, "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
		{"postgres none", Postgres, "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.dialect.rebind(tt.in))
		})
	}
}

func TestSchemaTypes(t *testing.T) {
	ddl := "id {{TEXT}} PRIMARY KEY, b {{BLOB}}"
	assert.Equal(t, "id TEXT PRIMARY KEY, b BLOB", SQLite.schemaTypes(ddl))
	assert.Equal(t, `id TEXT COLLATE "C" PRIMARY KEY, b BYTEA`, Postgres.schemaTypes(ddl))
	assert.Equal(t, " FOR UPDATE", Postgres.forUpdate())
	assert.Empty(t, SQLite.forUpdate())
	assert.Equal(t, "sqlite", SQLite.String())
	assert.Equal(t, "postgres", Postgres.String())
	assert.Equal(t, "Dialect(7)", Dialect(7).String())
}

type pgError struct{ code string }

func (e pgError) Error() string    { return "pg error " + e.code }
func (e pgError) SQLState() string { return e.code }

type sqliteError struct{ code int }

func (e sqliteError) Error() string { return fmt.Sprint("sqlite error ", e.code) }
func (e sqliteError) Code() int     { return e.code }

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		dialect Dialect
		err     error
		want    errClass
	}{
		{"nil", Postgres, nil, errOther},
		{"pg unique violation", Postgres, pgError{"23505"}, errDuplicate},
		{"pg wrapped unique violation", Postgres, fmt.Errorf("insert: %w", pgError{"23505"}), errDuplicate},
		{"pg serialization failure", Postgres, pgError{"40001"}, errRetry},
		{"pg deadlock", Postgres, pgError{"40P01"}, errRetry},
		{"pg other", Postgres, pgError{"42P01"}, errOther},
		{"pg error under sqlite", SQLite, pgError{"23505"}, errOther},
		{"sqlite unique", SQLite, sqliteError{2067}, errDuplicate},
		{"sqlite primary key", SQLite, sqliteError{1555}, errDuplicate},
		{"sqlite busy", SQLite, sqliteError{5}, errRetry},
		{"sqlite busy snapshot", SQLite, sqliteError{517}, errRetry},
		{"sqlite locked", SQLite, sqliteError{6}, errRetry},
		{"sqlite not null", SQLite, sqliteError{1299}, errOther},
		{"plain error", SQLite, errors.New("x"), errOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.dialect.classify(tt.err))
		})
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want int64
		err  error
	}{
		{"zero", time.Time{}, math.MinInt64, nil},
		{"epoch", time.Unix(0, 0), 0, nil},
		{"nanoseconds", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), 1767323045123456789, nil},
		{"other zone", time.Date(2026, 1, 2, 4, 4, 5, 123456789, time.FixedZone("x", 3600)), 1767323045123456789, nil},
		{"latest", time.Unix(0, math.MaxInt64), math.MaxInt64, nil},
		{"earliest", time.Unix(0, math.MinInt64+1), math.MinInt64 + 1, nil},
		{"too late", time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), 0, ErrTimeRange},
		{"too early", time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC), 0, ErrTimeRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encTime(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			back := decTime(got)
			assert.True(t, back.Equal(tt.in), "%v came back as %v", tt.in, back)
			assert.Equal(t, tt.in.IsZero(), back.IsZero())
		})
	}
	assert.Equal(t, int64(math.MaxInt64), clampTime(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, int64(math.MinInt64+1), clampTime(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, int64(math.MinInt64), clampTime(time.Time{}))
}

func TestAuditCursor(t *testing.T) {
	for _, seq := range []uint64{1, 42, math.MaxInt64} {
		got, err := decodeAuditCursor(encodeAuditCursor(seq))
		require.NoError(t, err)
		assert.Equal(t, int64(seq), got)
	}
	for _, bad := range []string{"", "garbage!", "bm90IGEgY3Vyc29y", encodeAuditCursor(0), "czA1", "cys1", "cy0x", "bTE"} {
		_, err := decodeAuditCursor(bad)
		assert.ErrorIs(t, err, audit.ErrBadCursor, "cursor %q", bad)
	}
}

func TestColumn(t *testing.T) {
	assert.Equal(t, "plain", column("plain"))
	assert.Equal(t, "caf\u00e9", column("caf\u00e9"))
	assert.Equal(t, "a\uFFFDb", column("a\x00b"))
	assert.Equal(t, "a\uFFFDb", column("a\xffb"))
}

func TestMigrationsParse(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		ms, err := migrations(d)
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		for i, m := range ms {
			assert.Equal(t, i+1, m.version)
			for _, stmt := range m.stmts {
				assert.NotContains(t, stmt, "{{", "%s: a type placeholder was left", m.name)
				assert.NotContains(t, stmt, "--", "%s: a comment was left", m.name)
				assert.NotContains(t, stmt, "?", "%s: a ? would be taken for a placeholder", m.name)
			}
		}
	}
	assert.Equal(t, []string{"CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"},
		splitSQL("-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n\n  -- another\nINSERT INTO a VALUES (1);\n"))
}

func TestListCodec(t *testing.T) {
	for _, in := range [][]string{nil, {}, {"a"}, {"a", "b \"quoted\" é"}} {
		var out []string
		var ld listDecoder
		ld.dec(encList(in), &out)
		require.NoError(t, ld.err)
		assert.Equal(t, in == nil, out == nil, "nil-ness of %#v", in)
		assert.Equal(t, len(in), len(out))
		for i := range in {
			assert.Equal(t, in[i], out[i])
		}
	}
	var ld listDecoder
	var out []string
	ld.dec("{not json", &out)
	assert.Error(t, ld.err)
}

// FuzzAuditCursor feeds decodeAuditCursor the untrusted cursors of the
// admin API's audit queries: it never panics, refuses with
// audit.ErrBadCursor, or returns a positive sequence number that encodes
// to a cursor decoding to the same number.
func FuzzAuditCursor(f *testing.F) {
	for _, c := range []string{"", "garbage!", encodeAuditCursor(1), encodeAuditCursor(math.MaxInt64), "czA1", "cys1", "cy0x", "bTE"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		seq, err := decodeAuditCursor(c)
		if err != nil {
			require.ErrorIs(t, err, audit.ErrBadCursor)
			return
		}
		require.Positive(t, seq)
		again, err := decodeAuditCursor(encodeAuditCursor(uint64(seq)))
		require.NoError(t, err)
		require.Equal(t, seq, again)
	})
}
