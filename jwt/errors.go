package jwt

import (
	"errors"
	"fmt"
)

// Errors returned by this package; test for them with [errors.Is]. No error
// ever contains a token, a secret or a claim value.
var (
	// ErrMalformed: not a compact JWS of the accepted form (size,
	// segments, base64url, JSON, duplicate member names, claim types).
	ErrMalformed = errors.New("jwt: malformed token")
	// ErrUnsupportedHeader: the header asks for something keygate never
	// does: crit extensions, an embedded or remote key (jwk, jku, x5u,
	// x5c), an unencoded payload (b64) or compression (zip).
	ErrUnsupportedHeader = errors.New("jwt: unsupported header parameter")
	// ErrUnknownKey: no key with the token's kid.
	ErrUnknownKey = errors.New("jwt: unknown key ID")
	// ErrAlgorithm: the header's alg is not the algorithm pinned to the key.
	ErrAlgorithm = errors.New("jwt: algorithm does not match the key")
	// ErrSignature: the signature does not verify. It is reported before
	// any claim check, so an expired token with a bad signature is a bad
	// signature.
	ErrSignature = errors.New("jwt: invalid signature")
	// ErrType: the header's typ is not the expected token type.
	ErrType = errors.New("jwt: wrong token type")
	// ErrMissingClaim: a required claim (exp, iat, jti, iss, aud, sub) is
	// absent.
	ErrMissingClaim = errors.New("jwt: missing claim")
	// ErrExpired: exp has passed (beyond the leeway).
	ErrExpired = errors.New("jwt: token expired")
	// ErrNotYetValid: nbf or iat is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("jwt: token not yet valid")
	// ErrIssuer: iss is not the expected issuer.
	ErrIssuer = errors.New("jwt: wrong issuer")
	// ErrAudience: aud does not contain the expected audience.
	ErrAudience = errors.New("jwt: wrong audience")
	// ErrRevoked: the token's jti, or its subject since before it was
	// issued, has been revoked.
	ErrRevoked = errors.New("jwt: token revoked")

	// ErrWeakKey: a key below the minimum size or of an unsupported type.
	ErrWeakKey = errors.New("jwt: weak or unsupported key")
	// ErrInvalidKeyID: a key ID that is empty, too long or not printable.
	ErrInvalidKeyID = errors.New("jwt: invalid key ID")
	// ErrInvalidConfig: a configuration that cannot work.
	ErrInvalidConfig = errors.New("jwt: invalid configuration")
	// ErrNoPrivateKey: the key only verifies; it has no secret to export.
	ErrNoPrivateKey = errors.New("jwt: the key has no private part")
	// ErrInvalidKeyData: data that [ParsePrivate] cannot read as a key.
	ErrInvalidKeyData = errors.New("jwt: invalid key data")
)

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
