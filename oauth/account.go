package oauth

import (
	"context"
	"errors"

	"github.com/keygate/keygate/account"
)

// checkAccount refuses, when Config.Accounts is set, a client whose
// account is disabled or does not exist: fail (invalid_client, with the
// reason as its cause). A lookup that fails returns the store's error,
// which the endpoints answer with 503.
func (s *Server) checkAccount(ctx context.Context, id string, fail *oauthError) error {
	if s.cfg.Accounts == nil {
		return nil
	}
	a, err := s.cfg.Accounts.Get(ctx, id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		fail.cause = err
		return fail
	case err != nil:
		return err
	case a.Disabled:
		fail.cause = errAccountDisabled
		return fail
	}
	return nil
}

// errAccountDisabled is the cause of an invalid_client answer to a client
// whose account is disabled.
var errAccountDisabled = errors.New("oauth: the client's account is disabled")

// currentPackage is the package that applies to a credential of the
// account acct now: the account's, with Config.Accounts (the middleware
// takes it from there on every request), else stored, the credential's
// copy.
func (s *Server) currentPackage(ctx context.Context, acct, stored string) (string, error) {
	if s.cfg.Accounts == nil {
		return stored, nil
	}
	a, err := s.cfg.Accounts.Get(ctx, acct)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return stored, nil
	case err != nil:
		return "", err
	}
	return a.Package, nil
}
