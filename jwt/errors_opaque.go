package jwt

import (
	"errors"
	"fmt"
)

// Errors of the opaque tokens (refresh and one-time tokens) and of their
// stores; test for them with [errors.Is]. Like every error of this package,
// they never contain a token, a hash of one or a claim value.
//
// The refresh errors all wrap [ErrRefreshInvalid] and the one-time errors
// all wrap [ErrOneTimeInvalid], so that an endpoint can map the whole family
// to one response (for a refresh token, RFC 6749's invalid_grant) while an
// audit log tells them apart.
var (
	// ErrNotFound is returned by a store that has no record with that
	// hash. Store methods return errors that wrap it.
	ErrNotFound = errors.New("jwt: token not found")
	// ErrExists is returned by a store that already has a record with
	// that hash, and by a [KeyStore] that already has a signing key with
	// that ID.
	ErrExists = errors.New("jwt: already exists")

	// errKeyExists is the memory key store's ErrExists.
	errKeyExists = fmt.Errorf("%w: a signing key with that ID", ErrExists)
	// ErrInvalidParams is returned when an issuing call got an invalid
	// argument; the error says which.
	ErrInvalidParams = errors.New("jwt: invalid parameters")

	// ErrRefreshInvalid is returned when the refresh token is malformed or
	// unknown. Every other refresh error wraps it: all of them mean that the
	// grant is invalid (RFC 6749 §5.2 invalid_grant).
	ErrRefreshInvalid = errors.New("jwt: invalid refresh token")
	// ErrRefreshExpired is returned when the refresh token's idle timeout or
	// its family's absolute lifetime has passed.
	ErrRefreshExpired = fmt.Errorf("%w: expired", ErrRefreshInvalid)
	// ErrRefreshRevoked is returned when the refresh token's family has been
	// revoked (by RFC 7009 revocation, or after a reuse), and this token had
	// not been used before.
	ErrRefreshRevoked = fmt.Errorf("%w: revoked", ErrRefreshInvalid)
	// ErrRefreshReuse is returned when the refresh token had already been
	// exchanged for another one, which signals theft (RFC 9700 §4.14.2). The
	// whole family is revoked when this error is returned.
	ErrRefreshReuse = fmt.Errorf("%w: reuse of a rotated token", ErrRefreshInvalid)
	// ErrRefreshClient is returned when the refresh token was issued to another
	// client than the one presenting it. Nothing is changed.
	ErrRefreshClient = fmt.Errorf("%w: issued to another client", ErrRefreshInvalid)

	// ErrOneTimeInvalid is returned when the one-time token is malformed,
	// unknown or already used. Every other one-time error wraps it.
	ErrOneTimeInvalid = errors.New("jwt: invalid one-time token")
	// ErrOneTimeExpired is returned when the one-time token's lifetime has
	// passed.
	ErrOneTimeExpired = fmt.Errorf("%w: expired", ErrOneTimeInvalid)
	// ErrOneTimePurpose is returned when the one-time token was issued for
	// another purpose than the one of the route that received it.
	ErrOneTimePurpose = fmt.Errorf("%w: wrong purpose", ErrOneTimeInvalid)
	// ErrOneTimeBinding is returned when the request does not match a binding
	// of the one-time token (method, path, entity ID or body); the error names
	// which, never the values.
	ErrOneTimeBinding = fmt.Errorf("%w: binding mismatch", ErrOneTimeInvalid)

	// ErrOneTimeQuota is returned when the credential (account and key ID)
	// already holds as many outstanding one-time tokens (issued, neither
	// redeemed nor expired) as [OneTimeConfig.MaxPerKey] allows, so
	// [OneTimeTokens.Issue] issues no other until one is redeemed or expires.
	// Only that credential is refused: answer 429 Too Many Requests. It does
	// not wrap [ErrOneTimeInvalid].
	ErrOneTimeQuota = errors.New("jwt: too many outstanding one-time tokens for the credential")
)
