package ipbind

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRulesRefuses(t *testing.T) {
	for _, bad := range []string{"", " ", "010.0.0.1", "10.1.2.3/8", "fe80::1%eth0", "10.0.0.0/33", "2001:db8::/129", "garbage", "192.0.2.1-192.0.2.9", "*"} {
		_, err := ParseRules([]string{bad}, nil)
		assert.ErrorIs(t, err, ErrInvalidRule, "allow %q", bad)
		_, err = ParseRules(nil, []string{bad})
		assert.ErrorIs(t, err, ErrInvalidRule, "deny %q", bad)
	}
}

func TestParseRulesNormalises(t *testing.T) {
	r, err := ParseRules([]string{"192.0.2.1", " 2001:db8::/32 ", "::ffff:198.51.100.0/120"}, []string{"::ffff:192.0.2.7"})
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("198.51.100.0/24"),
	}, r.Allow())
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}, r.Deny())
}

func TestRulesCheck(t *testing.T) {
	type probe struct {
		ip    string // "" for an unknown client
		known bool
		want  error
	}
	for _, tc := range []struct {
		name        string
		allow, deny []string
		probes      []probe
	}{
		{
			name: "no rules allow everything, even unknown",
			probes: []probe{
				{"192.0.2.1", true, nil},
				{"2001:db8::1", true, nil},
				{"", false, nil},
				{"192.0.2.1", false, nil},
			},
		},
		{
			name:  "allow list",
			allow: []string{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7"},
			probes: []probe{
				{"192.0.2.1", true, nil},
				{"198.51.100.7", true, nil},
				{"198.51.100.8", true, ErrIPNotAllowed},
				{"2001:db8:1::1", true, nil},
				{"2001:db9::1", true, ErrIPNotAllowed},
				{"", false, ErrIPUnknown},
				{"192.0.2.1", false, ErrIPUnknown},
			},
		},
		{
			name: "deny list alone allows the rest",
			deny: []string{"203.0.113.0/24", "2001:db8:bad::/48"},
			probes: []probe{
				{"203.0.113.9", true, ErrIPDenied},
				{"2001:db8:bad::1", true, ErrIPDenied},
				{"192.0.2.1", true, nil},
				{"2001:db8::1", true, nil},
				{"", false, ErrIPUnknown},
			},
		},
		{
			name:  "deny wins over allow",
			allow: []string{"10.0.0.0/8"},
			deny:  []string{"10.1.0.0/16", "10.2.3.4"},
			probes: []probe{
				{"10.0.0.1", true, nil},
				{"10.1.2.3", true, ErrIPDenied},
				{"10.2.3.4", true, ErrIPDenied},
				{"10.2.3.5", true, nil},
				{"11.0.0.1", true, ErrIPNotAllowed},
			},
		},
		{
			name:  "ipv4 entry matches its mapped form",
			allow: []string{"192.0.2.1"},
			deny:  []string{"198.51.100.0/24"},
			probes: []probe{
				{"::ffff:192.0.2.1", true, nil},
				{"::ffff:198.51.100.5", true, ErrIPDenied},
				{"::ffff:192.0.2.2", true, ErrIPNotAllowed},
			},
		},
		{
			name:  "mapped entry matches ipv4",
			allow: []string{"::ffff:192.0.2.0/120"},
			probes: []probe{
				{"192.0.2.200", true, nil},
				{"::ffff:192.0.2.200", true, nil},
				{"192.0.3.1", true, ErrIPNotAllowed},
			},
		},
		{
			name:  "ipv6 /0 does not match ipv4",
			allow: []string{"::/0"},
			probes: []probe{
				{"2001:db8::1", true, nil},
				{"192.0.2.1", true, ErrIPNotAllowed},
				{"::ffff:192.0.2.1", true, ErrIPNotAllowed},
			},
		},
		{
			name:  "everything",
			allow: []string{"0.0.0.0/0", "::/0"},
			probes: []probe{
				{"192.0.2.1", true, nil},
				{"2001:db8::1", true, nil},
				{"", false, ErrIPUnknown},
			},
		},
		{
			name:  "zone on the client is ignored",
			allow: []string{"fe80::/10"},
			probes: []probe{
				{"fe80::1%eth0", true, nil},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRules(tc.allow, tc.deny)
			require.NoError(t, err)
			assert.Equal(t, len(tc.allow)+len(tc.deny) == 0, r.Empty())
			for _, p := range tc.probes {
				var ip netip.Addr
				if p.ip != "" {
					ip = netip.MustParseAddr(p.ip)
				}
				err := r.Check(ip, p.known)
				if p.want == nil {
					assert.NoError(t, err, "%s known=%v", p.ip, p.known)
					continue
				}
				assert.Equal(t, p.want, err, "%s known=%v", p.ip, p.known)
				assert.ErrorIs(t, err, ErrIPForbidden)
			}
		})
	}
}

func TestForbiddenError(t *testing.T) {
	for err, reason := range map[error]string{ErrIPUnknown: ReasonIPUnknown, ErrIPDenied: ReasonIPDenied, ErrIPNotAllowed: ReasonIPNotAllowed} {
		var fe *ForbiddenError
		require.True(t, errors.As(err, &fe))
		assert.Equal(t, reason, fe.Reason)
		assert.ErrorIs(t, err, ErrIPForbidden)
		assert.Contains(t, err.Error(), reason)
	}
	assert.NotErrorIs(t, ErrIPDenied, ErrIPNotAllowed)
}

func TestAnchor(t *testing.T) {
	r, err := Anchor(netip.MustParseAddr("::ffff:192.0.2.1"))
	require.NoError(t, err)
	assert.NoError(t, r.Check(netip.MustParseAddr("192.0.2.1"), true))
	assert.ErrorIs(t, r.Check(netip.MustParseAddr("192.0.2.2"), true), ErrIPNotAllowed)
	assert.ErrorIs(t, r.Check(netip.Addr{}, false), ErrIPUnknown)

	r, err = Anchor(netip.MustParseAddr("fe80::1%eth0"))
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("fe80::1/128")}, r.Allow())

	_, err = Anchor(netip.Addr{})
	assert.ErrorIs(t, err, ErrInvalidRule)
}

