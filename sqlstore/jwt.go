package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

// refreshStore is the [jwt.RefreshStore] of a DB.
type refreshStore struct{ d *DB }

// RefreshTokens returns the DB's [jwt.RefreshStore]. Rotate and
// RevokeFamily lock the family's row (SELECT ... FOR UPDATE on
// PostgreSQL), so that of two rotations of one token exactly one wins and
// no rotation stores an active token after RevokeFamily has returned.
// Every 1024th Create also deletes the families whose absolute lifetime
// ended before the new token was issued.
func (d *DB) RefreshTokens() jwt.RefreshStore { return refreshStore{d} }

var _ jwt.RefreshStore = refreshStore{}

const refreshColumns = "hash, family, client_id, subject, account, mode, scope, package, permissions, stores, " +
	"allowed_ips, issued_at, idle_expires, absolute_expires, status, rotated_at, revoked_at"

const refreshInsert = "INSERT INTO refresh_tokens (" + refreshColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING"

func refreshArgs(r *jwt.RefreshRecord) ([]any, error) {
	var ts times
	args := []any{
		r.Hash[:], r.Family, r.ClientID, r.Subject, r.Account, string(r.Mode), r.Scope, r.Package,
		encList(r.Permissions), encList(r.Stores), encList(r.AllowedIPs),
		ts.enc(r.IssuedAt), ts.enc(r.IdleExpiresAt), ts.enc(r.AbsoluteExpiresAt),
		string(r.Status), ts.enc(r.RotatedAt), ts.enc(r.RevokedAt),
	}
	return args, ts.err
}

func scanRefresh(sc scanner) (jwt.RefreshRecord, error) {
	var (
		r                             jwt.RefreshRecord
		hash                          []byte
		mode, status                  string
		perms, stores, allowIPs       string
		issued, idle, abs, rot, revkd int64
	)
	err := sc.Scan(&hash, &r.Family, &r.ClientID, &r.Subject, &r.Account, &mode, &r.Scope, &r.Package,
		&perms, &stores, &allowIPs, &issued, &idle, &abs, &status, &rot, &revkd)
	if err != nil {
		return jwt.RefreshRecord{}, err
	}
	if len(hash) != len(r.Hash) {
		return jwt.RefreshRecord{}, errors.New("sqlstore: corrupt hash column")
	}
	copy(r.Hash[:], hash)
	r.Mode, r.Status = keygate.Mode(mode), jwt.RefreshStatus(status)
	var ld listDecoder
	ld.dec(perms, &r.Permissions)
	ld.dec(stores, &r.Stores)
	ld.dec(allowIPs, &r.AllowedIPs)
	if ld.err != nil {
		return jwt.RefreshRecord{}, ld.err
	}
	r.IssuedAt, r.IdleExpiresAt, r.AbsoluteExpiresAt = decTime(issued), decTime(idle), decTime(abs)
	r.RotatedAt, r.RevokedAt = decTime(rot), decTime(revkd)
	return r, nil
}

// Create implements [jwt.RefreshStore].
func (s refreshStore) Create(ctx context.Context, rec jwt.RefreshRecord) error {
	args, err := refreshArgs(&rec)
	if err != nil {
		return err
	}
	err = s.d.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, "INSERT INTO refresh_families (family, absolute_expires) VALUES (?, ?) ON CONFLICT (family) DO NOTHING",
			rec.Family, args[13]); err != nil {
			return err
		}
		res, err := t.exec(ctx, refreshInsert, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return jwt.ErrExists
		}
		return nil
	})
	switch {
	case errors.Is(err, jwt.ErrExists):
		return err
	case err != nil:
		return s.d.fail(ctx, "create refresh token", err)
	}
	if s.d.refreshWrites.Add(1)%sweepEvery == 0 {
		s.sweep(ctx, args[11].(int64))
	}
	return nil
}

