package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/console/consolestore"
)

// consoleUserStore is the [consolestore.UserStore] of a DB.
type consoleUserStore struct{ d *DB }

// ConsoleUsers returns the DB's [consolestore.UserStore]: the admin console's
// users, shared by every instance on the database. Put is one INSERT ...
// ON CONFLICT DO UPDATE, so that of instances writing one name at once the
// last one wins whole. Names compare byte for byte. No error carries a
// password hash, nor the name looked up.
func (d *DB) ConsoleUsers() consolestore.UserStore { return consoleUserStore{d} }

var _ consolestore.UserStore = consoleUserStore{}

const consoleUserColumns = "username, role, account, permissions, disabled, created, updated"

// Put implements [consolestore.UserStore].
func (s consoleUserStore) Put(ctx context.Context, u consolestore.UserRecord) error {
	var ts times
	created, updated := ts.enc(u.Created), ts.enc(u.Updated)
	if ts.err != nil {
		return ts.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, `INSERT INTO console_users (`+consoleUserColumns+`, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET role = excluded.role, account = excluded.account, permissions = excluded.permissions,
disabled = excluded.disabled, created = excluded.created, updated = excluded.updated, password_hash = excluded.password_hash`,
		u.Username, string(u.Role), u.Account, encList(u.Permissions), u.Disabled, created, updated, u.PasswordHash); err != nil {
		return s.d.fail(ctx, "put console user", err)
	}
	return nil
}

// scanConsoleUser reads consoleUserColumns.
func scanConsoleUser(sc scanner) (consolestore.User, error) {
	var (
		u                consolestore.User
		role, perms      string
		created, updated int64
	)
	if err := sc.Scan(&u.Username, &role, &u.Account, &perms, &u.Disabled, &created, &updated); err != nil {
		return consolestore.User{}, err
	}
	var ld listDecoder
	ld.dec(perms, &u.Permissions)
	if ld.err != nil {
		return consolestore.User{}, ld.err
	}
	u.Role, u.Created, u.Updated = consolestore.Role(role), decTime(created), decTime(updated)
	return u, nil
}

// Get implements [consolestore.UserStore].
func (s consoleUserStore) Get(ctx context.Context, username string) (consolestore.UserRecord, error) {
	if err := ctx.Err(); err != nil {
		return consolestore.UserRecord{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+consoleUserColumns+", password_hash FROM console_users WHERE username = ?", username)
	if err != nil {
		return consolestore.UserRecord{}, s.d.fail(ctx, "get console user", err)
	}
	var hash string
	u, err := scanConsoleUser(extraScanner{row, &hash})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return consolestore.UserRecord{}, consolestore.ErrUnknownUser
	case err != nil:
		return consolestore.UserRecord{}, s.d.fail(ctx, "get console user", err)
	}
	return consolestore.UserRecord{User: u, PasswordHash: hash}, nil
}

// extraScanner scans a row whose last columns go to extra, after those
// its caller asks for.
type extraScanner struct {
	sc    scanner
	extra *string
}

func (e extraScanner) Scan(dest ...any) error { return e.sc.Scan(append(dest, e.extra)...) }

// List implements [consolestore.UserStore].
func (s consoleUserStore) List(ctx context.Context) ([]consolestore.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return collect(ctx, s.d, "list console users", "SELECT "+consoleUserColumns+" FROM console_users ORDER BY username", nil, scanConsoleUser)
}

// consoleSessionStore is the [consolestore.SessionStore] of a DB.
type consoleSessionStore struct{ d *DB }

// ConsoleSessions returns the DB's [consolestore.SessionStore]: the admin
// console's sessions, by the SHA-256 hash of their IDs, shared by every
// instance on the database, so that a session started on one is resumed on
// another and signing out on one ends it on all.
func (d *DB) ConsoleSessions() consolestore.SessionStore { return consoleSessionStore{d} }

var _ consolestore.SessionStore = consoleSessionStore{}

// errSessionTaken is what Create returns for an ID hash that is taken.
var errSessionTaken = errors.New("sqlstore: console session ID hash taken")

// Create implements [consolestore.SessionStore].
func (s consoleSessionStore) Create(ctx context.Context, idHash []byte, sess consolestore.Session) error {
	var ts times
	created, seen := ts.enc(sess.Created), ts.enc(sess.LastSeen)
	if ts.err != nil {
		return ts.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := s.d.exec(ctx, "INSERT INTO console_sessions (id_hash, username, created, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT (id_hash) DO NOTHING",
		idHash, sess.Username, created, seen)
	if err != nil {
		return s.d.fail(ctx, "create console session", err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return s.d.fail(ctx, "create console session", err)
	case n == 0:
		return errSessionTaken
	}
	return nil
}

// Get implements [consolestore.SessionStore].
func (s consoleSessionStore) Get(ctx context.Context, idHash []byte) (consolestore.Session, error) {
	if err := ctx.Err(); err != nil {
		return consolestore.Session{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT username, created, last_seen FROM console_sessions WHERE id_hash = ?", idHash)
	if err != nil {
		return consolestore.Session{}, s.d.fail(ctx, "get console session", err)
	}
	var (
		sess          consolestore.Session
		created, seen int64
	)
	switch err := row.Scan(&sess.Username, &created, &seen); {
	case errors.Is(err, sql.ErrNoRows):
		return consolestore.Session{}, consolestore.ErrNoSession
	case err != nil:
		return consolestore.Session{}, s.d.fail(ctx, "get console session", err)
	}
	sess.Created, sess.LastSeen = decTime(created), decTime(seen)
	return sess, nil
}

// Touch implements [consolestore.SessionStore]: one UPDATE that moves
// last_seen only forward, so that racing touches leave the latest.
func (s consoleSessionStore) Touch(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	seen, err := encTime(lastSeen)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := s.d.exec(ctx, "UPDATE console_sessions SET last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END WHERE id_hash = ?",
		seen, seen, idHash)
	if err != nil {
		return s.d.fail(ctx, "touch console session", err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return s.d.fail(ctx, "touch console session", err)
	case n == 0:
		return consolestore.ErrNoSession
	}
	return nil
}

// Delete implements [consolestore.SessionStore].
func (s consoleSessionStore) Delete(ctx context.Context, idHash []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, "DELETE FROM console_sessions WHERE id_hash = ?", idHash); err != nil {
		return s.d.fail(ctx, "delete console session", err)
	}
	return nil
}

// DeleteUser implements [consolestore.SessionStore].
func (s consoleSessionStore) DeleteUser(ctx context.Context, username string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, "DELETE FROM console_sessions WHERE username = ?", username); err != nil {
		return s.d.fail(ctx, "delete console sessions of user", err)
	}
	return nil
}

// DeleteExpired implements [consolestore.SessionStore]. Cut-offs outside the
// storable range are clamped to it.
func (s consoleSessionStore) DeleteExpired(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	res, err := s.d.exec(ctx, "DELETE FROM console_sessions WHERE last_seen < ? OR created < ?", clampTime(idleBefore), clampTime(createdBefore))
	if err != nil {
		return 0, s.d.fail(ctx, "delete expired console sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.d.fail(ctx, "delete expired console sessions", err)
	}
	return int(n), nil
}
