package jwt

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
// [VerifierConfig.Leeway] is zero.
const DefaultLeeway = 30 * time.Second

// VerifierConfig configures a [Verifier].
type VerifierConfig struct {
	// Keys finds the key named by a token's kid. Required.
	Keys *KeySet
	// Issuer is the required "iss". Required.
	Issuer string
	// Audience must be in the token's "aud". Required.
	Audience string
	// Leeway is the clock skew allowed. Zero means 30 seconds; negative
	// means none; at most [RevocationMargin].
	Leeway time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Denylist holds revocations. Nil means a new [MemoryDenylist].
	Denylist Denylist
	// CacheSize bounds the cache of verified tokens (see [Verifier.Verify]).
	// Zero means [DefaultCacheSize]; negative disables the cache.
	CacheSize int
}

// Verifier verifies access tokens strictly. It is safe for concurrent use.
type Verifier struct {
	cfg   VerifierConfig
	cache *tokenCache // nil when disabled
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	switch {
	case cfg.Keys == nil:
		return nil, fmt.Errorf("%w: VerifierConfig.Keys is required", ErrInvalidConfig)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, fmt.Errorf("%w: VerifierConfig.Issuer and Audience are required", ErrInvalidConfig)
	case cfg.Leeway > RevocationMargin:
		return nil, fmt.Errorf("%w: Leeway over %v would outlive revocations", ErrInvalidConfig, RevocationMargin)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Denylist == nil {
		cfg.Denylist = NewMemoryDenylist()
	}
	v := &Verifier{cfg: cfg}
	if cfg.CacheSize >= 0 {
		v.cache = newTokenCache(cmp.Or(cfg.CacheSize, DefaultCacheSize))
	}
	return v, nil
}

// Denylist returns the verifier's revocation store.
func (v *Verifier) Denylist() Denylist { return v.cfg.Denylist }

// Verify checks an access token and returns its claims. The order is fixed:
// form and header (see [ErrMalformed], [ErrUnsupportedHeader]), the key
// named by kid and its pinned algorithm, the signature, the type, then the
// claims (exp required; exp, nbf and iat within the leeway; iss; aud; sub
// and jti present), then revocation. Errors never contain the token.
//
// A token that passed is remembered in a bounded cache keyed by a hash of
// the token. When it comes again, only its expiry (with the leeway), its key
// (a retired key's tokens stop at once; a new key under the old kid verifies
// afresh) and the denylist (revocation takes effect at once) are checked
// again.
//
// The returned claims may share their slices with the cache: treat them as
// read-only.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if v.cache != nil {
		if e, ok := v.cache.get(token); ok {
			// The very key that verified the token must still be in the
			// set: a retired key, or another key that took its kid, no
			// longer vouches for it.
			if k, ok := v.cfg.Keys.Lookup(e.key.id); !ok || k != e.key {
				return v.verifyUncached(ctx, token)
			}
			if expired(e.claims, v.cfg.Now(), v.cfg.Leeway) {
				return Claims{}, ErrExpired
			}
			if err := v.checkRevoked(ctx, &e.claims); err != nil {
				return Claims{}, err
			}
			return e.claims, nil
		}
	}
	return v.verifyUncached(ctx, token)
}

// verifyUncached runs every check and caches a token that passes.
func (v *Verifier) verifyUncached(ctx context.Context, token string) (Claims, error) {
	payload, key, err := v.verifySignature(token, TypeAccessToken)
	if err != nil {
		return Claims{}, err
	}
	var w wireClaims
	if err := decodeClaimsInto(payload, &w); err != nil {
		return Claims{}, err
	}
	c := w.claims()
	if err := v.checkClaims(&w, &c); err != nil {
		return Claims{}, err
	}
	if err := v.checkRevoked(ctx, &c); err != nil {
		return Claims{}, err
	}
	if v.cache != nil {
		v.cache.put(token, key, c)
	}
	return c, nil
}