// sweep deletes the families, and their tokens, whose absolute lifetime
// ended before issued. It is best effort: a failure leaves them for the
// next sweep.
func (s refreshStore) sweep(ctx context.Context, issued int64) {
	_ = s.d.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, "DELETE FROM refresh_tokens WHERE family IN (SELECT family FROM refresh_families WHERE absolute_expires < ?)", issued); err != nil {
			return err
		}
		_, err := t.exec(ctx, "DELETE FROM refresh_families WHERE absolute_expires < ?", issued)
		return err
	})
}

// OpenFamilies implements [jwt.RefreshStore]: one query over the
// client's active tokens (a family has at most one). The index
// refresh_tokens_owner (client_id, subject) makes it proportional to the
// client's tokens for the subject, not to the table.
func (s refreshStore) OpenFamilies(ctx context.Context, clientID, subject string, now time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	at, err := encTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := s.d.query(ctx, `SELECT family FROM refresh_tokens
WHERE client_id = ? AND subject = ? AND status = ? AND idle_expires > ? AND absolute_expires > ?
ORDER BY absolute_expires, family`, clientID, subject, string(jwt.RefreshActive), at, at)
	if err != nil {
		return nil, s.d.fail(ctx, "list refresh families", err)
	}
	defer rows.Close()
	var fams []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, s.d.fail(ctx, "list refresh families", err)
		}
		fams = append(fams, f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.fail(ctx, "list refresh families", err)
	}
	return fams, nil
}

// Get implements [jwt.RefreshStore].
func (s refreshStore) Get(ctx context.Context, hash [32]byte) (jwt.RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return jwt.RefreshRecord{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+refreshColumns+" FROM refresh_tokens WHERE hash = ?", hash[:])
	if err != nil {
		return jwt.RefreshRecord{}, s.d.fail(ctx, "get refresh token", err)
	}
	r, err := scanRefresh(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwt.RefreshRecord{}, jwt.ErrNotFound
	case err != nil:
		return jwt.RefreshRecord{}, s.d.fail(ctx, "get refresh token", err)
	}
	return r, nil
}

// lockFamily locks the row of the token's family for the rest of t, then
// reads the token again under that lock (every change to a family's
// tokens is made holding it).
func (s refreshStore) lockFamily(ctx context.Context, t tx, hash [32]byte) (jwt.RefreshRecord, error) {
	var family string
	if err := t.queryRow(ctx, "SELECT family FROM refresh_tokens WHERE hash = ?", hash[:]).Scan(&family); err != nil {
		return jwt.RefreshRecord{}, err
	}
	var locked string
	if err := t.queryRow(ctx, "SELECT family FROM refresh_families WHERE family = ?"+s.d.dialect.forUpdate(), family).Scan(&locked); err != nil {
		return jwt.RefreshRecord{}, err
	}
	return scanRefresh(t.queryRow(ctx, "SELECT "+refreshColumns+" FROM refresh_tokens WHERE hash = ?", hash[:]))
}

// revokeFamily revokes the tokens of family not yet revoked; the family's
// row is locked.
func revokeFamily(ctx context.Context, t tx, family string, at int64) error {
	_, err := t.exec(ctx, "UPDATE refresh_tokens SET status = ?, revoked_at = ? WHERE family = ? AND status <> ?",
		string(jwt.RefreshRevoked), at, family, string(jwt.RefreshRevoked))
	return err
}

