// Package consolestore defines the stores of the admin console's users
// and sessions, [UserStore] and [SessionStore], their records and their
// in-memory implementations. It imports nothing of keygate, so that
// storage backends implement it without depending on package console.
//
// Its two not-found errors keep names of their own rather than one
// ErrNotFound, because they mean different things to the console: an
// unknown user ([ErrUnknownUser]) is a failed sign-in, answered like a
// wrong password, while a missing session ([ErrNoSession]) is not an
// attempt at all and only sends the browser to the sign-in page.
package consolestore

import (
	"context"
	"errors"
	"time"
)

// Role is what a console user may reach.
type Role string

// The roles.
const (
	// RoleOperator reaches every account; what it may do there follows its
	// Permissions (admin:read, admin:write, admin:review, ...), as for a
	// caller of the admin API.
	RoleOperator Role = "operator"
	// RoleOwner reaches one account, its Account, and only what an owner
	// may do there.
	RoleOwner Role = "owner"
)

// User is a console user, without its password.
type User struct {
	// Username signs in: 1 to 64 printable characters, no spaces.
	// Names compare byte for byte.
	Username string
	Role     Role
	// Account is an owner's one account; empty for an operator.
	Account string
	// Permissions are an operator's, e.g. {"admin:read"} or {"*:*"},
	// each as access.ParsePermission reads it; nil for an owner.
	Permissions []string
	// Disabled users cannot sign in.
	Disabled bool
	// Created and Updated are when the user was added and last replaced.
	Created, Updated time.Time
}

// UserRecord is a user as a [UserStore] keeps it: the Argon2id hash of the
// password (a PHC string, package password), never the password.
type UserRecord struct {
	User
	PasswordHash string
}

// UserStore keeps console users: in memory ([MemoryUserStore]) or in a
// database shared by a service's instances (sqlstore). Implementations
// must be safe for concurrent use, honour ctx, store records as they are
// given (times to the nanosecond, a nil Permissions as nil) and never
// print or return a hash in an error.
type UserStore interface {
	// Put creates or replaces the user named u.Username.
	Put(ctx context.Context, u UserRecord) error
	// Get returns the user with that name, or an error wrapping
	// [ErrUnknownUser].
	Get(ctx context.Context, username string) (UserRecord, error)
	// List returns every user, without hashes, by name.
	List(ctx context.Context) ([]User, error)
}

// ErrUnknownUser is what a [UserStore] returns for a name it does not
// hold.
var ErrUnknownUser = errors.New("consolestore: unknown user")

// Session is a signed-in console user's session as the server holds it.
// It does not hold the session ID, only the store knows its hash.
type Session struct {
	Username string
	// Created is when the user signed in; LastSeen when the session was
	// last used (to within the touch interval).
	Created, LastSeen time.Time
}

// SessionStore keeps sessions by the SHA-256 hash of their ID, never the
// ID: in memory ([MemorySessionStore]) or in a database shared by a
// service's instances (sqlstore). Implementations must be safe for
// concurrent use, honour ctx and keep times to the nanosecond.
type SessionStore interface {
	// Create stores s under idHash. It fails, keeping the session
	// stored, when idHash is taken.
	Create(ctx context.Context, idHash []byte, s Session) error
	// Get returns the session stored under idHash, or an error wrapping
	// [ErrNoSession].
	Get(ctx context.Context, idHash []byte) (Session, error)
	// Touch sets the session's LastSeen to lastSeen if that is later
	// than the stored one (else leaves it). It returns an error wrapping
	// [ErrNoSession] when there is no such session.
	Touch(ctx context.Context, idHash []byte, lastSeen time.Time) error
	// Delete removes the session; removing none is no error.
	Delete(ctx context.Context, idHash []byte) error
	// DeleteUser removes every session of the user named username.
	DeleteUser(ctx context.Context, username string) error
	// DeleteExpired removes every session whose LastSeen is before
	// idleBefore or whose Created is before createdBefore, and returns
	// how many it removed.
	DeleteExpired(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)
}

// ErrNoSession is what a [SessionStore] returns for an ID hash it does
// not hold. Package console's Sessions.Resume returns it too, for an ID
// that names no live session.
var ErrNoSession = errors.New("consolestore: no such session")
