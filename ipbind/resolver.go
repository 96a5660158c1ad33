package ipbind

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ErrInvalidConfig is wrapped by the errors [NewResolver] returns.
var ErrInvalidConfig = errors.New("ipbind: invalid config")

// Headers selects the forwarding headers a [Resolver] reads from trusted
// proxies.
type Headers uint8

const (
	// BothHeaders, the default, reads X-Forwarded-For and Forwarded. When
	// both are present they must resolve to the same address, or the
	// client is unknown.
	BothHeaders Headers = iota
	// XForwardedForOnly reads X-Forwarded-For and ignores Forwarded.
	XForwardedForOnly
	// ForwardedOnly reads Forwarded (RFC 7239) and ignores
	// X-Forwarded-For.
	ForwardedOnly
)

// maxHops is how many hops, counted from the right, a header list may hold
// before the client is found.
const maxHops = 32

// Config configures a [Resolver].
type Config struct {
	// TrustedProxies lists the reverse proxies whose forwarding headers
	// are believed: CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") or
	// single addresses ("192.0.2.10", "::1"). A prefix must have no host
	// bits set; zones are refused. IPv4-mapped IPv6 entries
	// ("::ffff:10.0.0.0/104") are stored as their IPv4 equivalent. Empty:
	// no proxy is trusted and the client is always RemoteAddr.
	TrustedProxies []string
	// Headers selects which forwarding headers are read; the zero value
	// reads both.
	Headers Headers
}

// Resolver finds the client IP address of requests. It is immutable and
// safe for concurrent use. A nil *Resolver trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
	headers Headers
}

// NewResolver validates cfg and returns a Resolver. Errors wrap
// [ErrInvalidConfig].
func NewResolver(cfg Config) (*Resolver, error) {
	if cfg.Headers > ForwardedOnly {
		return nil, fmt.Errorf("%w: unknown Headers value %d", ErrInvalidConfig, cfg.Headers)
	}
	r := &Resolver{headers: cfg.Headers}
	for _, s := range cfg.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q: %s", ErrInvalidConfig, s, err)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// TrustedProxies returns a copy of the normalised trusted proxy prefixes.
func (r *Resolver) TrustedProxies() []netip.Prefix {
	if r == nil {
		return nil
	}
	return append([]netip.Prefix(nil), r.trusted...)
}

// ClientIP returns the normalised client address of req, following the
// rules in the package documentation, or false when the client is unknown.
// It does not allocate.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, bool) {
	peer, ok := RemoteIP(req)
	if !ok {
		return netip.Addr{}, false
	}
	if r == nil || !r.isTrusted(peer) {
		return peer, true
	}
	var c chain
	var xff, fwd []string
	if r.headers != ForwardedOnly {
		xff = req.Header["X-Forwarded-For"]
	}
	if r.headers != XForwardedForOnly {
		fwd = req.Header["Forwarded"]
	}

	for _, line := range xff {
		c.addXFF(line)
	}
	if c.n > 0 && r.headers == XForwardedForOnly {
		return c.resolve(r)
	}
	xAddr, xOK, xPresent := netip.Addr{}, false, c.n > 0
	if xPresent {
		xAddr, xOK = c.resolve(r)
	}

	c.n = 0
	for _, line := range fwd {
		c.addForwarded(line)
	}
	switch {
	case c.n == 0 && !xPresent:
		return peer, true
	case c.n == 0:
		return xAddr, xOK
	}
	fAddr, fOK := c.resolve(r)
	if !xPresent {
		return fAddr, fOK
	}
	if xOK && fOK && xAddr == fAddr {
		return xAddr, true
	}
	return netip.Addr{}, false
}

