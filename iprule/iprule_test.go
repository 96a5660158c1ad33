package iprule_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/iprule/ipruletest"
)

func TestMemoryStore(t *testing.T) {
	ipruletest.TestStore(t, func(*testing.T) iprule.Store { return iprule.NewMemoryStore() })
}

func TestCanonical(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"192.0.2.0/24", "192.0.2.0/24"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:0db8:0000::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::/0", "::/0"},
	} {
		got, err := iprule.Canonical(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", " 192.0.2.1", "192.0.2.1 ", "192.0.2.1/24", "10.1.2.3/8", "fe80::1%eth0",
		"192.0.2.01", "example.com", "192.0.2.0/33", "2001:db8::/129", strings.Repeat("1", 65), "192.0.2.1,192.0.2.2"} {
		got, err := iprule.Canonical(in)
		if !errors.Is(err, iprule.ErrInvalidPrefix) {
			t.Errorf("Canonical(%q) = %q, %v; want ErrInvalidPrefix", in, got, err)
		}
		if in != "" && err != nil && strings.Contains(err.Error(), in) {
			t.Errorf("Canonical(%q): the error quotes the input: %v", in, err)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::/32", "::ffff:192.0.2.0/120", "10.1.2.3/8", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := iprule.Canonical(s)
		if err != nil {
			if !errors.Is(err, iprule.ErrInvalidPrefix) {
				t.Fatalf("Canonical(%q): %v does not wrap ErrInvalidPrefix", s, err)
			}
			return
		}
		again, err := iprule.Canonical(c)
		if err != nil || again != c {
			t.Fatalf("Canonical(%q) = %q, which is not canonical: %q, %v", s, c, again, err)
		}
		if _, err := netip.ParsePrefix(c); err != nil {
			t.Fatalf("Canonical(%q) = %q, not a prefix: %v", s, c, err)
		}
	})
}

