// Package jwt issues and verifies keygate's signed access tokens (JWT, RFC
// 7519, in the RFC 9068 profile), and publishes the public keys as a JWKS.
//
// # Keys
//
// A [Key] has a key ID and one pinned [Algorithm]: HS256, RS256, ES256 or
// EdDSA. Weak keys are refused when a key is built (HMAC secrets under 32
// bytes, RSA under 2048 bits). A [KeySet] holds the current signing key and
// older keys that keep verifying until they are retired, and serves
// /.well-known/jwks.json with public keys only.
//
// # Strict verification
//
// [Verifier.Verify] refuses, in this order:
//   - anything but a compact JWS of three non-empty segments, over 8 KiB,
//     with non-canonical or padded base64url, a header or payload that is
//     not a JSON object, or duplicate member names at any depth;
//   - headers with crit (empty or not), jwk, jku, x5u, x5c, b64 or zip
//     (no key named by a token is ever fetched or trusted);
//   - an unknown kid, or an alg other than the key's pinned one ("none",
//     "NONE", HS256 signed with an RSA public key as its secret);
//   - a bad signature (reported as such even when the token has also
//     expired);
//   - a typ other than "at+jwt", so that no other kind of token passes as
//     an access token;
//   - a missing exp, iat, sub or jti; exp, nbf or iat that are not numbers
//     in range; exp passed, or nbf or iat in the future, beyond the leeway
//     (30 s by default, with an injectable clock); a wrong iss; an aud
//     without the expected audience;
//   - a revoked jti, session (sid: a revoked refresh-token family) or
//     subject ([Denylist]).
//
// Whether the key that obtained a token is still valid is not the
// verifier's concern: package middleware checks it on every request and
// at introspection (middleware.CheckTokenClient).
//
// # Refresh and one-time tokens
//
// Both are opaque (a prefix and 256 random bits), stored only as SHA-256,
// and kept in small stores with atomic operations ([RefreshStore],
// [OneTimeStore]; in-memory defaults; conformance suites in package
// jwttest).
//
// [RefreshTokens] rotates a refresh token on every use. A rotated token
// presented again revokes its whole family, including the token issued in
// exchange, and reports a [keygate.ActionRefreshReuse] change for the audit
// log (RFC 9700 §4.14.2); there is no grace window, so of two concurrent
// refreshes with one token, one wins and the other counts as reuse. Each refresh slides an
// idle timeout within an absolute lifetime. One client and subject hold at
// most [RefreshConfig.MaxFamilies] open families (100 by default): a new
// sign-in beyond it revokes the oldest ([RefreshTokens.Issue] says why).
// With [RefreshConfig.Denylist], a family that is revoked, or whose reuse
// is detected, takes its access tokens with it: they carry the family's ID
// as sid ([Claims.Session]).
//
// [OneTimeTokens] issues short-lived tokens bound to a purpose, the caller
// that obtained them and optionally a method, path, entity and body. A
// token is consumed atomically before it is checked, so of concurrent
// uses exactly one succeeds, and a token that reaches the wrong route is
// burnt. One credential (account and key ID) holds at most
// [OneTimeConfig.MaxPerKey] outstanding tokens (1,000 by default); beyond
// it Issue refuses with [ErrOneTimeQuota], and only that credential is
// refused. Every [OneTimeStore] enforces the bound atomically.
//
// # Why the standard library verifies
//
// Tokens are signed through github.com/lestrrat-go/jwx/v3, which also builds
// the JWKS. Verification composes the standard library's primitives
// (crypto/hmac, crypto/rsa, crypto/ecdsa, crypto/ed25519) after keygate's
// own strict parsing: jwx is lenient where keygate must be strict (it
// accepts a header alg that differs from the pinned one, unknown crit, a
// missing exp, non-canonical base64 and padding), and its full parse costs
// about ten times the cryptography itself. Tests cross-check every
// algorithm against jwx and github.com/golang-jwt/jwt/v5.
package jwt