// RemoteIP returns the normalised address of the request's TCP peer
// (req.RemoteAddr, as "ip:port" or a bare "ip"), ignoring every header, or
// false when RemoteAddr is not an address. It is the key to fall back on
// when [Resolver.ClientIP] reports an unknown client, for example to rate
// limit by peer.
func RemoteIP(req *http.Request) (netip.Addr, bool) {
	s := req.RemoteAddr
	// Choose the parser up front so that a valid address never costs the
	// allocation of a parse error.
	if i := strings.IndexByte(s, ':'); i >= 0 && (s[0] == '[' || strings.IndexByte(s[i+1:], ':') < 0) {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		return normalize(ap.Addr()), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(a), true
}

// Handler returns middleware that resolves the client IP of each request
// once and, when it is known, stores it in the request context for
// [FromContext].
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if ip, ok := r.ClientIP(req); ok {
			req = req.WithContext(NewContext(req.Context(), ip))
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalize unmaps IPv4-mapped IPv6 and strips the zone.
func normalize(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// parsePrefix parses a CIDR prefix or a single address into a canonical
// prefix: no host bits, no zone, IPv4-mapped IPv6 as IPv4.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("host bits set (the network is %s)", p.Masked())
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// chain holds the rightmost maxHops hops of a header list, left to right,
// in a ring. An invalid Addr is a hop that is not an address.
type chain struct {
	hops [maxHops]netip.Addr
	n    int
}

func (c *chain) push(a netip.Addr) {
	c.hops[c.n%maxHops] = a
	c.n++
}

// resolve walks the hops from the right; c.n must be positive.
func (c *chain) resolve(r *Resolver) (netip.Addr, bool) {
	lo := max(0, c.n-maxHops)
	for i := c.n - 1; i >= lo; i-- {
		a := c.hops[i%maxHops]
		if !a.IsValid() {
			return netip.Addr{}, false
		}
		if !r.isTrusted(a) {
			return a, true
		}
	}
	if c.n > maxHops {
		return netip.Addr{}, false
	}
	return c.hops[0], true
}

// addXFF adds the entries of one X-Forwarded-For line.
func (c *chain) addXFF(line string) {
	for line != "" {
		var elem string
		if i := strings.IndexByte(line, ','); i >= 0 {
			elem, line = line[:i], line[i+1:]
		} else {
			elem, line = line, ""
		}
		if elem = trimOWS(elem); elem != "" {
			c.push(parseNode(elem))
		}
	}
}

// addForwarded adds the "for" node of each element of one Forwarded line
// (RFC 7239 section 4).
func (c *chain) addForwarded(line string) {
	i := 0
	for {
		var forVal string
		hasFor, bad, empty := false, false, true
		for {
			i = skipOWS(line, i)
			if i >= len(line) || line[i] == ',' {
				break
			}
			empty = false
			start := i
			for i < len(line) && isTchar(line[i]) {
				i++
			}
			name := line[start:i]
			if name == "" || i >= len(line) || line[i] != '=' {
				bad = true
				i = skipToComma(line, i)
				break
			}
			val, next, ok := parseValue(line, i+1)
			if !ok {
				bad = true
				i = skipToComma(line, next)
				break
			}
			i = next
			if strings.EqualFold(name, "for") {
				bad = bad || hasFor
				hasFor, forVal = true, val
			}
			i = skipOWS(line, i)
			if i >= len(line) || line[i] == ',' {
				break
			}
			if line[i] != ';' {
				bad = true
				i = skipToComma(line, i)
				break
			}
			i++
		}
		if !empty {
			if bad || !hasFor {
				c.push(netip.Addr{})
			} else {
				c.push(parseNode(forVal))
			}
		}
		if i >= len(line) {
			return
		}
		i++ // the comma
	}
}

// parseValue reads a token or quoted-string starting at line[i]. It returns
// the value (a quoted string's content without its quotes, escapes left as
// they are), the index after it, and false when the value is empty or the
// quoted string is unterminated. Unquoted values are read leniently, up to
// the next delimiter, so that an unquoted "[2001:db8::1]:80" is accepted.
func parseValue(line string, i int) (string, int, bool) {
	if i < len(line) && line[i] == '"' {
		for j := i + 1; j < len(line); j++ {
			switch line[j] {
			case '\\':
				j++
			case '"':
				return line[i+1 : j], j + 1, true
			}
		}
		return "", len(line), false
	}
	j := i
	for j < len(line) {
		if b := line[j]; b == ';' || b == ',' || b == ' ' || b == '\t' || b == '"' {
			break
		}
		j++
	}
	return line[i:j], j, j > i
}

// skipToComma returns the index of the next comma outside a quoted string,
// or len(line).
func skipToComma(line string, i int) int {
	quoted := false
	for ; i < len(line); i++ {
		switch b := line[i]; {
		case quoted && b == '\\':
			i++
		case b == '"':
			quoted = !quoted
		case !quoted && b == ',':
			return i
		}
	}
	return len(line)
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTchar reports whether b is a token character (RFC 9110 section 5.6.2).
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// parseNode parses a forwarded node: an IPv4 address, a bracketed or bare
// IPv6 address, each with an optional port. It returns the normalised
// address, or an invalid Addr for "unknown", obfuscated identifiers and
// anything malformed.
func parseNode(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}
		}
		return normalize(a)
	}
	// One colon: IPv4 with a port. Otherwise a bare address. Anything that
	// is neither (unknown, _obfuscated, garbage) fails to parse.
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		if !validPort(s[i+1:]) {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(s[:i])
		if err != nil || !a.Is4() {
			return netip.Addr{}
		}
		return a
	}
	if !validAddrStart(s[0]) {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return normalize(a)
}

// validAddrStart rejects "unknown", obfuscated identifiers and most garbage
// before netip.ParseAddr, whose errors allocate.
func validAddrStart(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' || b == ':'
}

// validPort reports whether s is a port: 1 to 5 digits up to 65535, or an
// RFC 7239 obfuscated port ("_" followed by ALPHA, DIGIT, ".", "_", "-").
func validPort(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '_' {
		if len(s) == 1 {
			return false
		}
		for i := 1; i < len(s); i++ {
			b := s[i]
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-') {
				return false
			}
		}
		return true
	}
	if len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}
