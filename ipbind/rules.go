package ipbind

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrInvalidRule is wrapped by the errors [ParseRules] and [Anchor] return.
var ErrInvalidRule = errors.New("ipbind: invalid IP rule")

// ErrIPForbidden is wrapped by every refusal of [Rules.Check]. The refusal
// is a *[ForbiddenError] that names the reason.
var ErrIPForbidden = errors.New("ipbind: client IP forbidden")

// Reason codes of a [ForbiddenError], for the 403 response body.
const (
	// ReasonIPUnknown means that rules are in place and the client IP is
	// unknown.
	ReasonIPUnknown = "ip_unknown"
	// ReasonIPDenied means that the client IP matches a deny entry.
	ReasonIPDenied = "ip_denied"
	// ReasonIPNotAllowed means that the allow list is not empty and the
	// client IP matches none of its entries.
	ReasonIPNotAllowed = "ip_not_allowed"
)

// ForbiddenError is the error [Rules.Check] returns. It wraps
// [ErrIPForbidden] and never contains the address.
type ForbiddenError struct {
	// Reason is one of ReasonIPUnknown, ReasonIPDenied and
	// ReasonIPNotAllowed.
	Reason string
}

// Error implements error.
func (e *ForbiddenError) Error() string { return ErrIPForbidden.Error() + ": " + e.Reason }

// Unwrap returns [ErrIPForbidden].
func (e *ForbiddenError) Unwrap() error { return ErrIPForbidden }

// The refusals, preallocated so that Check never allocates. Compare with
// errors.Is.
var (
	// ErrIPUnknown is returned when rules exist and the client IP is
	// unknown.
	ErrIPUnknown error = &ForbiddenError{Reason: ReasonIPUnknown}
	// ErrIPDenied is returned when the client IP matches a deny entry.
	ErrIPDenied error = &ForbiddenError{Reason: ReasonIPDenied}
	// ErrIPNotAllowed is returned when the client IP is outside a
	// non-empty allow list.
	ErrIPNotAllowed error = &ForbiddenError{Reason: ReasonIPNotAllowed}
)

// Rules are allow and deny lists of IPv4 and IPv6 prefixes. The zero value
// has no rule and allows everything. Rules are immutable once parsed and
// safe for concurrent use; parse them once and keep them with the key,
// credential or token they belong to.
type Rules struct {
	allow []netip.Prefix
	deny  []netip.Prefix
}

// ParseRules parses allow and deny lists of addresses ("192.0.2.1",
// "2001:db8::1") and CIDR prefixes ("192.0.2.0/24", "2001:db8::/32").
// Surrounding spaces are ignored; a prefix with host bits set
// ("10.1.2.3/8"), a zone, an empty entry or a leading-zero IPv4 address is
// refused with an error wrapping [ErrInvalidRule].
//
// IPv4-mapped entries ("::ffff:192.0.2.1", "::ffff:192.0.2.0/120") are
// stored as IPv4, and the client address is unmapped before matching, so
// an IPv4 entry matches a client seen as IPv4-mapped IPv6 and the other way
// round. IPv6 prefixes shorter than /96, such as "::/0", match IPv6 clients
// only.
func ParseRules(allow, deny []string) (Rules, error) {
	var r Rules
	var err error
	if r.allow, err = parseList("allow", allow); err != nil {
		return Rules{}, err
	}
	if r.deny, err = parseList("deny", deny); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// Anchor returns Rules that allow ip alone: a token bound to the address of
// the client it was issued to. An invalid ip is refused with an error
// wrapping [ErrInvalidRule].
func Anchor(ip netip.Addr) (Rules, error) {
	if !ip.IsValid() {
		return Rules{}, fmt.Errorf("%w: anchor: invalid address", ErrInvalidRule)
	}
	ip = normalize(ip)
	return Rules{allow: []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())}}, nil
}

func parseList(name string, list []string) ([]netip.Prefix, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s entry %q: %s", ErrInvalidRule, name, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Empty reports whether r has no rule at all.
func (r Rules) Empty() bool { return len(r.allow) == 0 && len(r.deny) == 0 }

// Allow returns a copy of the allow list, normalised.
func (r Rules) Allow() []netip.Prefix { return append([]netip.Prefix(nil), r.allow...) }

// Deny returns a copy of the deny list, normalised.
func (r Rules) Deny() []netip.Prefix { return append([]netip.Prefix(nil), r.deny...) }

// Check returns nil when a client at ip may pass, and otherwise one of
// [ErrIPUnknown], [ErrIPDenied] and [ErrIPNotAllowed], all wrapping
// [ErrIPForbidden]. known is false (or ip invalid) when the client address
// could not be resolved: that passes only when r is empty. A deny entry
// wins over an allow entry; an empty allow list allows every address that
// is not denied. Check does not allocate.
func (r Rules) Check(ip netip.Addr, known bool) error {
	if r.Empty() {
		return nil
	}
	if !known || !ip.IsValid() {
		return ErrIPUnknown
	}
	ip = normalize(ip)
	for _, p := range r.deny {
		if p.Contains(ip) {
			return ErrIPDenied
		}
	}
	if len(r.allow) == 0 {
		return nil
	}
	for _, p := range r.allow {
		if p.Contains(ip) {
			return nil
		}
	}
	return ErrIPNotAllowed
}

// IntersectAllow returns an allow list that admits exactly the addresses
// that both allow lists a and b admit, where an empty list admits every
// address: a token's own list narrowed by its key's current one, say. Two
// prefixes are either disjoint or one holds the other, so the result is
// the narrower prefix of each overlapping pair. It returns false when the
// lists admit no address in common or an entry does not parse as
// [ParseRules] reads it: then no address must be admitted (fail closed).
// It returns a itself when b is empty or equal to it.
func IntersectAllow(a, b []string) ([]string, bool) {
	switch {
	case len(b) == 0 || slices.Equal(a, b):
		return a, true
	case len(a) == 0:
		return b, true
	}
	var out []string
	for _, x := range a {
		px, err := parsePrefix(x)
		if err != nil {
			return nil, false
		}
		for _, y := range b {
			py, err := parsePrefix(y)
			switch {
			case err != nil:
				return nil, false
			case !px.Overlaps(py):
			case px.Bits() >= py.Bits():
				out = appendNew(out, x)
			default:
				out = appendNew(out, y)
			}
		}
	}
	return out, len(out) > 0
}

// appendNew appends s to list unless it is there already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
