package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Header names set by [SetHeaders], as the draft spells them. [SetHeaders]
// stores them under their canonical net/http keys ("Ratelimit-Policy",
// "Ratelimit", "Retry-After"); field names are case-insensitive, and
// h.Get(HeaderRateLimit) finds them.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderRetryAfter = "Retry-After"
)

// SetHeaders writes the rate-limit fields of
// draft-ietf-httpapi-ratelimit-headers for policy p and decision d,
// replacing any already in h. Both are structured-field lists (RFC 9651)
// of one item, the policy name as a string:
//
//	RateLimit-Policy: "<name>";q=<Limit>;w=<Window in seconds>
//	RateLimit: "<name>";r=<Remaining>;t=<Reset in seconds>
//
// The name is p.Name, or "default" when empty; '"' and '\' are escaped and
// bytes outside printable ASCII are written as '?'. w and t are whole
// seconds rounded up (w at least 1, t at least 0). When d is a refusal,
// Retry-After is also set, in whole seconds rounded up and at least 1. For
// example, with Policy{Name: "live", Limit: 20, Window: 10 * time.Second},
// a fresh key's first request gives
//
//	RateLimit-Policy: "live";q=20;w=10
//	RateLimit: "live";r=19;t=1
//
// and a refusal right after a burst of 20 gives
//
//	RateLimit-Policy: "live";q=20;w=10
//	RateLimit: "live";r=0;t=10
//	Retry-After: 1
//
// An unlimited policy sets nothing.
func SetHeaders(h http.Header, p Policy, d Decision) {
	if p.Unlimited() {
		return
	}
	var buf [96]byte
	name := appendName(buf[:0], p.Name)
	n := len(name)

	b := append(name, ";q="...)
	b = strconv.AppendInt(b, int64(p.Limit), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(ceilSeconds(p.Window), 1), 10)
	set(h, "Ratelimit-Policy", string(b))

	b = append(b[:n], ";r="...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, max(ceilSeconds(d.Reset), 0), 10)
	set(h, "Ratelimit", string(b))

	if !d.Allowed {
		set(h, "Retry-After", strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

// set is h.Set for a canonical key, reusing a one-value slice already there.
func set(h http.Header, key, value string) {
	if v := h[key]; len(v) == 1 {
		v[0] = value
		return
	}
	h[key] = []string{value}
}

// appendName appends name (or "default") as a structured-field string.
func appendName(b []byte, name string) []byte {
	if name == "" {
		name = "default"
	}
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}
