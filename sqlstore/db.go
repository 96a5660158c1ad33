package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by this package beside the stores' own (such as
// [apikey.ErrNotFound]). Test for them with [errors.Is].
var (
	// ErrTimeRange is returned when a time to store lies outside the years 1678
	// to 2262, which a signed 64-bit count of nanoseconds since 1970 can hold.
	ErrTimeRange = errors.New("sqlstore: time outside the storable range (years 1678 to 2262)")
	// ErrContention is returned when a transaction kept losing races with other
	// ones (serialization failures, deadlocks or a busy SQLite database) and
	// was given up after a few attempts. Nothing was changed; the call may be
	// retried. (It is not the stores' ErrConflict, such as
	// [apikey.ErrConflict], which says that a record changed since it was
	// read.)
	ErrContention = errors.New("sqlstore: transaction conflict")
	// ErrClosed is returned when the DB was closed.
	ErrClosed = errors.New("sqlstore: database closed")
)

// DB is a keygate database: the stores of every package on one
// [database/sql] database, in the schema [Open] migrates. It is safe for
// concurrent use; the stores it returns share its connection pool.
type DB struct {
	db      *sql.DB // writes, and reads when there is no read pool
	read    *sql.DB // reads: db itself, or a pool of read-only connections
	dialect Dialect

	mu     sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
	closed bool

	// writes counts inserts per kind of swept record, so that every
	// sweepEvery-th one also forgets expired records.
	oneTimeWrites atomic.Uint64
	refreshWrites atomic.Uint64
	denyWrites    atomic.Uint64
	idemWrites    atomic.Uint64
}

// sweepEvery is how many inserts a store takes between two deletions of
// its expired records.
const sweepEvery = 1024

// txAttempts bounds how often a transaction is run when it loses races.
const txAttempts = 8

// Open applies the embedded migrations that db lacks, then returns the DB.
// It takes ownership of db: [DB.Close] closes it.
//
// Migrating is safe when several processes open one database at once: on
// PostgreSQL the migrations run in one transaction holding an advisory
// lock; on SQLite in one BEGIN IMMEDIATE transaction. A database migrated
// by a newer version of this package (one with migrations this one does
// not know) is refused.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*DB, error) {
	return OpenWithReader(ctx, db, nil, d)
}

// OpenWithReader is [Open] with a second pool, read, on the same database
// for the statements that only read (Get, List, IsRevoked, audit
// queries), so that they never wait for a writer: for SQLite, whose
// writes go through a single connection while WAL lets any number of
// readers run beside it. A nil read means db. Close closes both.
func OpenWithReader(ctx context.Context, db, read *sql.DB, d Dialect) (*DB, error) {
	if db == nil {
		return nil, errors.New("sqlstore: Open: nil *sql.DB")
	}
	if !d.valid() {
		return nil, fmt.Errorf("sqlstore: Open: unknown dialect %v", d)
	}
	if read == nil {
		read = db
	}
	s := &DB{db: db, read: read, dialect: d, stmts: make(map[stmtKey]*sql.Stmt)}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Dialect returns the dialect the DB was opened with.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the underlying database, for health checks and statistics.
// Changing its schema is not supported.
func (d *DB) SQL() *sql.DB { return d.db }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return d.fail(ctx, "ping", err)
	}
	return nil
}

// Close closes the prepared statements and the database. The stores fail
// with [ErrClosed] or a database error afterwards.
func (d *DB) Close() error {
	d.mu.Lock()
	d.closed = true
	var errs []error
	for q, st := range d.stmts {
		errs = append(errs, st.Close())
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	errs = append(errs, d.db.Close())
	if d.read != d.db {
		errs = append(errs, d.read.Close())
	}
	return errors.Join(errs...)
}

// stmtKey names a prepared statement: its query, with ? placeholders, and
// its pool.
type stmtKey struct {
	query string
	read  bool
}

// stmt returns the prepared statement for query on the write or the read
// pool, preparing it on first use. It prepares outside the lock, so that a
// slow or unreachable database holds up only the callers of that
// statement, each within its own ctx, never the lookups of every other
// statement; of two callers preparing one statement at once, one keeps
// its statement and the other closes its own.
func (d *DB) stmt(ctx context.Context, query string, read bool) (*sql.Stmt, error) {
	k := stmtKey{query, read}
	d.mu.Lock()
	st, ok := d.stmts[k]
	closed := d.closed
	d.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case ok:
		return st, nil
	}
	pool := d.db
	if read {
		pool = d.read
	}
	st, err := pool.PrepareContext(ctx, d.dialect.rebind(query))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		_ = st.Close()
		return nil, ErrClosed
	}
	if prev, ok := d.stmts[k]; ok {
		_ = st.Close()
		return prev, nil
	}
	d.stmts[k] = st
	return st, nil
}

