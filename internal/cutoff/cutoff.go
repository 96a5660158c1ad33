// Package cutoff holds the token cut-off rule that every credential
// (API keys, HMAC credentials) and accounts share: the tokens obtained at
// or before a "tokens not before" time are refused. Mechanism packages may
// not import each other; they share the rule through this internal
// package.
package cutoff

import "time"

// Applies reports whether a token issued at issuedAt is cut off by
// notBefore (zero: no cut-off). The comparison is in whole seconds, the
// resolution of a JWT's iat: a token issued in the very second of the
// cut-off is cut off too (it may have been obtained just before it), so a
// client that obtains a token in the second after the cut-off may have to
// obtain it again.
func Applies(notBefore, issuedAt time.Time) bool {
	return !notBefore.IsZero() && issuedAt.Unix() <= notBefore.Unix()
}
