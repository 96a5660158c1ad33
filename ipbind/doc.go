// Package ipbind resolves the client IP address of a request behind trusted
// reverse proxies and checks it against allow and deny lists.
//
// # Client IP
//
// A [Resolver] returns the address of the TCP peer (the request's
// RemoteAddr) unless that peer is one of the configured trusted proxies
// ([Config.TrustedProxies]). Only then are the X-Forwarded-For and
// Forwarded (RFC 7239) headers read. With no trusted proxies configured the
// headers are ignored entirely, so a client cannot choose its own address
// by sending them.
//
// The rules, applied by [Resolver.ClientIP]:
//
//  1. The peer is RemoteAddr parsed as "ip:port" or a bare "ip". If it does
//     not parse, the client is unknown.
//  2. If the peer is not trusted, it is the client.
//  3. Otherwise each header is read as one list of hops: several header
//     lines are concatenated in the order received, elements are separated
//     by commas, and empty elements are ignored (RFC 9110 list rules). For
//     Forwarded, the hop is the element's "for" parameter (token or quoted
//     string; the parameter name is case-insensitive).
//  4. The list is walked from the right. A hop that is a trusted proxy is
//     skipped; the first hop that is not is the client. If every hop is
//     trusted, the leftmost hop is the client.
//  5. Reaching a hop that is not an address before finding the client
//     stops the walk, and the client is unknown: "for=unknown", an
//     obfuscated identifier such as "for=_hidden", an element without a
//     "for" parameter or with two, a malformed element (bad syntax,
//     an unterminated quoted string, which runs to the end of its
//     line, backslash escapes inside the "for" value), or any entry that is not an address (including leading-zero
//     IPv4 such as 010.0.0.1). Garbage to the left of the client is never
//     looked at.
//  6. Only the rightmost 32 hops are examined: if all of them are trusted
//     and the list is longer, the client is unknown.
//  7. If neither header has any element, the trusted peer itself is the
//     client (a health check or a request made by the proxy).
//  8. If both headers are present, each is resolved on its own and the
//     results must agree: the same address, both known. Otherwise the
//     client is unknown.
//
// Rule 8 is chosen over "prefer Forwarded" (or "prefer X-Forwarded-For")
// because most proxies append to only one of the two headers and pass the
// other through from the client untouched. Whichever header were preferred,
// a client could spoof it whenever the proxy maintains the other one;
// requiring agreement is never spoofable as long as the proxy appends to at
// least one of them. An unknown client fails closed: any IP rule refuses it.
// A deployment whose proxies legitimately write different things in the two
// headers (an outer proxy that sets X-Forwarded-For, an inner one that sets
// Forwarded) pins one header with [Config.Headers]; the other is then
// ignored completely.
//
// Addresses are accepted in these forms, in both headers: IPv4, IPv6
// (bracketed or, leniently, bare), either with an optional port
// ("192.0.2.1:4711", "[2001:db8::1]:4711", quoted or not in Forwarded;
// RFC 7239 obfuscated ports such as ":_p1" too). Every resolved address is
// normalised with net/netip: IPv4-mapped IPv6 is unmapped (::ffff:10.0.0.1
// is 10.0.0.1), zones and ports are stripped. Other headers such as
// X-Real-IP are never read.
//
// The resolved address travels in the request context ([NewContext],
// [FromContext], [Resolver.Handler]) for handlers and the audit log.
//
// # Rules
//
// [Rules] are allow and deny lists of IPs and CIDR prefixes, parsed once by
// [ParseRules] and checked without allocation by [Rules.Check]: a deny entry
// wins over an allow entry, an empty allow list allows every address, and
// an unknown client address is refused as soon as any rule is in place. A
// refusal wraps [ErrIPForbidden] and carries a reason code
// ([ForbiddenError.Reason]) for the 403 response.
package ipbind
