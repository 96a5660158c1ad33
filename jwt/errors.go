package jwt

import (
	"errors"
	"fmt"
)

// Errors returned by this package; test for them with [errors.Is]. No error
// ever contains a token, a secret or a claim value.
var (
	// ErrTokenInvalid is wrapped by every error that rejects an access
	// token: [ErrMalformed], [ErrUnsupportedHeader], [ErrUnknownKey],
	// [ErrAlgorithm], [ErrSignature], [ErrType], [ErrMissingClaim],
	// [ErrExpired], [ErrNotYetValid], [ErrIssuer], [ErrAudience] and
	// [ErrRevoked]. One errors.Is against it tells a bad token from a store
	// failure; the specific errors tell the reason. (Refresh and one-time
	// tokens have their own umbrellas, [ErrRefreshInvalid] and
	// [ErrOneTimeInvalid].)
	ErrTokenInvalid = errors.New("jwt: token rejected")
	// ErrMalformed is returned for a token that is not a compact JWS of the
	// accepted form (size, segments, base64url, JSON, duplicate member
	// names, claim types).
	ErrMalformed error = &rejection{"jwt: malformed token"}
	// ErrUnsupportedHeader is returned when the header asks for something
	// keygate never does: crit extensions, an embedded or remote key (jwk, jku,
	// x5u, x5c), an unencoded payload (b64) or compression (zip).
	ErrUnsupportedHeader error = &rejection{"jwt: unsupported header parameter"}
	// ErrUnknownKey is returned when no key has the token's kid.
	ErrUnknownKey error = &rejection{"jwt: unknown key ID"}
	// ErrAlgorithm is returned when the header's alg is not the algorithm
	// pinned to the key.
	ErrAlgorithm error = &rejection{"jwt: algorithm does not match the key"}
	// ErrSignature is returned when the signature does not verify. It is
	// reported before any claim check, so an expired token with a bad signature
	// is a bad signature.
	ErrSignature error = &rejection{"jwt: invalid signature"}
	// ErrType is returned when the header's typ is not the expected token type.
	ErrType error = &rejection{"jwt: wrong token type"}
	// ErrMissingClaim is returned when a required claim (exp, iat, jti, iss,
	// aud, sub) is absent.
	ErrMissingClaim error = &rejection{"jwt: missing claim"}
	// ErrExpired is returned when exp has passed (beyond the leeway).
	ErrExpired error = &rejection{"jwt: token expired"}
	// ErrNotYetValid is returned when nbf or iat is in the future (beyond the
	// leeway).
	ErrNotYetValid error = &rejection{"jwt: token not yet valid"}
	// ErrIssuer is returned when iss is not the expected issuer.
	ErrIssuer error = &rejection{"jwt: wrong issuer"}
	// ErrAudience is returned when aud does not contain the expected audience.
	ErrAudience error = &rejection{"jwt: wrong audience"}
	// ErrRevoked is returned when the token's jti, or its subject since before
	// it was issued, has been revoked.
	ErrRevoked error = &rejection{"jwt: token revoked"}

	// ErrWeakKey is returned for a key below the minimum size or of an
	// unsupported type.
	ErrWeakKey = errors.New("jwt: weak or unsupported key")
	// ErrInvalidKeyID is returned for a key ID that is empty, too long or
	// not printable.
	ErrInvalidKeyID = errors.New("jwt: invalid key ID")
	// ErrInvalidConfig is returned for a configuration that cannot work.
	ErrInvalidConfig = errors.New("jwt: invalid configuration")
	// ErrNoPrivateKey is returned when the key only verifies; it has no secret
	// to export.
	ErrNoPrivateKey = errors.New("jwt: the key has no private part")
	// ErrInvalidKeyData is returned for data that [ParsePrivate] cannot read
	// as a key.
	ErrInvalidKeyData = errors.New("jwt: invalid key data")
)

// rejection is the error type of the access-token rejections: each has its
// own message and is also [ErrTokenInvalid] for [errors.Is].
type rejection struct{ msg string }

func (e *rejection) Error() string { return e.msg }

// Is reports whether target is [ErrTokenInvalid], the umbrella of every
// access-token rejection.
func (e *rejection) Is(target error) bool { return target == ErrTokenInvalid }

// The specific forms of malformation, preallocated.
var (
	errTooLarge         = fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	errSegments         = fmt.Errorf("%w: not three non-empty segments", ErrMalformed)
	errBase64           = fmt.Errorf("%w: not canonical unpadded base64url", ErrMalformed)
	errJSON             = fmt.Errorf("%w: not a JSON object of the expected shape", ErrMalformed)
	errDuplicateName    = fmt.Errorf("%w: duplicate JSON member name", ErrMalformed)
	errCrit             = fmt.Errorf("%w: crit", ErrUnsupportedHeader)
	errEmbeddedKey      = fmt.Errorf("%w: embedded or remote key (jwk, jku, x5u, x5c)", ErrUnsupportedHeader)
	errUnsupportedParam = fmt.Errorf("%w: b64 or zip", ErrUnsupportedHeader)
)