// exec runs a prepared statement outside a transaction.
func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.stmt(ctx, query, false)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow runs a prepared statement that writes and returns a row
// (UPDATE or DELETE ... RETURNING) outside a transaction.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := d.stmt(ctx, query, false)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// readRow runs a prepared SELECT of one row on the read pool. It sees
// every write that has returned.
func (d *DB) readRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := d.stmt(ctx, query, true)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// query runs a SELECT on the read pool, unprepared: for the queries whose
// text depends on their filters.
func (d *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.read.QueryContext(ctx, d.dialect.rebind(query), args...)
}

// tx is what a transaction's statements run on; queries use ?
// placeholders.
type tx struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	d Dialect
}

func (t tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.q.ExecContext(ctx, t.d.rebind(query), args...)
}

func (t tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(ctx, t.d.rebind(query), args...)
}

func (t tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(ctx, t.d.rebind(query), args...)
}

// commitErr wraps an error that fn returns to have its transaction
// committed rather than rolled back; inTx then returns the error it wraps:
// a decision that is an error for the caller but must be stored (a
// detected reuse).
type commitErr struct{ err error }

func (e commitErr) Error() string { return e.err.Error() }
func (e commitErr) Unwrap() error { return e.err }

// inTx runs fn in a write transaction and commits it, or rolls it back if
// fn returns an error (other than a [commitErr]). A transaction that loses
// a race (errRetry) runs again, up to txAttempts times, before failing with
// [ErrContention]. fn must use only t, never d: on SQLite the pool may hold a
// single connection, which t holds.
func (d *DB) inTx(ctx context.Context, fn func(t tx) error) error {
	return d.inTxOpts(ctx, nil, fn)
}

// inTxOpts is inTx with the options of the transaction on PostgreSQL (nil:
// the server's defaults). SQLite ignores them: its transactions are BEGIN
// IMMEDIATE, serialised by the database's write lock.
func (d *DB) inTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(t tx) error) error {
	var err error
	for attempt := range txAttempts {
		if attempt > 0 {
			// Back off a little, growing, so that the racers spread out.
			timer := time.NewTimer(time.Duration(attempt*attempt) * time.Millisecond)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
		if err = d.runTx(ctx, opts, fn); d.dialect.classify(err) != errRetry {
			return err
		}
	}
	return fmt.Errorf("%w after %d attempts: %w", ErrContention, txAttempts, err)
}

// runTx runs fn once in a transaction with opts (see inTxOpts).
func (d *DB) runTx(ctx context.Context, opts *sql.TxOptions, fn func(t tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.dialect == SQLite {
		return d.runSQLiteTx(ctx, fn)
	}
	sqlTx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	err = fn(tx{q: sqlTx, d: d.dialect})
	var keep commitErr
	if err != nil && !errors.As(err, &keep) {
		_ = sqlTx.Rollback()
		return err
	}
	if cerr := sqlTx.Commit(); cerr != nil {
		return cerr
	}
	return keep.err
}

// runSQLiteTx runs fn once in a BEGIN IMMEDIATE transaction, which takes
// the database's write lock at once (waiting for it up to the connection's
// busy_timeout), so that no other writer can slip in between its reads and
// its writes. database/sql's BeginTx would start a deferred transaction.
func (d *DB) runSQLiteTx(ctx context.Context, fn func(t tx) error) (err error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	// COMMIT and ROLLBACK must run even when ctx ends meanwhile: a
	// connection must never go back to the pool inside a transaction.
	end := func(stmt string) error {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(c, stmt)
		return err
	}
	abort := func() {
		if end("ROLLBACK") != nil {
			// Discard the connection rather than return it to the
			// pool in an unknown state.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	err = fn(tx{q: conn, d: d.dialect})
	var keep commitErr
	if err != nil && !errors.As(err, &keep) {
		abort()
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		abort()
		return ctxErr
	}
	if cerr := end("COMMIT"); cerr != nil {
		abort()
		return cerr
	}
	return keep.err
}

// fail wraps a database error for a store operation: the context's error
// when it ended (so that errors.Is(err, context.Canceled) holds), else the
// driver's error, which names no value the statement carried.
func (d *DB) fail(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("sqlstore: %s: %w (%w)", op, ctxErr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// Times are stored as BIGINT nanoseconds since 1970 (UTC), in both
// dialects, so that ordering and cursors are exact to the nanosecond; the
// zero time is stored as the smallest BIGINT, before every other time.
const zeroTime = math.MinInt64

// The storable range: what UnixNano can represent.
var (
	minTime = time.Unix(0, math.MinInt64+1).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// encTime returns t's stored form, or an error wrapping [ErrTimeRange].
func encTime(t time.Time) (int64, error) {
	if t.IsZero() {
		return zeroTime, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, ErrTimeRange
	}
	return t.UnixNano(), nil
}

// clampTime returns t's stored form, clamped to the storable range, for
// times whose precision far away does not matter (the expiry of a
// denylist entry).
func clampTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroTime
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decTime returns the time whose stored form is n, in UTC.
func decTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// times encodes several times at once: the first error wins.
type times struct{ err error }

func (ts *times) enc(t time.Time) int64 {
	n, err := encTime(t)
	if err != nil && ts.err == nil {
		ts.err = err
	}
	return n
}
