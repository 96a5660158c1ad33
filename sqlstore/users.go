package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/passworduser"
)

// userStore is the [passworduser.Store] of a DB.
type userStore struct{ d *DB }

// Users returns the DB's [passworduser.Store]: the users of the password
// grant, shared by every instance on the database. Put is one INSERT ...
// ON CONFLICT DO UPDATE, so that of instances writing one name at once the
// last one wins whole. Names compare byte for byte. No error carries a
// password hash, nor the name looked up (which may be a password typed
// into the wrong field).
func (d *DB) Users() passworduser.Store { return userStore{d} }

var _ passworduser.Store = userStore{}

// Put implements [passworduser.Store]. It records when the user was created
// and last replaced.
func (s userStore) Put(ctx context.Context, u passworduser.Record) error {
	now, err := encTime(time.Now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, `INSERT INTO users (username, password_hash, subject, account, created, updated) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, subject = excluded.subject, account = excluded.account, updated = excluded.updated`,
		u.Username, u.PasswordHash, u.Subject, u.Account, now, now); err != nil {
		return s.d.fail(ctx, "put user", err)
	}
	return nil
}

// Get implements [passworduser.Store].
func (s userStore) Get(ctx context.Context, username string) (passworduser.Record, error) {
	if err := ctx.Err(); err != nil {
		return passworduser.Record{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT password_hash, subject, account FROM users WHERE username = ?", username)
	if err != nil {
		return passworduser.Record{}, s.d.fail(ctx, "get user", err)
	}
	u := passworduser.Record{Username: username}
	err = row.Scan(&u.PasswordHash, &u.Subject, &u.Account)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return passworduser.Record{}, passworduser.ErrNotFound
	case err != nil:
		return passworduser.Record{}, s.d.fail(ctx, "get user", err)
	}
	return u, nil
}