// Rotate implements [jwt.RefreshStore], in one transaction holding the
// family's lock.
func (s refreshStore) Rotate(ctx context.Context, old [32]byte, next jwt.RefreshRecord, now time.Time) (jwt.RefreshRecord, error) {
	args, err := refreshArgs(&next)
	if err != nil {
		return jwt.RefreshRecord{}, err
	}
	at, err := encTime(now)
	if err != nil {
		return jwt.RefreshRecord{}, err
	}
	var cur jwt.RefreshRecord
	err = s.d.inTx(ctx, func(t tx) error {
		var err error
		if cur, err = s.lockFamily(ctx, t, old); err != nil {
			return err
		}
		switch {
		case cur.Status == jwt.RefreshRotated || !cur.RotatedAt.IsZero():
			// Reuse: revoke the family, and keep the revocation.
			if err := revokeFamily(ctx, t, cur.Family, at); err != nil {
				return err
			}
			if cur.Status != jwt.RefreshRevoked {
				cur.Status, cur.RevokedAt = jwt.RefreshRevoked, decTime(at)
			}
			return commitErr{jwt.ErrRefreshReuse}
		case cur.Status != jwt.RefreshActive:
			return jwt.ErrRefreshRevoked
		}
		if _, err := t.exec(ctx, "INSERT INTO refresh_families (family, absolute_expires) VALUES (?, ?) ON CONFLICT (family) DO NOTHING",
			next.Family, args[13]); err != nil {
			return err
		}
		res, err := t.exec(ctx, refreshInsert, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return jwt.ErrExists
		}
		if _, err := t.exec(ctx, "UPDATE refresh_tokens SET status = ?, rotated_at = ? WHERE hash = ?",
			string(jwt.RefreshRotated), at, old[:]); err != nil {
			return err
		}
		cur.Status, cur.RotatedAt = jwt.RefreshRotated, decTime(at)
		return nil
	})
	switch {
	case err == nil:
		return cur, nil
	case errors.Is(err, sql.ErrNoRows):
		return jwt.RefreshRecord{}, jwt.ErrNotFound
	case errors.Is(err, jwt.ErrRefreshReuse), errors.Is(err, jwt.ErrRefreshRevoked):
		return cur, err
	case errors.Is(err, jwt.ErrExists):
		return jwt.RefreshRecord{}, err
	}
	return jwt.RefreshRecord{}, s.d.fail(ctx, "rotate refresh token", err)
}

// RevokeFamily implements [jwt.RefreshStore], in one transaction holding
// the family's lock.
func (s refreshStore) RevokeFamily(ctx context.Context, family string, at time.Time) error {
	n, err := encTime(at)
	if err != nil {
		return err
	}
	err = s.d.inTx(ctx, func(t tx) error {
		var locked string
		switch err := t.queryRow(ctx, "SELECT family FROM refresh_families WHERE family = ?"+s.d.dialect.forUpdate(), family).Scan(&locked); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // an unknown family
		case err != nil:
			return err
		}
		return revokeFamily(ctx, t, family, n)
	})
	if err != nil {
		return s.d.fail(ctx, "revoke refresh family", err)
	}
	return nil
}

// denylist is the [jwt.Denylist] of a DB.
type denylist struct{ d *DB }

// Denylist returns the DB's [jwt.Denylist]. IsRevoked is one query. Every
// 1024th RevokeToken or RevokeSession also deletes the token and session
// entries that expired more than [jwt.RevocationMargin] ago. Times after 2262 are stored as 2262: a
// revocation lasts at least as long as asked.
func (d *DB) Denylist() jwt.Denylist { return denylist{d} }

var _ jwt.Denylist = denylist{}

// RevokeToken implements [jwt.Denylist]: an upsert that only moves the
// entry's end later.
func (l denylist) RevokeToken(ctx context.Context, jti string, until time.Time) error {
	return l.revokeUntil(ctx, "denied_tokens", "jti", jti, until, "revoke token")
}

// revokeUntil upserts the entry id (in column idColumn of table, both
// constants) until until, only ever moving its end later; every 1024th
// write to either table also deletes the entries of both denied_tokens and
// denied_sessions that expired more than [jwt.RevocationMargin] ago. op names the call in errors.
func (l denylist) revokeUntil(ctx context.Context, table, idColumn, id string, until time.Time, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := l.d.exec(ctx, `INSERT INTO `+table+` (`+idColumn+`, until) VALUES (?, ?)
ON CONFLICT (`+idColumn+`) DO UPDATE SET until = excluded.until WHERE excluded.until > `+table+`.until`, id, clampTime(until)); err != nil {
		return l.d.fail(ctx, op, err)
	}
	if l.d.denyWrites.Add(1)%sweepEvery == 0 {
		// One counter for both tables, so sweep both: a store that only
		// revokes sessions (or only tokens) still forgets the other
		// table's expired entries. Best effort: a failure leaves the
		// entries for the next sweep.
		cutoff := clampTime(time.Now().Add(-jwt.RevocationMargin))
		for _, t := range [...]string{"denied_tokens", "denied_sessions"} {
			_, _ = l.d.exec(ctx, "DELETE FROM "+t+" WHERE until < ?", cutoff)
		}
	}
	return nil
}