// checkRevoked asks the denylist about c.
func (v *Verifier) checkRevoked(ctx context.Context, c *Claims) error {
	revoked, err := v.cfg.Denylist.IsRevoked(ctx, c.ID, c.Subject, c.Session, c.IssuedAt)
	if err != nil {
		return fmt.Errorf("jwt: revocation check: %w", err)
	}
	if revoked {
		return ErrRevoked
	}
	return nil
}

// verifySignature runs every check up to the signature and the type, and
// returns the decoded payload and the key that verified it.
func (v *Verifier) verifySignature(token, typ string) (string, *Key, error) {
	var sigBuf [sigBufLen]byte
	p, sig, err := parseInto(token, sigBuf[:])
	if err != nil {
		return "", nil, err
	}
	key, ok := v.cfg.Keys.Lookup(p.header.Kid)
	if !ok {
		return "", nil, ErrUnknownKey
	}
	if err := checkSignatureOf(p.header.Alg, p.signingInput, sig, key); err != nil {
		return "", nil, err
	}
	if !typeIs(p.header.Typ, typ) {
		return "", nil, ErrType
	}
	if p.isDecoded {
		return p.decoded, key, nil
	}
	payload, err := decodeSegmentString(p.payload)
	return payload, key, err
}

// checkSignature checks the header's alg against the key's pinned one, then
// the signature.
func checkSignature(p parsed, key *Key) error {
	return checkSignatureOf(p.header.Alg, p.signingInput, p.signature, key)
}

// checkSignatureOf checks alg, a header's, against the key's pinned one,
// then the signature sig over input.
func checkSignatureOf(alg, input string, sig []byte, key *Key) error {
	if alg != string(key.alg) {
		return ErrAlgorithm // "none", "NONE", HS256 against an RSA key, ...
	}
	if !key.verify(input, sig) {
		return ErrSignature
	}
	return nil
}

// typeIs compares a typ header with the expected type, case-insensitively
// and with or without the "application/" prefix (RFC 7515 §4.1.9, RFC 9068
// §4).
func typeIs(got, want string) bool {
	if len(got) > len("application/") && strings.EqualFold(got[:len("application/")], "application/") {
		got = got[len("application/"):]
	}
	return strings.EqualFold(got, want)
}

// checkClaims checks the registered claims of an access token.
func (v *Verifier) checkClaims(w *wireClaims, c *Claims) error {
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	switch {
	case !w.Exp.set:
		return fmt.Errorf("%w: exp", ErrMissingClaim)
	case !w.Iat.set:
		return fmt.Errorf("%w: iat", ErrMissingClaim)
	case c.ID == "":
		return fmt.Errorf("%w: jti", ErrMissingClaim)
	case c.Subject == "":
		return fmt.Errorf("%w: sub", ErrMissingClaim)
	case c.Issuer == "":
		return fmt.Errorf("%w: iss", ErrMissingClaim)
	case c.Audience == nil:
		return fmt.Errorf("%w: aud", ErrMissingClaim)
	case !now.Before(c.ExpiresAt.Add(leeway)):
		return ErrExpired
	case w.Nbf.set && now.Add(leeway).Before(c.NotBefore):
		return ErrNotYetValid
	case now.Add(leeway).Before(c.IssuedAt):
		return ErrNotYetValid
	case c.Issuer != v.cfg.Issuer:
		return ErrIssuer
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return ErrAudience
	}
	return nil
}

// VerifySignature checks a compact JWS with one given key, at the JWS level
// only: the same strict form and header checks as [Verifier.Verify], the
// key's pinned algorithm and the signature, but no kid, type or claims.
// It returns the decoded payload. It is for tokens that are not keygate
// access tokens, such as test vectors.
func VerifySignature(token string, key *Key) ([]byte, error) {
	p, err := parse(token)
	if err != nil {
		return nil, err
	}
	if err := checkSignature(p, key); err != nil {
		return nil, err
	}
	return decodeSegment(p.payload)
}