// add stores rules given as "account action cidr" ("-" for service-wide).
func add(t *testing.T, s iprule.Store, specs ...string) {
	t.Helper()
	for i, spec := range specs {
		f := strings.Fields(spec)
		acct := f[0]
		if acct == "-" {
			acct = ""
		}
		cidr, err := iprule.Canonical(f[2])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(context.Background(), iprule.Rule{ID: iprule.NewID(), Account: acct, Action: iprule.Action(f[1]), CIDR: cidr,
			Created: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckerSemantics(t *testing.T) {
	for _, tt := range []struct {
		name  string
		rules []string
		acct  string
		ip    string // "" for unknown
		want  error
	}{
		{"no rule", nil, "acct_1", "192.0.2.1", nil},
		{"no rule, unknown address", nil, "acct_1", "", nil},
		{"service deny", []string{"- deny 192.0.2.0/24"}, "acct_1", "192.0.2.7", ipbind.ErrIPDenied},
		{"service deny, other address", []string{"- deny 192.0.2.0/24"}, "acct_1", "198.51.100.1", nil},
		{"service deny, no account", []string{"- deny 192.0.2.0/24"}, "", "192.0.2.7", ipbind.ErrIPDenied},
		{"service allow admits", []string{"- allow 10.0.0.0/8"}, "acct_1", "10.1.2.3", nil},
		{"service allow narrows", []string{"- allow 10.0.0.0/8"}, "acct_1", "192.0.2.1", ipbind.ErrIPNotAllowed},
		{"unknown address with rules", []string{"- deny 192.0.2.0/24"}, "acct_1", "", ipbind.ErrIPUnknown},
		{"deny wins in a scope", []string{"- allow 10.0.0.0/8", "- deny 10.1.0.0/16"}, "acct_1", "10.1.2.3", ipbind.ErrIPDenied},
		{"account deny", []string{"acct_1 deny 192.0.2.1"}, "acct_1", "192.0.2.1", ipbind.ErrIPDenied},
		{"another account's deny", []string{"acct_2 deny 192.0.2.1"}, "acct_1", "192.0.2.1", nil},
		{"account rules without account", []string{"acct_1 allow 10.0.0.0/8"}, "", "192.0.2.1", nil},
		{"account allow narrows", []string{"acct_1 allow 10.0.0.0/8"}, "acct_1", "192.0.2.1", ipbind.ErrIPNotAllowed},
		{"account allow admits", []string{"acct_1 allow 10.0.0.0/8"}, "acct_1", "10.9.9.9", nil},
		{"service deny wins over account allow", []string{"- deny 10.1.0.0/16", "acct_1 allow 10.0.0.0/8"}, "acct_1", "10.1.0.1", ipbind.ErrIPDenied},
		{"account deny wins over service allow", []string{"- allow 10.0.0.0/8", "acct_1 deny 10.1.0.0/16"}, "acct_1", "10.1.0.1", ipbind.ErrIPDenied},
		{"both allow lists apply", []string{"- allow 10.0.0.0/8", "acct_1 allow 192.0.2.0/24"}, "acct_1", "192.0.2.1", ipbind.ErrIPNotAllowed},
		{"IPv6 deny", []string{"- deny 2001:db8::/32"}, "acct_1", "2001:db8:1::5", ipbind.ErrIPDenied},
		{"IPv6 allow narrows", []string{"acct_1 allow 2001:db8::/32"}, "acct_1", "2001:db9::1", ipbind.ErrIPNotAllowed},
		{"IPv6 allow admits", []string{"acct_1 allow 2001:db8::/32"}, "acct_1", "2001:db8::1", nil},
		{"IPv6 deny of one address wins", []string{"acct_1 allow 2001:db8::/32", "acct_1 deny 2001:db8::1"}, "acct_1", "2001:db8::1", ipbind.ErrIPDenied},
		{"IPv4 rule, IPv4-mapped client", []string{"- deny 192.0.2.0/24"}, "acct_1", "::ffff:192.0.2.9", ipbind.ErrIPDenied},
		{"IPv4 allow list, IPv6 client", []string{"- allow 0.0.0.0/0"}, "acct_1", "2001:db8::1", ipbind.ErrIPNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := iprule.NewMemoryStore()
			add(t, s, tt.rules...)
			c := iprule.NewChecker(s, iprule.CheckerConfig{})
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			err := c.Check(context.Background(), tt.acct, ip, tt.ip != "")
			if err != tt.want {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, ipbind.ErrIPForbidden) {
				t.Errorf("Check = %v, which does not wrap ErrIPForbidden", err)
			}
		})
	}
}

// failingStore fails every List while fail is set.
type failingStore struct {
	iprule.Store
	fail  bool
	lists int
}

func (s *failingStore) List(ctx context.Context, f iprule.Filter) ([]iprule.Rule, error) {
	s.lists++
	if s.fail {
		return nil, errors.New("database down")
	}
	return s.Store.List(ctx, f)
}

func TestCheckerReload(t *testing.T) {
	now := time.Unix(1000, 0)
	s := &failingStore{Store: iprule.NewMemoryStore()}
	c := iprule.NewChecker(s, iprule.CheckerConfig{TTL: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	check := func(want error) {
		t.Helper()
		if err := c.Check(ctx, "acct_1", ip, true); err != want {
			t.Fatalf("Check = %v, want %v", err, want)
		}
	}
	check(nil)
	add(t, s, "acct_1 deny 192.0.2.1")
	check(nil) // the copy is fresh: the rule is not seen yet
	if s.lists != 1 {
		t.Fatalf("%d reads of the store, want 1", s.lists)
	}

	// A change reported through OnChange is seen on the next check.
	c.OnChange(ctx, keygate.Change{Action: keygate.ActionKeyRevoked})
	check(nil)
	c.OnChange(ctx, keygate.Change{Action: keygate.ActionIPRuleCreated})
	check(ipbind.ErrIPDenied)

	// Deleted: seen once the TTL has passed.
	rs, _ := s.Store.List(ctx, iprule.Filter{})
	if _, err := s.Delete(ctx, rs[0].ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	check(ipbind.ErrIPDenied)
	now = now.Add(time.Second)
	check(nil)

	// A store that cannot be read fails closed, with an error that is no
	// refusal (503, not 403), and is read again on the next check.
	s.fail = true
	c.Invalidate()
	err := c.Check(ctx, "acct_1", ip, true)
	if err == nil || errors.Is(err, ipbind.ErrIPForbidden) {
		t.Fatalf("Check with the store down = %v, want a store error", err)
	}
	s.fail = false
	check(nil)
}

// TestCheckerBadStoredPrefix: a stored prefix that does not parse (a
// corrupt row) makes its scope admit nobody, and leaves the others alone.
func TestCheckerBadStoredPrefix(t *testing.T) {
	s := iprule.NewMemoryStore()
	ctx := context.Background()
	if _, err := s.Create(ctx, iprule.Rule{ID: "ipr_bad", Account: "acct_1", Action: iprule.Allow, CIDR: "not a prefix"}); err != nil {
		t.Fatal(err)
	}
	c := iprule.NewChecker(s, iprule.CheckerConfig{})
	ip := netip.MustParseAddr("192.0.2.1")
	if err := c.Check(ctx, "acct_1", ip, true); !errors.Is(err, ipbind.ErrIPForbidden) {
		t.Errorf("Check for the account with a bad rule = %v, want a refusal", err)
	}
	if err := c.Check(ctx, "acct_2", ip, true); err != nil {
		t.Errorf("Check for another account = %v, want nil", err)
	}
}
