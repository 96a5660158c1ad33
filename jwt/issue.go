package jwt

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// TypeAccessToken is the JWS "typ" of access tokens (RFC 9068 §2.1).
const TypeAccessToken = "at+jwt"

// DefaultAccessTTL is the lifetime of access tokens when
// [IssuerConfig.AccessTTL] is zero.
const DefaultAccessTTL = 15 * time.Minute

// IssuerConfig configures an [Issuer].
type IssuerConfig struct {
	// Keys signs with its current key. Required.
	Keys *KeySet
	// Issuer is the "iss" of every token. Required.
	Issuer string
	// Audience is the "aud" of tokens that do not name their own.
	// Required.
	Audience string
	// AccessTTL is the lifetime of access tokens. Zero means 15 minutes.
	AccessTTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Issuer signs access tokens.
type Issuer struct {
	cfg IssuerConfig
}

// NewIssuer returns an Issuer for cfg.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	switch {
	case cfg.Keys == nil:
		return nil, fmt.Errorf("%w: IssuerConfig.Keys is required", ErrInvalidConfig)
	case !cfg.Keys.Current().CanSign():
		return nil, fmt.Errorf("%w: the current key cannot sign", ErrInvalidConfig)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, fmt.Errorf("%w: IssuerConfig.Issuer and Audience are required", ErrInvalidConfig)
	case cfg.AccessTTL < 0:
		return nil, fmt.Errorf("%w: negative AccessTTL", ErrInvalidConfig)
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{cfg: cfg}, nil
}

// AccessTTL returns the lifetime of the access tokens it issues.
func (i *Issuer) AccessTTL() time.Duration { return i.cfg.AccessTTL }

// Issue signs an access token for c with the current key. It sets iss, iat,
// exp and a random jti, and aud when c has none; c.Subject is required. It
// returns the token and the claims it carries.
//
// Issue signs in memory and does not wait: ctx is taken, like the other
// Issue methods of this package ([OneTimeTokens.Issue],
// [RefreshTokens.Issue]) take it, so that every issuing call has one shape.
func (i *Issuer) Issue(ctx context.Context, c Claims) (string, Claims, error) {
	if c.Subject == "" {
		return "", Claims{}, fmt.Errorf("%w: sub", ErrMissingClaim)
	}
	now := i.cfg.Now().Truncate(time.Second)
	c.Issuer = i.cfg.Issuer
	if len(c.Audience) == 0 {
		c.Audience = []string{i.cfg.Audience}
	}
	c.IssuedAt = now
	c.ExpiresAt = now.Add(i.cfg.AccessTTL)
	c.ID = rand.Text()
	payload, err := json.Marshal(c.wire())
	if err != nil {
		return "", Claims{}, fmt.Errorf("jwt: encode claims: %w", err)
	}
	token, err := i.cfg.Keys.Current().sign(TypeAccessToken, payload)
	if err != nil {
		return "", Claims{}, err
	}
	return token, c, nil
}

// sign produces a compact JWS of payload with the key's algorithm, kid and
// the given typ, through jwx.
func (k *Key) sign(typ string, payload []byte) (string, error) {
	if !k.CanSign() {
		return "", fmt.Errorf("%w: key %q only verifies", ErrInvalidConfig, k.id)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	if err := hdr.Set(jws.KeyIDKey, k.id); err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	var alg jwa.SignatureAlgorithm
	switch k.alg {
	case HS256:
		alg = jwa.HS256()
	case RS256:
		alg = jwa.RS256()
	case ES256:
		alg = jwa.ES256()
	case EdDSA:
		alg = jwa.EdDSA()
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, k.signingKey(), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("jwt: sign with key %q: %w", k.id, err)
	}
	return string(out), nil
}
