package geo

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrGeoForbidden is wrapped by the error [Rules.Check] returns when a
// country, or an unknown country, is refused.
var ErrGeoForbidden = errors.New("geo: country not allowed")

// ErrInvalidCode is wrapped by the error [ParseRules] returns for a country
// code that is not two upper-case ASCII letters.
var ErrInvalidCode = errors.New("geo: invalid country code")

// RulesConfig lists the countries of a geographic restriction. Codes are
// ISO 3166-1 alpha-2, in upper case ("DE", "FR"). The zero value is a
// valid, empty configuration.
type RulesConfig struct {
	// Allow, when not empty, lists the only countries allowed.
	Allow []string
	// Deny lists countries refused, whatever Allow says.
	Deny []string
	// AllowUnknown lets an address with no known country pass non-empty
	// rules. By default such an address is refused.
	AllowUnknown bool
}

// codeSpace is the number of two-letter codes, AA to ZZ.
const codeSpace = 26 * 26

// countrySet is a set of two-letter codes, one bit each.
type countrySet [(codeSpace + 63) / 64]uint64

func (s *countrySet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s *countrySet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s *countrySet) empty() bool    { return *s == countrySet{} }
func codeIndex(code string) int      { return int(code[0]-'A')*26 + int(code[1]-'A') }
func validCode(code string) bool     { return len(code) == 2 && isUpper(code[0]) && isUpper(code[1]) }
func isUpper(c byte) bool            { return 'A' <= c && c <= 'Z' }

// Rules decide whether a country may pass. Build them with [ParseRules].
// The zero value is empty and allows everything. Rules are immutable
// values, safe for concurrent use.
type Rules struct {
	allow, deny  countrySet
	allowUnknown bool
}

// ParseRules validates cfg and returns its rules. Every code must be two
// upper-case ASCII letters; duplicates are harmless, and a country both
// allowed and denied is denied.
func ParseRules(cfg RulesConfig) (Rules, error) {
	r := Rules{allowUnknown: cfg.AllowUnknown}
	for _, list := range []struct {
		name string
		set  *countrySet
		code []string
	}{{"allow", &r.allow, cfg.Allow}, {"deny", &r.deny, cfg.Deny}} {
		for _, c := range list.code {
			if !validCode(c) {
				return Rules{}, fmt.Errorf("%w in %s list: %q (want two upper-case letters, such as \"DE\")", ErrInvalidCode, list.name, c)
			}
			list.set.add(codeIndex(c))
		}
	}
	return r, nil
}

// Empty reports whether r lists no country, so that it allows every
// address and no lookup is needed.
func (r Rules) Empty() bool {
	return r.allow.empty() && r.deny.empty()
}

// Check decides on a country as returned by [Resolver.Country]: code, and
// ok false when the country is unknown. It returns nil or an error wrapping
// [ErrGeoForbidden]. Empty rules allow everything; otherwise a denied
// country is refused, then a country missing from a non-empty allow list,
// then an unknown country unless [RulesConfig.AllowUnknown] was set. A code
// that is not two upper-case letters counts as unknown.
func (r Rules) Check(code string, ok bool) error {
	if r.Empty() {
		return nil
	}
	if !ok || !validCode(code) {
		if r.allowUnknown {
			return nil
		}
		return fmt.Errorf("%w: unknown country", ErrGeoForbidden)
	}
	i := codeIndex(code)
	if r.deny.has(i) {
		return fmt.Errorf("%w: %s is denied", ErrGeoForbidden, code)
	}
	if !r.allow.empty() && !r.allow.has(i) {
		return fmt.Errorf("%w: %s is not allowed", ErrGeoForbidden, code)
	}
	return nil
}

// CheckAddr resolves ip with res and checks its country. Empty rules return
// nil without a lookup. A lookup error is returned as is (it does not wrap
// [ErrGeoForbidden]); a nil res makes every country unknown.
func (r Rules) CheckAddr(res Resolver, ip netip.Addr) error {
	if r.Empty() {
		return nil
	}
	var (
		code string
		ok   bool
	)
	if res != nil {
		var err error
		if code, ok, err = res.Country(ip); err != nil {
			return err
		}
	}
	return r.Check(code, ok)
}