func TestRulesCheckDoesNotAllocate(t *testing.T) {
	r, err := ParseRules([]string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.9.0.0/16"})
	require.NoError(t, err)
	for _, ip := range []netip.Addr{
		netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("10.9.2.3"),
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("::ffff:10.1.2.3"),
		netip.MustParseAddr("fe80::1%eth0"),
		{},
	} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = r.Check(ip, ip.IsValid()) }), ip)
	}
}

// FuzzParseRules checks that ParseRules either refuses an entry with
// ErrInvalidRule or keeps it in canonical form (no host bits, no zone,
// IPv4-mapped as IPv4, its own String parsing back to it), and that Check
// agrees with a direct reading of the rules: deny wins, then a non-empty
// allow list must match.
func FuzzParseRules(f *testing.F) {
	f.Add("192.0.2.0/24\n2001:db8::1", "192.0.2.7", "192.0.2.9")
	f.Add("::ffff:192.0.2.0/120", " 10.0.0.0/8 ", "::ffff:192.0.2.1")
	f.Add("::/0", "", "fe80::1%eth0")
	f.Add("::ffff:0:0/80", "0.0.0.0/0", "203.0.113.1")
	f.Add("010.0.0.1", "10.1.2.3/8", "10.0.0.1")
	f.Fuzz(func(t *testing.T, allow, deny, client string) {
		r, err := ParseRules(strings.Split(allow, "\n"), strings.Split(deny, "\n"))
		if err != nil {
			if !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("ParseRules error %v does not wrap ErrInvalidRule", err)
			}
			return
		}
		for _, p := range append(r.Allow(), r.Deny()...) {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" || (p.Addr().Is4In6() && p.Bits() >= 96) {
				t.Fatalf("kept a prefix that is not canonical: %#v", p)
			}
			if q, err := parsePrefix(p.String()); err != nil || q != p {
				t.Fatalf("%v does not parse back to itself: %v, %v", p, q, err)
			}
		}
		ip, err := netip.ParseAddr(client)
		if err != nil {
			return
		}
		contains := func(list []netip.Prefix) bool {
			for _, p := range list {
				if p.Contains(normalize(ip)) {
					return true
				}
			}
			return false
		}
		var want error
		switch {
		case r.Empty():
		case contains(r.Deny()):
			want = ErrIPDenied
		case len(r.Allow()) > 0 && !contains(r.Allow()):
			want = ErrIPNotAllowed
		}
		if got := r.Check(ip, true); got != want {
			t.Fatalf("Check(%v): got %v, want %v", ip, got, want)
		}
	})
}