// RevokeSubject implements [jwt.Denylist]: an upsert that only moves the
// cut-off later.
func (l denylist) RevokeSubject(ctx context.Context, subject string, before time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := l.d.exec(ctx, `INSERT INTO denied_subjects (subject, cutoff) VALUES (?, ?)
ON CONFLICT (subject) DO UPDATE SET cutoff = excluded.cutoff WHERE excluded.cutoff > denied_subjects.cutoff`, subject, clampTime(before)); err != nil {
		return l.d.fail(ctx, "revoke subject", err)
	}
	return nil
}

// RevokeSession implements [jwt.Denylist]: an upsert that only moves the
// entry's end later. It shares RevokeToken's sweep (see [DB.Denylist]).
func (l denylist) RevokeSession(ctx context.Context, session string, until time.Time) error {
	return l.revokeUntil(ctx, "denied_sessions", "sid", session, until, "revoke session")
}

// IsRevoked implements [jwt.Denylist], in one query.
func (l denylist) IsRevoked(ctx context.Context, jti, subject, session string, issuedAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	row, err := l.d.readRow(ctx, `SELECT
	EXISTS (SELECT 1 FROM denied_tokens WHERE jti = ?) OR
	EXISTS (SELECT 1 FROM denied_sessions WHERE sid = ? AND sid <> '') OR
	EXISTS (SELECT 1 FROM denied_subjects WHERE subject = ? AND cutoff > ?)`, jti, session, subject, clampTime(issuedAt))
	if err != nil {
		return false, l.d.fail(ctx, "check revocation", err)
	}
	var revoked bool
	if err := row.Scan(&revoked); err != nil {
		return false, l.d.fail(ctx, "check revocation", err)
	}
	return revoked, nil
}

// oneTimeStore is the [jwt.OneTimeStore] of a DB.
type oneTimeStore struct{ d *DB }

// OneTimeTokens returns the DB's [jwt.OneTimeStore]: Put is an INSERT ...
// ON CONFLICT DO NOTHING and Consume a DELETE ... RETURNING, so that of
// any number of concurrent consumers, in any number of processes, exactly
// one gets the record. Every 1024th Put also deletes the records that
// expired before the new one was issued. A bounded Put (max > 0) counts
// the owner's unexpired records and inserts in one transaction that holds
// a lock on the owner (BEGIN IMMEDIATE on SQLite; on PostgreSQL a
// transaction-level advisory lock on a hash of the account and key ID), so
// that concurrent Puts of one owner, from any process, never exceed max.
// The count reads the table, which holds only tokens of the last minute or
// so (each lives for the TTL, and expired ones are swept).
func (d *DB) OneTimeTokens() jwt.OneTimeStore { return oneTimeStore{d} }

var _ jwt.OneTimeStore = oneTimeStore{}

const oneTimeColumns = "hash, purpose, account, key_id, subject, mode, method, path, entity_id, body_hash, issued_at, expires_at"

const oneTimeInsert = "INSERT INTO one_time_tokens (" + oneTimeColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING"

// insertOneTime checks the result of oneTimeInsert: [jwt.ErrExists]
// when it inserted nothing (the hash is taken), the error of the statement
// or of RowsAffected as is.
func insertOneTime(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return jwt.ErrExists
	}
	return nil
}

