// Package validate holds the input rules that credentials of every kind
// share (API keys, HMAC credentials): identifiers, names, permissions and
// origin rules. Mechanism packages may not import each other; they share
// these rules through this internal package.
package validate

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate"
)

// Ident reports whether s is an identifier as accounts, stores and
// packages use them: 1 to 128 characters of A-Z a-z 0-9 and "_-.:".
func Ident(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// Text reports whether s is at most max bytes of UTF-8 text without
// control characters.
func Text(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// PrintableNoSpace reports whether s is printable ASCII without spaces.
func PrintableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// MountPrefix reports whether p is acceptable as the path prefix a
// handler is mounted under (admin.Config.Prefix, console.Config.Prefix):
// it starts with "/", does not end with "/", and holds only A-Z a-z 0-9
// - . _ ~ / without empty, "." or ".." segments.
func MountPrefix(p string) bool {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0) {
			return false
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// IPRule accepts what the IP binding can enforce: an address or a CIDR
// prefix, without a zone or host bits past the prefix.
func IPRule(s string) bool {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Zone() == "" && p.Masked() == p
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// CountryCode reports whether s is an ISO 3166-1 alpha-2 code in upper
// case.
func CountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// Credential returns why a new or updated credential (an API key, an HMAC
// credential) with grant g, name and expiry time expires is not
// acceptable at now, as a sentence for an error, or "" when it is. A zero
// expires means never.
func Credential(g keygate.Grant, name string, expires, now time.Time) string {
	switch {
	case !g.Mode.Valid():
		return "mode must be test or live"
	case !expires.IsZero() && !expires.After(now):
		return "expiry time must be in the future"
	case !Ident(g.Account):
		return "account must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
	case !Text(name, 200):
		return "name must be at most 200 bytes of text without control characters"
	case g.Package != "" && !Ident(g.Package):
		return "package must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
	}
	for _, s := range g.Stores {
		if !Ident(s) {
			return "each store must be 1 to 128 characters of A-Z a-z 0-9 _ - . :"
		}
	}
	for _, s := range g.Permissions {
		if s == "" || len(s) > 256 || !PrintableNoSpace(s) {
			return "each permission must be 1 to 256 printable ASCII characters without spaces"
		}
	}
	for _, list := range [][]string{g.AllowedIPs, g.DeniedIPs} {
		for _, s := range list {
			if !IPRule(s) {
				return "each allowed or denied IP must be an address or a CIDR prefix, without host bits or a zone"
			}
		}
	}
	for _, list := range [][]string{g.AllowedCountries, g.DeniedCountries} {
		for _, s := range list {
			if !CountryCode(s) {
				return "each country must be an ISO 3166-1 alpha-2 code in upper case"
			}
		}
	}
	return ""
}
