package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/ratelimit"
)

// consolePrefix is where serve mounts the console: its pages are
// /console/, /console/keys/{id} and so on.
const consolePrefix = "/console"

// consoleOperator is the console's first operator, which serve's first
// start on a new database and "keygate init" create, with a random
// password printed once.
const consoleOperator = "admin"

// consoleOperatorPermissions are the first operator's: every permission,
// as the admin key's (a console user, too, may give only what it holds).
var consoleOperatorPermissions = adminPermissions

// newOperatorPassword returns a new random password for a console user:
// 26 characters of base32, 130 bits.
func newOperatorPassword() string { return rand.Text() }

// firstOperator returns the console's first operator: consoleOperator,
// with every permission.
func firstOperator() consolestore.User {
	return consolestore.User{Username: consoleOperator, Role: consolestore.RoleOperator, Permissions: consoleOperatorPermissions}
}

// consoleStores returns the stores of the console's users and sessions:
// the database's, so that instances sharing it share them too, or memory.
func (s *storage) consoleStores() (consolestore.UserStore, consolestore.SessionStore) {
	if s.db != nil {
		return s.db.ConsoleUsers(), s.db.ConsoleSessions()
	}
	return consolestore.NewMemoryUserStore(), consolestore.NewMemorySessionStore()
}

// newConsole builds the console on the app's admin API, authenticator
// audit history and shared limiter: a.consoleUsers (which bootstrap fills on a new
// database) and a.console, which routes mounts at consolePrefix.
func (a *app) newConsole(opts serveConfig, history audit.History, requestPolicy audit.Policy, limiter ratelimit.Peeker) error {
	userStore, sessionStore := a.store.consoleStores()
	var err error
	if a.consoleUsers, err = console.NewUsers(console.UsersConfig{Store: userStore, Params: opts.passwordParams}); err != nil {
		return err
	}
	sessions, err := console.NewSessions(console.SessionsConfig{Store: sessionStore})
	if err != nil {
		return err
	}
	cfg := console.Config{
		Prefix:   consolePrefix,
		Admin:    a.admin,
		Auth:     a.auth,
		Users:    a.consoleUsers,
		Sessions: sessions,
		History:  history,
		// Sign-ins need HTTPS, or loopback; behind a proxy that
		// terminates HTTPS, --tls-terminated says so.
		TLSTerminated: opts.tlsTerminated,
		// Failed sign-ins per username are counted where the failed
		// authentications per address are: Redis when instances share
		// it.
		Limiter: limiter,
	}
	// The overview's charts: the history's own aggregates (the
	// database's hourly rollup, or the memory sink's events).
	if s, ok := history.(audit.Summarizer); ok {
		cfg.Summary = s
	}
	if a.audit != nil {
		cfg.Audit = a.consoleEvent(requestPolicy)
	}
	a.console, err = console.New(cfg)
	return err
}

// consoleEvent returns the console's audit recorder: its sign-ins and
// sign-outs are written like management events, never dropped; failed
// sign-ins, which anyone can cause, like refused requests, under the
// request events' policy (dropped and counted when the queue is full
// while the database is down).
func (a *app) consoleEvent(requestPolicy audit.Policy) func(ctx context.Context, e audit.Event) {
	return func(ctx context.Context, e audit.Event) {
		policy := audit.Block
		if e.Action == console.ActionSignInFailed {
			policy = requestPolicy
		}
		_ = a.audit.Emit(context.WithoutCancel(ctx), e, policy)
	}
}

// consoleNote tells stderr, on a start that created nothing, when the
// console has no user: a database from before the console, whose first
// operator "keygate init" creates.
func (a *app) consoleNote(ctx context.Context, stderr io.Writer) {
	users, err := a.consoleUsers.List(ctx)
	if err != nil || len(users) > 0 {
		return
	}
	fmt.Fprintf(stderr, "keygate: the console at %s/ has no user yet: \"keygate init\" with this --db creates its first operator\n", consolePrefix)
}