// putBounded inserts the record with args unless max records of its owner
// expire after issued, in one transaction holding the owner's lock.
func (s oneTimeStore) putBounded(ctx context.Context, rec jwt.OneTimeRecord, issued int64, max int, args []any) error {
	// On PostgreSQL the count must see every Put of the owner committed
	// before this one took the advisory lock: READ COMMITTED takes a new
	// snapshot per statement, after the lock. Under REPEATABLE READ or
	// SERIALIZABLE (a server's default_transaction_isolation may say so)
	// the snapshot would date from the lock statement, before the wait.
	var opts *sql.TxOptions
	if s.d.dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	err := s.d.inTxOpts(ctx, opts, func(t tx) error {
		if s.d.dialect == Postgres {
			// Length-prefixed, so that no two owners share a lock name
			// (a collision of the hash only serialises two owners).
			owner := fmt.Sprintf("one_time:%d:%s:%s", len(rec.Account), rec.Account, rec.KeyID)
			if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", owner); err != nil {
				return err
			}
		}
		var n int
		if err := t.queryRow(ctx, "SELECT COUNT(*) FROM one_time_tokens WHERE account = ? AND key_id = ? AND expires_at > ?",
			rec.Account, rec.KeyID, issued).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return fmt.Errorf("%w: %d outstanding", jwt.ErrOneTimeQuota, n)
		}
		return insertOneTime(t.exec(ctx, oneTimeInsert, args...))
	})
	switch {
	case errors.Is(err, jwt.ErrExists), errors.Is(err, jwt.ErrOneTimeQuota):
		return err
	case err != nil:
		return s.d.fail(ctx, "put one-time token", err)
	}
	return nil
}

// Put implements [jwt.OneTimeStore].
func (s oneTimeStore) Put(ctx context.Context, rec jwt.OneTimeRecord, max int) error {
	var ts times
	issued, expires := ts.enc(rec.IssuedAt), ts.enc(rec.ExpiresAt)
	if ts.err != nil {
		return ts.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	args := []any{rec.Hash[:], rec.Purpose, rec.Account, rec.KeyID, rec.Subject, string(rec.Mode), rec.Method, rec.Path, rec.EntityID,
		rec.BodyHash[:], issued, expires}
	var err error
	if max > 0 {
		err = s.putBounded(ctx, rec, issued, max, args)
	} else if err = insertOneTime(s.d.exec(ctx, oneTimeInsert, args...)); err != nil && !errors.Is(err, jwt.ErrExists) {
		err = s.d.fail(ctx, "put one-time token", err)
	}
	if err != nil {
		return err
	}
	if s.d.oneTimeWrites.Add(1)%sweepEvery == 0 {
		// Best effort: a failure leaves the records for the next sweep.
		_, _ = s.d.exec(ctx, "DELETE FROM one_time_tokens WHERE expires_at < ?", issued)
	}
	return nil
}

// Consume implements [jwt.OneTimeStore]: DELETE ... RETURNING.
func (s oneTimeStore) Consume(ctx context.Context, hash [32]byte) (jwt.OneTimeRecord, error) {
	if err := ctx.Err(); err != nil {
		return jwt.OneTimeRecord{}, err
	}
	row, err := s.d.queryRow(ctx, "DELETE FROM one_time_tokens WHERE hash = ? RETURNING "+oneTimeColumns, hash[:])
	if err != nil {
		return jwt.OneTimeRecord{}, s.d.fail(ctx, "consume one-time token", err)
	}
	var (
		r               jwt.OneTimeRecord
		h, body         []byte
		mode            string
		issued, expires int64
	)
	err = row.Scan(&h, &r.Purpose, &r.Account, &r.KeyID, &r.Subject, &mode, &r.Method, &r.Path, &r.EntityID, &body, &issued, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwt.OneTimeRecord{}, jwt.ErrNotFound
	case err != nil:
		return jwt.OneTimeRecord{}, s.d.fail(ctx, "consume one-time token", err)
	case len(h) != len(r.Hash) || len(body) != len(r.BodyHash):
		return jwt.OneTimeRecord{}, fmt.Errorf("sqlstore: consume one-time token: corrupt hash column")
	}
	copy(r.Hash[:], h)
	copy(r.BodyHash[:], body)
	r.Mode = keygate.Mode(mode)
	r.IssuedAt, r.ExpiresAt = decTime(issued), decTime(expires)
	return r, nil
}
