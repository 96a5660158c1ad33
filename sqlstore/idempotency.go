package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/idempotency"
)

// IdempotencyConfig configures the [idempotency.Store] of
// [DB.Idempotency]. The zero value is usable.
type IdempotencyConfig struct {
	// Retention is how long an entry is kept from its reservation. Zero
	// means 24 hours.
	Retention time.Duration
	// LockTimeout is how long a reservation that is neither completed nor
	// released holds its key (its process may have stopped). Zero means
	// one minute.
	LockTimeout time.Duration
	// Now is the clock. Nil means time.Now. Processes sharing a database
	// should have clocks that agree to well within LockTimeout.
	Now func() time.Time
}

// idempotencyStore is the [idempotency.Store] of a DB.
type idempotencyStore struct {
	d   *DB
	cfg IdempotencyConfig
}

// Idempotency returns the DB's [idempotency.Store]. Reserve is an
// INSERT ... ON CONFLICT DO NOTHING, after deleting the key's entry if it
// expired or its reservation lapsed: of concurrent reservations of one
// key, in any number of processes, exactly one succeeds. Every 1024th
// reservation also deletes the expired entries.
func (d *DB) Idempotency(cfg IdempotencyConfig) idempotency.Store {
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return idempotencyStore{d: d, cfg: cfg}
}

var _ idempotency.Store = idempotencyStore{}

// Reserve implements [idempotency.Store].
func (s idempotencyStore) Reserve(ctx context.Context, key string, fingerprint []byte) (idempotency.Entry, bool, error) {
	now := s.cfg.Now()
	var ts times
	at, expired, lapsed := ts.enc(now), ts.enc(now.Add(-s.cfg.Retention)), ts.enc(now.Add(-s.cfg.LockTimeout))
	if ts.err != nil {
		return idempotency.Entry{}, false, ts.err
	}
	if fingerprint == nil {
		fingerprint = []byte{} // NOT NULL
	}
	for {
		if err := ctx.Err(); err != nil {
			return idempotency.Entry{}, false, err
		}
		// A stale entry makes way; one that is not stays.
		if _, err := s.d.exec(ctx, "DELETE FROM idempotency_keys WHERE idem_key = ? AND (reserved_at <= ? OR (NOT done AND reserved_at <= ?))",
			key, expired, lapsed); err != nil {
			return idempotency.Entry{}, false, s.d.fail(ctx, "reserve idempotency key", err)
		}
		res, err := s.d.exec(ctx, "INSERT INTO idempotency_keys (idem_key, fingerprint, done, status, body, reserved_at) VALUES (?, ?, ?, 0, NULL, ?) ON CONFLICT (idem_key) DO NOTHING",
			key, fingerprint, false, at)
		if err != nil {
			return idempotency.Entry{}, false, s.d.fail(ctx, "reserve idempotency key", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return idempotency.Entry{}, false, s.d.fail(ctx, "reserve idempotency key", err)
		}
		if n == 1 {
			if s.d.idemWrites.Add(1)%sweepEvery == 0 {
				// Best effort: a failure leaves them for the next sweep.
				_, _ = s.d.exec(ctx, "DELETE FROM idempotency_keys WHERE reserved_at <= ?", expired)
			}
			return idempotency.Entry{}, true, nil
		}
		row, err := s.d.readRow(ctx, "SELECT fingerprint, done, status, body FROM idempotency_keys WHERE idem_key = ?", key)
		if err != nil {
			return idempotency.Entry{}, false, s.d.fail(ctx, "reserve idempotency key", err)
		}
		var e idempotency.Entry
		var status int64
		switch err := row.Scan(&e.Fingerprint, &e.Done, &status, &e.Body); {
		case errors.Is(err, sql.ErrNoRows):
			continue // released meanwhile: try again
		case err != nil:
			return idempotency.Entry{}, false, s.d.fail(ctx, "reserve idempotency key", err)
		}
		e.Status = int(status) // Scan copied the bytes: they are the caller's
		return e, false, nil
	}
}

// Complete implements [idempotency.Store].
func (s idempotencyStore) Complete(ctx context.Context, key string, status int, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if body == nil {
		body = []byte{}
	}
	if _, err := s.d.exec(ctx, "UPDATE idempotency_keys SET done = ?, status = ?, body = ? WHERE idem_key = ? AND NOT done",
		true, int64(status), body, key); err != nil {
		return s.d.fail(ctx, "complete idempotency key", err)
	}
	return nil
}

// Release implements [idempotency.Store].
func (s idempotencyStore) Release(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, "DELETE FROM idempotency_keys WHERE idem_key = ? AND NOT done", key); err != nil {
		return s.d.fail(ctx, "release idempotency key", err)
	}
	return nil
}
