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
