package httpsig

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate"
)

// Active is what the verifier needs of a credential: who it is and the
// secrets that may have signed a request now (the current one and, during
// a rotation, the ones it replaces). Secrets are plaintext: keep an Active
// in memory only, never log it.
type Active struct {
	KeyID string
	// Grant is the credential's, for the middleware to enforce.
	keygate.Grant
	// Secrets are the 64-byte shared secrets that verify, current first.
	Secrets [][]byte
}

// CredentialSource finds the active secrets of a key ID. [*Manager]
// implements it.
type CredentialSource interface {
	// Lookup returns the active credential with that key ID, or an error
	// wrapping [ErrNotFound] (unknown), [ErrRevoked], [ErrExpired] or
	// [ErrDisabled] — or a store error.
	Lookup(ctx context.Context, keyID string) (Active, error)
}

// NonceStore remembers the nonces of accepted requests, per key ID, so that
// a replay is refused. Implementations must be safe for concurrent use and
// make Claim atomic (also across instances for a shared store: SET NX PX,
// INSERT ... ON CONFLICT DO NOTHING). Run the conformance suite in package
// httpsigtest against every implementation.
type NonceStore interface {
	// Claim records nonce for keyID until expires and reports true, or
	// reports false if it is already recorded and not expired (a replay).
	Claim(ctx context.Context, keyID, nonce string, expires time.Time) (bool, error)
}

// Errors about credentials; test with errors.Is. Each wraps
// [ErrCredentialInvalid].
var (
	// ErrCredentialInvalid is wrapped by every error that says a key ID
	// may not sign: [ErrNotFound], [ErrRevoked], [ErrExpired] and
	// [ErrDisabled]. [Verifier.Verify] answers such a key ID with
	// [ErrInvalidSignature], which then wraps the cause too.
	ErrCredentialInvalid = errors.New("httpsig: credential rejected")
	// ErrNotFound is returned when no credential has that key ID.
	ErrNotFound error = &rejection{"httpsig: unknown key ID", ErrCredentialInvalid}
	// ErrRevoked is returned for a credential that was revoked.
	ErrRevoked error = &rejection{"httpsig: credential revoked", ErrCredentialInvalid}
	// ErrExpired is returned for a credential whose expiry time has passed.
	ErrExpired error = &rejection{"httpsig: credential expired", ErrCredentialInvalid}
	// ErrDisabled is returned for a credential that is disabled.
	ErrDisabled error = &rejection{"httpsig: credential disabled", ErrCredentialInvalid}
)
