package ipbind

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testProxies are the trusted proxies of most tests; the mapped entry is
// stored as 172.16.0.0/12.
var testProxies = []string{"10.0.0.0/8", "fd00::/8", "::ffff:172.16.0.0/108", "192.0.2.10"}

func newRequest(remote string, xff, fwd []string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	for _, v := range fwd {
		req.Header.Add("Forwarded", v)
	}
	return req
}

func mustResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	r, err := NewResolver(cfg)
	require.NoError(t, err)
	return r
}

type ipCase struct {
	name   string
	remote string
	xff    []string
	fwd    []string
	want   string // "" when the client is unknown
}

func runCases(t *testing.T, r *Resolver, cases []ipCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.ClientIP(newRequest(tc.remote, tc.xff, tc.fwd))
			if tc.want == "" {
				assert.False(t, ok, "got %v", got)
				assert.False(t, got.IsValid())
				return
			}
			require.True(t, ok)
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
			assert.False(t, got.Is4In6())
			assert.Empty(t, got.Zone())
		})
	}
}

const proxy = "10.0.0.1:443"

func TestClientIPUntrustedPeer(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	runCases(t, r, []ipCase{
		{name: "ipv4 with port", remote: "203.0.113.7:1234", want: "203.0.113.7"},
		{name: "bare ipv4", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "ipv6 with port", remote: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "bare ipv6", remote: "2001:db8::1", want: "2001:db8::1"},
		{name: "mapped ipv6 unmapped", remote: "[::ffff:203.0.113.7]:443", want: "203.0.113.7"},
		{name: "zone stripped", remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "spoofed xff ignored", remote: "203.0.113.7:1", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "spoofed xff naming a trusted proxy ignored", remote: "203.0.113.7:1", xff: []string{"10.0.0.5"}, want: "203.0.113.7"},
		{name: "spoofed forwarded ignored", remote: "203.0.113.7:1", fwd: []string{"for=198.51.100.1"}, want: "203.0.113.7"},
		{name: "spoofed both ignored", remote: "203.0.113.7:1", xff: []string{"1.1.1.1"}, fwd: []string{"for=1.1.1.1"}, want: "203.0.113.7"},
		{name: "empty remote", remote: "", want: ""},
		{name: "garbage remote", remote: "pipe", want: ""},
		{name: "leading zero remote", remote: "010.0.0.1:80", want: ""},
		{name: "bracketed without port", remote: "[2001:db8::1]", want: ""},
		{name: "bad port", remote: "203.0.113.7:http", want: ""},
		{name: "ipv4 zone", remote: "203.0.113.7%eth0", want: ""},
	})
}

