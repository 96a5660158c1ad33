package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/oauth"
)

// userStore is the [oauth.UserStore] of a DB.
type userStore struct{ d *DB }

// Users returns the DB's [oauth.UserStore]: the users of the password
// grant, shared by every instance on the database. Put is one INSERT ...
// ON CONFLICT DO UPDATE, so that of instances writing one name at once the
// last one wins whole. Names compare byte for byte. No error carries a
// password hash, nor the name looked up (which may be a password typed
// into the wrong field).
func (d *DB) Users() oauth.UserStore { return userStore{d} }

var _ oauth.UserStore = userStore{}

// Put implements [oauth.UserStore]. It records when the user was created
// and last replaced.
func (s userStore) Put(ctx context.Context, u oauth.UserRecord) error {
	now, err := encTime(time.Now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.d.exec(ctx, `INSERT INTO users (username, password_hash, subject, account, created, updated) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, subject = excluded.subject, account = excluded.account, updated = excluded.updated`,
		u.Username, u.PasswordHash, u.User.Subject, u.User.Account, now, now); err != nil {
		return s.d.fail(ctx, "put user", err)
	}
	return nil
}

// Get implements [oauth.UserStore].
func (s userStore) Get(ctx context.Context, username string) (oauth.UserRecord, error) {
	if err := ctx.Err(); err != nil {
		return oauth.UserRecord{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT password_hash, subject, account FROM users WHERE username = ?", username)
	if err != nil {
		return oauth.UserRecord{}, s.d.fail(ctx, "get user", err)
	}
	u := oauth.UserRecord{Username: username}
	err = row.Scan(&u.PasswordHash, &u.User.Subject, &u.User.Account)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return oauth.UserRecord{}, oauth.ErrUnknownUser
	case err != nil:
		return oauth.UserRecord{}, s.d.fail(ctx, "get user", err)
	}
	return u, nil
}
