package middleware

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/jwt"
)

// ClientKeys finds the API key that obtained a token, by its key ID (an
// access token's client_id, a one-time token's KeyID). [*apikey.Manager]
// implements it; behind an [apikey.CachedStore] a lookup is a map lookup,
// and a revocation reaches every instance as fast as the key's own.
type ClientKeys interface {
	// Lookup returns the key's record, or an error wrapping
	// [apikey.ErrNotFound] (or a store error). The record is only read.
	Lookup(ctx context.Context, id string) (apikey.Record, error)
}

// ClientKeysFunc adapts a function, such as an [apikey.Store]'s or
// [*apikey.Manager]'s Get, to [ClientKeys].
type ClientKeysFunc func(ctx context.Context, id string) (apikey.Record, error)

// Lookup calls f.
func (f ClientKeysFunc) Lookup(ctx context.Context, id string) (apikey.Record, error) {
	return f(ctx, id)
}

// ClientCredentials finds the HMAC credential that obtained a one-time
// token. [*httpsig.Manager] implements it.
type ClientCredentials interface {
	// Get returns the credential, or an error wrapping
	// [httpsig.ErrNotFound] (or a store error).
	Get(ctx context.Context, keyID string) (httpsig.Credential, error)
}

// ErrClientInvalid is returned when the token is well-formed and unexpired, but
// the credential that obtained it is no longer valid: revoked, disabled,
// expired, awaiting review, gone, rotated without grace or disabled after the
// token was issued (see [apikey.Record.CutOff] and [httpsig.Credential.CutOff]),
// or no longer holding any of the token's permissions. It wraps
// [ErrInvalidToken]: 401 invalid_token.
var ErrClientInvalid = fmt.Errorf("%w: the credential that obtained the token is no longer valid", ErrInvalidToken)

// CheckTokenClient is the one rule that ties an access token to the API
// key that obtained it (claims.ClientID): the key must exist, be usable at
// now ([apikey.Record.Usable]) and not have cut the token off
// ([apikey.Record.CutOff] with the token's iat). It returns the key's
// current record, or an error wrapping [ErrClientInvalid] (or a store
// error, which must fail closed). The [Authenticator] applies it to every
// access token when Config.ClientKeys is set, and token introspection
// (package oauth) applies it too, so that a token is never accepted or
// reported active after its key was revoked.
//
// A token without client_id is refused.
func CheckTokenClient(ctx context.Context, keys ClientKeys, c jwt.Claims, now time.Time) (apikey.Record, error) {
	var rec apikey.Record
	if err := checkTokenClient(ctx, keys, c.ClientID, c.IssuedAt, now, &rec); err != nil {
		return apikey.Record{}, err
	}
	return rec, nil
}

// checkTokenClient is [CheckTokenClient] for a token of that client ID
// issued at issuedAt, leaving the key's record in rec (the middleware's
// request path: no copies of the claims or the record through the
// calls).
func checkTokenClient(ctx context.Context, keys ClientKeys, clientID string, issuedAt, now time.Time, rec *apikey.Record) error {
	if clientID == "" {
		return ErrClientInvalid
	}
	var err error
	if m, ok := keys.(*apikey.Manager); ok {
		err = m.LookupInto(ctx, clientID, rec)
	} else {
		err = lookupClientKey(ctx, keys, clientID, rec)
	}
	switch {
	case errors.Is(err, apikey.ErrNotFound):
		return ErrClientInvalid
	case err != nil:
		return fmt.Errorf("middleware: look up the token's client key: %w", err)
	case clientKeyRefuses(rec, clientID, issuedAt, now):
		return ErrClientInvalid
	}
	return nil
}

// lookupClientKey is keys.Lookup writing the record into rec. Not
// inlined, so that the record Lookup returns is on this frame alone, not
// on checkTokenClient's beneath the lookup of an *apikey.Manager, which
// writes in place (see Authenticator.authenticateToken).
//
//go:noinline
func lookupClientKey(ctx context.Context, keys ClientKeys, id string, rec *apikey.Record) error {
	var err error
	*rec, err = keys.Lookup(ctx, id)
	return err
}

// clientKeyRefuses reports whether rec, the record of the key clientID
// names, refuses at now its token issued at issuedAt: another key's, not
// usable, or cut off. Not
// inlined: Record's Usable and CutOff take the record by value, and their
// two copies of it belong in this frame, not in checkTokenClient's, which
// is on the stack beneath the key's lookup (see
// Authenticator.authenticateToken).
//
//go:noinline
func clientKeyRefuses(rec *apikey.Record, clientID string, issuedAt, now time.Time) bool {
	return rec.ID != clientID || rec.Usable(now) != nil || rec.CutOff(issuedAt)
}

// checkOneTimeClient refuses a one-time token whose credential is no
// longer usable: an HMAC credential (a key ID with [httpsig.KeyIDPrefix])
// through Config.ClientCredentials ([httpsig.Credential.Usable], and its
// cut-off: [httpsig.Credential.CutOff] with the token's issue time), any
// other through Config.ClientKeys ([CheckTokenClient], the cut-off
// included).
// A credential kind the Authenticator cannot look up is not checked.
func (a *Authenticator) checkOneTimeClient(ctx context.Context, rec jwt.OneTimeRecord) error {
	switch {
	case rec.KeyID == "":
		return nil // obtained by no credential the issuer named
	case strings.HasPrefix(rec.KeyID, httpsig.KeyIDPrefix) && a.clientCreds != nil:
		c, err := a.clientCreds.Get(ctx, rec.KeyID)
		switch {
		case errors.Is(err, httpsig.ErrNotFound):
			return ErrClientInvalid
		case err != nil:
			return fmt.Errorf("middleware: look up the one-time token's credential: %w", err)
		case c.KeyID != rec.KeyID || c.Usable(a.now()) != nil || c.CutOff(rec.IssuedAt):
			return ErrClientInvalid
		}
		return nil
	case !strings.HasPrefix(rec.KeyID, httpsig.KeyIDPrefix) && a.clientKeys != nil:
		_, err := CheckTokenClient(ctx, a.clientKeys, jwt.Claims{ClientID: rec.KeyID, IssuedAt: rec.IssuedAt}, a.now())
		return err
	}
	return nil
}

