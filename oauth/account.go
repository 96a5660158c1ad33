package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/account"
)

// checkAccount refuses, when Config.Accounts is set, a client whose
// account is disabled or does not exist: fail (invalid_client, with the
// reason as its cause). A lookup that fails returns the store's error,
// which the endpoints answer with 503. It returns the client's account
// (for its token cut-off, see [client.cutOff]); without Config.Accounts,
// the zero Account, which cuts nothing off.
func (s *Server) checkAccount(ctx context.Context, id string, fail *oauthError) (account.Account, error) {
	if s.cfg.Accounts == nil {
		return account.Account{}, nil
	}
	a, err := s.cfg.Accounts.Get(ctx, id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		fail.cause = err
		return account.Account{}, fail
	case err != nil:
		return account.Account{}, err
	case a.Disabled:
		fail.cause = errAccountDisabled
		return account.Account{}, fail
	}
	return a, nil
}

// cutOff is the one token cut-off rule of the OAuth endpoints: a token
// the client obtained at issuedAt (a refresh-token family's issue time,
// an access token's iat) is cut off by its key's cut-off
// ([apikey.Record.CutOff]: a rotation without grace, a disable or a
// revocation since) or by its account's ([account.Account.CutOff]: a
// disable since, even if the account was enabled again).
func (c client) cutOff(issuedAt time.Time) bool {
	return c.rec.CutOff(issuedAt) || c.account.CutOff(issuedAt)
}

// hasCutOff reports whether a cut-off applies to the client at all, so
// that the endpoints look a token up only when one does.
func (c client) hasCutOff() bool {
	return !c.rec.TokensNotBefore.IsZero() || !c.account.TokensNotBefore.IsZero()
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
