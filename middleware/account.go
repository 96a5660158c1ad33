package middleware

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
)

// Errors of the per-request account lookup (Config.Accounts). Both wrap
// ErrInvalidToken: 401 invalid_token, each with its own description.
var (
	errAccountDisabled = fmt.Errorf("%w: the account is disabled", ErrInvalidToken)
	errAccountUnknown  = fmt.Errorf("%w: the credential's account does not exist", ErrInvalidToken)
	errAccountCutOff   = fmt.Errorf("%w: the token was issued before its account was disabled", ErrInvalidToken)
)

// checkAccount looks up the account of an authenticated credential, when
// Config.Accounts is set: a disabled or missing account refuses every
// credential of it (API key, signed request, access or one-time token),
// and so does the account's token cut-off every access and one-time token
// issued at or before it ([account.Account.CutOff] with issued, the
// token's issue time): the tokens obtained before the account was
// disabled stay refused once it is enabled again. The Principal's package
// is the account's current one, whatever the credential recorded when it
// was made. A store failure fails closed (503). Without Config.Accounts,
// p is left as it is; on an error too.
func (a *Authenticator) checkAccount(ctx context.Context, p *keygate.Principal, issued time.Time) error {
	if a.accounts == nil {
		return nil
	}
	acct, err := a.accounts.Get(ctx, p.Account)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return errAccountUnknown
	case err != nil:
		return err // not in the failure table: 503
	case acct.Disabled:
		return errAccountDisabled
	case (p.Method == keygate.MethodJWT || p.Method == keygate.MethodOneTime) && acct.CutOff(issued):
		return errAccountCutOff
	}
	p.Package = acct.Package
	return nil
}