func TestIntersectAllow(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []string
		want []string
		ok   bool
	}{
		{"b empty: a", []string{"10.0.0.0/8"}, nil, []string{"10.0.0.0/8"}, true},
		{"a empty: b", nil, []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, true},
		{"equal", []string{"192.0.2.1"}, []string{"192.0.2.1"}, []string{"192.0.2.1"}, true},
		{"the narrower of a pair", []string{"10.0.0.0/8"}, []string{"10.1.0.0/16", "192.0.2.0/24"}, []string{"10.1.0.0/16"}, true},
		{"an anchor inside the key's list", []string{"10.1.2.3"}, []string{"10.0.0.0/8"}, []string{"10.1.2.3"}, true},
		{"IPv4-mapped counts as IPv4", []string{"::ffff:10.1.2.3"}, []string{"10.0.0.0/8"}, []string{"::ffff:10.1.2.3"}, true},
		{"disjoint: nobody", []string{"10.0.0.0/8"}, []string{"192.0.2.0/24"}, nil, false},
		{"other family: nobody", []string{"2001:db8::/32"}, []string{"10.0.0.0/8"}, nil, false},
		{"malformed in a: nobody", []string{"not an address"}, []string{"10.0.0.0/8"}, nil, false},
		{"host bits set in b: nobody", []string{"10.0.0.0/8"}, []string{"10.1.2.3/8"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := IntersectAllow(tc.a, tc.b)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Fatalf("IntersectAllow(%q, %q) = %q, %v; want %q, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzIntersectAllow: the intersection admits an address exactly when
// both allow lists admit it, and an empty intersection (false) only when
// no address is admitted by both or a list does not parse.
func FuzzIntersectAllow(f *testing.F) {
	f.Add("10.0.0.0/8", "10.1.0.0/16\n192.0.2.0/24", "10.1.2.3")
	f.Add("10.1.2.3", "10.0.0.0/8", "10.1.2.4")
	f.Add("::ffff:10.1.2.3", "10.0.0.0/8", "10.1.2.3")
	f.Add("2001:db8::/32", "10.0.0.0/8", "2001:db8::1")
	f.Add("not an address", "10.0.0.0/8", "10.0.0.1")
	f.Fuzz(func(t *testing.T, as, bs, client string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		a, b := split(as), split(bs)
		out, ok := IntersectAllow(a, b)
		ra, errA := ParseRules(a, nil)
		rb, errB := ParseRules(b, nil)
		if errA != nil || errB != nil {
			if ok && (len(a) > 0 && len(b) > 0 && !slices.Equal(a, b)) {
				t.Fatalf("IntersectAllow(%q, %q) = %q, true, but a list does not parse", a, b, out)
			}
			return
		}
		ip, err := netip.ParseAddr(client)
		if err != nil || ip.Zone() != "" {
			return
		}
		both := ra.Check(ip, true) == nil && rb.Check(ip, true) == nil
		if !ok {
			if both {
				t.Fatalf("IntersectAllow(%q, %q) admits nobody, but both admit %v", a, b, ip)
			}
			return
		}
		ro, err := ParseRules(out, nil)
		if err != nil {
			t.Fatalf("IntersectAllow(%q, %q) = %q, which does not parse: %v", a, b, out, err)
		}
		if got := ro.Check(ip, true) == nil; got != both {
			t.Fatalf("IntersectAllow(%q, %q) = %q admits %v: %v; both lists: %v", a, b, out, ip, got, both)
		}
	})
}