// narrowToClient applies the client key's current state to the Principal
// and grant g of one of its access tokens: its permissions and stores are
// the token's that the key still holds ([NarrowToKey], as the refresh
// grant narrows them), and the key's current origin rules apply as well
// as the token's own (the allowed addresses and countries are those both
// admit, the denied ones those either denies). It allocates only when
// something was narrowed.
func (a *Authenticator) narrowToClient(p *keygate.Principal, g *keygate.Grant, rec *apikey.Record) error {
	var err error
	if p.Permissions, err = a.narrowToKey(p.Permissions, rec.Permissions); err != nil {
		return err
	}
	p.Stores = intersectStrings(p.Stores, rec.Stores)
	g.AllowedIPs = intersectAllowedIPs(g.AllowedIPs, rec.AllowedIPs)
	g.DeniedIPs = union(g.DeniedIPs, rec.DeniedIPs)
	g.AllowedCountries = intersectAllowed(g.AllowedCountries, rec.AllowedCountries)
	g.DeniedCountries = union(g.DeniedCountries, rec.DeniedCountries)
	return nil
}

// admitsNobody is an allow-list entry that no parser accepts: a list that
// holds it makes the credential's origin rules unenforceable, and the
// Authenticator then refuses every address (fail closed). It stands for
// "the token's and the key's lists have nothing in common".
const admitsNobody = "!none"

// NarrowToKey returns the permissions of a token (an access token, or a
// refresh family's) that its client key, whose stored permission list is
// now keyPerms, still grants: the Authenticator applies it to every access
// token, and the token endpoint to every refresh. Empty permissions mean a
// standard credential, which holds exactly its package:
//
//   - a token without permissions is standard if its key is, and takes
//     its key's list otherwise;
//   - a standard key keeps only the token's permissions that a package
//     could include ([access.Packages.Packaged], with
//     AccessConfig.Packages: never an admin permission, a "*" module or a
//     role), which the account's package then bounds;
//   - otherwise each of the token's permissions stays when the key's list
//     holds it or includes it ([access.ListIncludes]: "orders:read" stays
//     under a key's "orders:*").
//
// A token none of whose permissions the key still holds is refused with
// [ErrClientInvalid], never turned into a standard one. It returns
// tokenPerms itself when nothing is dropped, and allocates only when
// something is.
func (a *Authenticator) NarrowToKey(tokenPerms, keyPerms []string) ([]string, error) {
	if a.access == nil {
		return nil, errNotConfigured
	}
	return a.narrowToKey(tokenPerms, keyPerms)
}

func (a *Authenticator) narrowToKey(tokenPerms, keyPerms []string) ([]string, error) {
	if len(tokenPerms) == 0 {
		return slices.Clone(keyPerms), nil // nil for a standard key
	}
	held := func(t string) bool { return access.ListIncludes(keyPerms, t) }
	if len(keyPerms) == 0 {
		packages := a.access.cfg.Packages
		held = func(t string) bool {
			p, err := access.ParsePermission(t) // a "@role" does not parse: dropped
			return err == nil && packages.Packaged(p)
		}
	}
	drop := 0
	for _, t := range tokenPerms {
		if !held(t) {
			drop++
		}
	}
	if drop == 0 {
		return tokenPerms, nil
	}
	if drop == len(tokenPerms) {
		return nil, ErrClientInvalid
	}
	out := make([]string, 0, len(tokenPerms)-drop)
	for _, t := range tokenPerms {
		if held(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// intersectStrings returns the elements of a that are also in b, in a's
// order: a itself when nothing is dropped, a new slice otherwise.
func intersectStrings(a, b []string) []string {
	drop := 0
	for _, s := range a {
		if !slices.Contains(b, s) {
			drop++
		}
	}
	if drop == 0 {
		return a
	}
	out := make([]string, 0, len(a)-drop)
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// intersectAllowed intersects two allow lists of countries, where an
// empty list allows everything.
func intersectAllowed(a, b []string) []string {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	}
	if out := intersectStrings(a, b); len(out) > 0 {
		return out
	}
	return []string{admitsNobody}
}

// union returns a and the elements of b it lacks: a itself when it has
// them all.
func union(a, b []string) []string {
	var out []string
	for _, s := range b {
		if !slices.Contains(a, s) && !slices.Contains(out, s) {
			if out == nil {
				out = slices.Clip(slices.Clone(a))
			}
			out = append(out, s)
		}
	}
	if out == nil {
		return a
	}
	return out
}

// intersectAllowedIPs intersects two allow lists of addresses and CIDR
// prefixes ([ipbind.IntersectAllow]); lists with no address in common, or
// an entry that does not parse, admit nobody.
func intersectAllowedIPs(a, b []string) []string {
	if out, ok := ipbind.IntersectAllow(a, b); ok {
		return out
	}
	return []string{admitsNobody}
}