func TestClientIPXForwardedFor(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	many := func(n int, last string) string {
		s := strings.Repeat("10.0.0.9, ", n)
		return s + last
	}
	runCases(t, r, []ipCase{
		{name: "no header: the proxy is the client", remote: proxy, want: "10.0.0.1"},
		{name: "empty header: the proxy is the client", remote: proxy, xff: []string{" , "}, want: "10.0.0.1"},
		{name: "one hop", remote: proxy, xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "several trusted hops", remote: proxy, xff: []string{"203.0.113.7, 10.0.0.3, 172.16.5.4, 192.0.2.10"}, want: "203.0.113.7"},
		{name: "client-supplied entries to the left ignored", remote: proxy, xff: []string{"6.6.6.6, 198.51.100.9, 203.0.113.7, 10.0.0.3"}, want: "203.0.113.7"},
		{name: "all hops trusted: leftmost", remote: proxy, xff: []string{"10.0.0.9, 10.0.0.3"}, want: "10.0.0.9"},
		{name: "mapped trusted peer", remote: "[::ffff:10.0.0.1]:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "ipv6 trusted peer", remote: "[fd00::1]:443", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "several lines concatenated in order", remote: proxy, xff: []string{"6.6.6.6, 203.0.113.7", "10.0.0.3"}, want: "203.0.113.7"},
		{name: "last line is rightmost", remote: proxy, xff: []string{"203.0.113.7", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "empty elements ignored", remote: proxy, xff: []string{"203.0.113.7, , 10.0.0.3,", ""}, want: "203.0.113.7"},
		{name: "tabs and spaces", remote: proxy, xff: []string{"\t203.0.113.7 ,\t10.0.0.3 "}, want: "203.0.113.7"},
		{name: "ipv6", remote: proxy, xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "ipv6 trusted hop skipped", remote: proxy, xff: []string{"2001:db8::7, fd00::2"}, want: "2001:db8::7"},
		{name: "bracketed ipv6 with port", remote: proxy, xff: []string{"[2001:db8::7]:4711"}, want: "2001:db8::7"},
		{name: "bracketed ipv6", remote: proxy, xff: []string{"[2001:db8::7]"}, want: "2001:db8::7"},
		{name: "ipv4 with port", remote: proxy, xff: []string{"203.0.113.7:4711"}, want: "203.0.113.7"},
		{name: "mapped unmapped", remote: proxy, xff: []string{"::ffff:203.0.113.7"}, want: "203.0.113.7"},
		{name: "mapped trusted hop skipped", remote: proxy, xff: []string{"203.0.113.7, ::ffff:10.0.0.3"}, want: "203.0.113.7"},
		{name: "zone stripped", remote: proxy, xff: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "bracketed zone and port", remote: proxy, xff: []string{"[fe80::1%eth0]:80"}, want: "fe80::1"},
		{name: "leading zero refused", remote: proxy, xff: []string{"010.0.0.1"}, want: ""},
		{name: "leading zero in mapped refused", remote: proxy, xff: []string{"::ffff:010.0.0.1"}, want: ""},
		{name: "leading zero to the left ignored", remote: proxy, xff: []string{"010.0.0.1, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "garbage", remote: proxy, xff: []string{"not-an-ip"}, want: ""},
		{name: "garbage behind client", remote: proxy, xff: []string{"203.0.113.7, bogus, 10.0.0.3"}, want: ""},
		{name: "unknown", remote: proxy, xff: []string{"unknown"}, want: ""},
		{name: "obfuscated", remote: proxy, xff: []string{"_hidden"}, want: ""},
		{name: "port out of range", remote: proxy, xff: []string{"203.0.113.7:65536"}, want: ""},
		{name: "empty port", remote: proxy, xff: []string{"203.0.113.7:"}, want: ""},
		{name: "ipv4 in brackets", remote: proxy, xff: []string{"[203.0.113.7]"}, want: ""},
		{name: "cidr", remote: proxy, xff: []string{"203.0.113.0/24"}, want: ""},
		{name: "32 trusted hops: leftmost", remote: proxy, xff: []string{many(31, "10.0.0.3")}, want: "10.0.0.9"},
		{name: "33 trusted hops: unknown", remote: proxy, xff: []string{many(32, "10.0.0.3")}, want: ""},
		{name: "long list, client near the right", remote: proxy, xff: []string{strings.Repeat("6.6.6.6, ", 100) + "203.0.113.7, 10.0.0.3"}, want: "203.0.113.7"},
	})
}

func TestClientIPForwarded(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	runCases(t, r, []ipCase{
		{name: "one element", remote: proxy, fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "case-insensitive name and other parameters", remote: proxy, fwd: []string{"For=203.0.113.7;proto=https;by=10.0.0.1;host=example.com"}, want: "203.0.113.7"},
		{name: "spaces around elements", remote: proxy, fwd: []string{" for=203.0.113.7 ; proto=https , for=10.0.0.3 "}, want: "203.0.113.7"},
		{name: "trailing semicolon", remote: proxy, fwd: []string{"for=203.0.113.7;"}, want: "203.0.113.7"},
		{name: "trusted hops skipped", remote: proxy, fwd: []string{"for=6.6.6.6, for=203.0.113.7, for=10.0.0.3;by=10.0.0.1"}, want: "203.0.113.7"},
		{name: "all trusted: leftmost", remote: proxy, fwd: []string{"for=10.0.0.9, for=\"[fd00::2]\""}, want: "10.0.0.9"},
		{name: "quoted ipv6 with port", remote: proxy, fwd: []string{`for="[2001:db8::1]:4711"`}, want: "2001:db8::1"},
		{name: "quoted ipv6", remote: proxy, fwd: []string{`for="[2001:db8::1]"`}, want: "2001:db8::1"},
		{name: "unquoted ipv6 with port (lenient)", remote: proxy, fwd: []string{"for=[2001:db8::1]:4711"}, want: "2001:db8::1"},
		{name: "bare quoted ipv6 (lenient)", remote: proxy, fwd: []string{`for="2001:db8::1"`}, want: "2001:db8::1"},
		{name: "quoted ipv4 with port", remote: proxy, fwd: []string{`for="192.0.2.43:47011"`}, want: "192.0.2.43"},
		{name: "obfuscated port", remote: proxy, fwd: []string{`for="[2001:db8::1]:_p1"`}, want: "2001:db8::1"},
		{name: "mapped", remote: proxy, fwd: []string{`for="[::ffff:203.0.113.7]"`}, want: "203.0.113.7"},
		{name: "zone", remote: proxy, fwd: []string{`for="[fe80::1%25eth0]:80"`}, want: "fe80::1"},
		{name: "several lines", remote: proxy, fwd: []string{"for=6.6.6.6", "for=203.0.113.7;proto=https", "for=10.0.0.3"}, want: "203.0.113.7"},
		{name: "unknown", remote: proxy, fwd: []string{"for=unknown"}, want: ""},
		{name: "unknown upper case", remote: proxy, fwd: []string{"for=UNKNOWN"}, want: ""},
		{name: "unknown with port", remote: proxy, fwd: []string{`for="unknown:80"`}, want: ""},
		{name: "obfuscated", remote: proxy, fwd: []string{"for=_hidden"}, want: ""},
		{name: "obfuscated behind the client", remote: proxy, fwd: []string{"for=203.0.113.7, for=_hidden, for=10.0.0.3"}, want: ""},
		{name: "obfuscated left of the client ignored", remote: proxy, fwd: []string{"for=_hidden, for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "unknown left of the client ignored", remote: proxy, fwd: []string{"for=unknown, for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "element without for", remote: proxy, fwd: []string{"for=6.6.6.6, proto=https;by=10.0.0.1"}, want: ""},
		{name: "duplicate for", remote: proxy, fwd: []string{"for=6.6.6.6;for=203.0.113.7"}, want: ""},
		{name: "empty for", remote: proxy, fwd: []string{"for="}, want: ""},
		{name: "empty quoted for", remote: proxy, fwd: []string{`for=""`}, want: ""},
		{name: "missing equals", remote: proxy, fwd: []string{"for 203.0.113.7"}, want: ""},
		{name: "junk after value", remote: proxy, fwd: []string{"for=203.0.113.7 junk"}, want: ""},
		{name: "junk element left of client ignored", remote: proxy, fwd: []string{"%%%, for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "leading zero", remote: proxy, fwd: []string{"for=010.0.0.1"}, want: ""},
		{name: "unbracketed ipv6 with port", remote: proxy, fwd: []string{`for="2001:db8::1:4711:0:0:0:0:1"`}, want: ""},
		{name: "escape in for value", remote: proxy, fwd: []string{`for="\203.0.113.7"`}, want: ""},
		{name: "comma inside a quoted value", remote: proxy, fwd: []string{`for=6.6.6.6;ext="x, for=203.0.113.7"`}, want: "6.6.6.6"},
		{name: "escaped quote inside a quoted value", remote: proxy, fwd: []string{`for=6.6.6.6;ext="a\", for=1.1.1.1", for=203.0.113.7`}, want: "203.0.113.7"},
		{name: "unterminated quote swallows its line", remote: proxy, fwd: []string{`for="6.6.6.6, for=203.0.113.7`}, want: ""},
		{name: "unterminated quote stays in its line", remote: proxy, fwd: []string{`for="6.6.6.6`, "for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "empty elements ignored", remote: proxy, fwd: []string{", for=203.0.113.7 ,, ", ""}, want: "203.0.113.7"},
		{name: "empty header: the proxy is the client", remote: proxy, fwd: []string{""}, want: "10.0.0.1"},
	})
}

func TestClientIPBothHeaders(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	runCases(t, r, []ipCase{
		{name: "agree", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
		{name: "agree after normalisation", remote: proxy, xff: []string{"::ffff:203.0.113.7, 10.0.0.3"}, fwd: []string{`for="203.0.113.7:80"`}, want: "203.0.113.7"},
		{name: "disagree", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=198.51.100.1"}, want: ""},
		{name: "client spoofs forwarded, proxy appends xff", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=192.0.2.99"}, want: ""},
		{name: "forwarded unknown", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=unknown"}, want: ""},
		{name: "xff garbage", remote: proxy, xff: []string{"garbage"}, fwd: []string{"for=203.0.113.7"}, want: ""},
		{name: "both unknown", remote: proxy, xff: []string{"unknown"}, fwd: []string{"for=_x"}, want: ""},
		{name: "empty forwarded counts as absent", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{" "}, want: "203.0.113.7"},
		{name: "empty xff counts as absent", remote: proxy, xff: []string{","}, fwd: []string{"for=203.0.113.7"}, want: "203.0.113.7"},
	})

	rx := mustResolver(t, Config{TrustedProxies: testProxies, Headers: XForwardedForOnly})
	runCases(t, rx, []ipCase{
		{name: "xff only: forwarded ignored", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=198.51.100.1"}, want: "203.0.113.7"},
		{name: "xff only: forwarded alone ignored", remote: proxy, fwd: []string{"for=198.51.100.1"}, want: "10.0.0.1"},
	})
	rf := mustResolver(t, Config{TrustedProxies: testProxies, Headers: ForwardedOnly})
	runCases(t, rf, []ipCase{
		{name: "forwarded only: xff ignored", remote: proxy, xff: []string{"203.0.113.7"}, fwd: []string{"for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "forwarded only: xff alone ignored", remote: proxy, xff: []string{"203.0.113.7"}, want: "10.0.0.1"},
	})
}

func TestClientIPNoTrustedProxies(t *testing.T) {
	for _, r := range []*Resolver{nil, mustResolver(t, Config{})} {
		runCases(t, r, []ipCase{
			{name: "xff ignored", remote: proxy, xff: []string{"203.0.113.7"}, want: "10.0.0.1"},
			{name: "forwarded ignored", remote: proxy, fwd: []string{"for=203.0.113.7"}, want: "10.0.0.1"},
			{name: "garbage headers ignored", remote: "[2001:db8::1]:1", xff: []string{"unknown"}, fwd: []string{`for="`}, want: "2001:db8::1"},
		})
	}
}

func TestNewResolver(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: []string{" 10.0.0.0/8 ", "::ffff:172.16.0.0/108", "::ffff:192.0.2.1", "2001:db8::1", "0.0.0.0/0"}})
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("0.0.0.0/0"),
	}, r.TrustedProxies())
	assert.Nil(t, (*Resolver)(nil).TrustedProxies())

	for _, bad := range []string{"", "10.0.0.1/8", "010.0.0.1", "fe80::1%eth0", "10.0.0.0/33", "example.com", "10.0.0.0/"} {
		_, err := NewResolver(Config{TrustedProxies: []string{bad}})
		assert.ErrorIs(t, err, ErrInvalidConfig, bad)
	}
	_, err := NewResolver(Config{Headers: ForwardedOnly + 1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestRemoteIP(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:80":            "192.0.2.1",
		"[::ffff:192.0.2.1]:80":   "192.0.2.1",
		"[fe80::1%en0]:80":        "fe80::1",
		"fe80::1%en0":             "fe80::1",
		"192.0.2.1":               "192.0.2.1",
		"@":                       "",
		"192.0.2.1:80:80":         "",
		"::ffff:192.0.2.1":        "192.0.2.1",
		"[::ffff:010.0.0.1]:80":   "",
		"2001:db8::1:80":          "2001:db8::1:80",
		"[2001:db8::1]:99999":     "",
		"[2001:db8::1]:443 extra": "",
	} {
		got, ok := RemoteIP(&http.Request{RemoteAddr: remote})
		if want == "" {
			assert.False(t, ok, remote)
			continue
		}
		assert.True(t, ok, remote)
		assert.Equal(t, netip.MustParseAddr(want), got, remote)
	}
}

func TestContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	assert.False(t, ok)

	ip, ok := FromContext(NewContext(context.Background(), netip.MustParseAddr("::ffff:192.0.2.1")))
	assert.True(t, ok)
	assert.Equal(t, netip.MustParseAddr("192.0.2.1"), ip)

	_, ok = FromContext(NewContext(context.Background(), netip.Addr{}))
	assert.False(t, ok)
}

func TestHandler(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	var got netip.Addr
	var gotOK bool
	h := r.Handler(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		got, gotOK = FromContext(req.Context())
	}))

	h.ServeHTTP(httptest.NewRecorder(), newRequest(proxy, []string{"203.0.113.7"}, nil))
	assert.True(t, gotOK)
	assert.Equal(t, netip.MustParseAddr("203.0.113.7"), got)

	h.ServeHTTP(httptest.NewRecorder(), newRequest(proxy, []string{"unknown"}, nil))
	assert.False(t, gotOK)

	h.ServeHTTP(httptest.NewRecorder(), newRequest("203.0.113.8:1", []string{"198.51.100.1"}, nil))
	assert.True(t, gotOK)
	assert.Equal(t, netip.MustParseAddr("203.0.113.8"), got)
}

func TestClientIPDoesNotAllocate(t *testing.T) {
	r := mustResolver(t, Config{TrustedProxies: testProxies})
	for _, req := range []*http.Request{
		newRequest("203.0.113.7:1234", []string{"1.1.1.1"}, nil),
		newRequest(proxy, []string{"6.6.6.6, 203.0.113.7, 10.0.0.2"}, nil),
		newRequest(proxy, nil, []string{`for=203.0.113.7;proto=https, for="[fd00::2]:80"`}),
		newRequest(proxy, []string{"203.0.113.7"}, []string{"for=203.0.113.7"}),
		newRequest(proxy, []string{"unknown, _x, 203.0.113.7:80, [2001:db8::1]:80"}, []string{"for=_hidden"}),
	} {
		allocs := testing.AllocsPerRun(100, func() { r.ClientIP(req) })
		assert.Zero(t, allocs, "%v %v", req.RemoteAddr, req.Header)
	}
}

// refXFF is a naive reference for an XForwardedForOnly resolver: split the
// whole list, walk it from the right.
func refXFF(r *Resolver, req *http.Request) (netip.Addr, bool) {
	peer, ok := RemoteIP(req)
	if !ok {
		return netip.Addr{}, false
	}
	if !r.isTrusted(peer) {
		return peer, true
	}
	var hops []netip.Addr
	for _, line := range req.Header["X-Forwarded-For"] {
		for _, e := range strings.Split(line, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				hops = append(hops, parseNode(e))
			}
		}
	}
	if len(hops) == 0 {
		return peer, true
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxHops; i-- {
		if !hops[i].IsValid() {
			return netip.Addr{}, false
		}
		if !r.isTrusted(hops[i]) {
			return hops[i], true
		}
	}
	if len(hops) > maxHops {
		return netip.Addr{}, false
	}
	return hops[0], true
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:443", "203.0.113.7, 10.0.0.3", `for="[2001:db8::1]:4711"`)
	f.Add("203.0.113.7:1", "198.51.100.1", "for=198.51.100.1")
	f.Add("[::ffff:10.0.0.1]:443", "::ffff:203.0.113.7", "for=_hidden, for=unknown")
	f.Add("[fe80::1%eth0]:80", "fe80::2%eth1", `for="\"";by=",,"`)
	f.Add("10.0.0.1", "010.0.0.1", `for="[fd00::1]:_p"`)
	f.Add("pipe", "", "")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		none := mustResolver(t, Config{})
		trusting := mustResolver(t, Config{TrustedProxies: testProxies})
		xffOnly := mustResolver(t, Config{TrustedProxies: testProxies, Headers: XForwardedForOnly})
		req := newRequest(remote, strings.Split(xff, "\n"), strings.Split(fwd, "\n"))

		var want netip.Addr
		wantOK := false
		if ap, err := netip.ParseAddrPort(remote); err == nil {
			want, wantOK = ap.Addr().Unmap().WithZone(""), true
		} else if a, err := netip.ParseAddr(remote); err == nil {
			want, wantOK = a.Unmap().WithZone(""), true
		}

		for _, r := range []*Resolver{none, trusting, xffOnly} {
			got, ok := r.ClientIP(req)
			if !ok {
				if got.IsValid() {
					t.Fatalf("unknown client with address %v", got)
				}
				continue
			}
			if !got.IsValid() || got.Is4In6() || got.Zone() != "" {
				t.Fatalf("not normalised: %#v", got)
			}
		}
		got, ok := none.ClientIP(req)
		if ok != wantOK || got != want {
			t.Fatalf("no trusted proxy: got %v %v, RemoteAddr %q is %v %v", got, ok, remote, want, wantOK)
		}
		if wantOK && !trusting.isTrusted(want) {
			if got, ok := trusting.ClientIP(req); !ok || got != want {
				t.Fatalf("untrusted peer: got %v %v, want %v", got, ok, want)
			}
		}
		got, ok = xffOnly.ClientIP(req)
		ref, refOK := refXFF(xffOnly, req)
		if ok != refOK || got != ref {
			t.Fatalf("xff only: got %v %v, reference %v %v", got, ok, ref, refOK)
		}
	})
}
