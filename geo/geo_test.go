package geo

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// country returns a GeoIP2-shaped record. Empty codes leave the field out.
func country(iso, registered string) mmdbtype.Map {
	m := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
	}
	if iso != "" {
		m["country"] = mmdbtype.Map{
			"iso_code":   mmdbtype.String(iso),
			"geoname_id": mmdbtype.Uint32(1),
			"names":      mmdbtype.Map{"en": mmdbtype.String("Somewhere")},
		}
	}
	if registered != "" {
		m["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(registered)}
	}
	return m
}

// testNetworks are the networks of the test database.
var testNetworks = []struct {
	cidr string
	rec  mmdbtype.DataType
}{
	{"81.2.69.0/24", country("GB", "GB")},
	{"89.160.20.0/24", country("SE", "SE")},
	{"216.160.83.56/29", country("US", "US")},
	{"2a02:ec0::/29", country("DE", "DE")},
	{"2001:218::/32", country("JP", "JP")},
	// Country differs from the registered country: country wins.
	{"5.83.124.0/24", country("FR", "NL")},
	// Only a registered country (anycast, satellite providers).
	{"67.43.156.0/24", country("", "BT")},
	{"2a02:cf40::/32", country("", "NO")},
	// A record without any country.
	{"1.2.3.0/24", country("", "")},
	// Broken records.
	{"198.51.0.0/24", country("gb", "")},
	{"198.51.1.0/24", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.Uint32(42)}}},
}

// testDB builds a GeoLite2-Country-shaped database in memory.
func testDB(tb testing.TB) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-Country",
		Description:  map[string]string{"en": "keygate geo test database"},
		RecordSize:   24,
	})
	require.NoError(tb, err)
	for _, n := range testNetworks {
		_, ipNet, err := net.ParseCIDR(n.cidr)
		require.NoError(tb, err)
		require.NoError(tb, tree.Insert(ipNet, n.rec), n.cidr)
	}
	var buf bytes.Buffer
	_, err = tree.WriteTo(&buf)
	require.NoError(tb, err)
	return buf.Bytes()
}

func openTestDB(tb testing.TB) *MMDB {
	tb.Helper()
	db, err := FromBytes(testDB(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func TestCountry(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		ip   string
		code string
		ok   bool
	}{
		{"81.2.69.142", "GB", true},
		{"81.2.69.0", "GB", true},
		{"81.2.69.255", "GB", true},
		{"81.2.70.1", "", false},
		{"89.160.20.112", "SE", true},
		{"216.160.83.56", "US", true},
		{"216.160.83.63", "US", true},
		{"216.160.83.64", "", false},
		{"2a02:ec0::1", "DE", true},
		{"2a02:ec7:ffff::1", "DE", true},
		{"2a02:ec8::1", "", false},
		{"2001:218:1:2::3", "JP", true},
		{"5.83.124.1", "FR", true},
		{"67.43.156.1", "BT", true},
		{"2a02:cf40::7", "NO", true},
		{"1.2.3.4", "", false},
		// IPv4-mapped IPv6 is the IPv4 address.
		{"::ffff:81.2.69.142", "GB", true},
		{"::ffff:67.43.156.1", "BT", true},
		{"::ffff:1.2.3.4", "", false},
		{"::ffff:8.8.8.8", "", false},
		// Zones are ignored.
		{"2a02:ec0::1%eth0", "DE", true},
		// Outside every network.
		{"8.8.8.8", "", false},
		{"0.0.0.0", "", false},
		{"255.255.255.255", "", false},
		{"127.0.0.1", "", false},
		{"::1", "", false},
		{"::", "", false},
		{"2606:4700::1111", "", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			// The second lookup is answered from the record cache.
			for range 2 {
				code, ok, err := db.Country(netip.MustParseAddr(tt.ip))
				require.NoError(t, err)
				assert.Equal(t, tt.ok, ok)
				assert.Equal(t, tt.code, code)
			}
		})
	}
}

func TestCountryCacheCollisions(t *testing.T) {
	db := openTestDB(t)
	// Every slot holds "ZZ" for an offset no record has.
	for i := range db.cache {
		db.cache[i].Store(cacheValid | maxCachedOffset<<cacheOffsetShift | uint64(codeIndex("ZZ")+1))
	}
	for ip, want := range map[string]string{"81.2.69.142": "GB", "2a02:ec0::1": "DE", "67.43.156.1": "BT", "1.2.3.4": ""} {
		for range 2 {
			code, ok, err := db.Country(netip.MustParseAddr(ip))
			require.NoError(t, err)
			assert.Equal(t, want != "", ok, ip)
			assert.Equal(t, want, code, ip)
		}
	}
}

func TestIPv4OnlyDatabase(t *testing.T) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IPVersion: 4, RecordSize: 24})
	require.NoError(t, err)
	_, ipNet, err := net.ParseCIDR("81.2.69.0/24")
	require.NoError(t, err)
	require.NoError(t, tree.Insert(ipNet, country("GB", "GB")))
	var buf bytes.Buffer
	_, err = tree.WriteTo(&buf)
	require.NoError(t, err)
	db, err := FromBytes(buf.Bytes())
	require.NoError(t, err)
	defer db.Close()

	for ip, want := range map[string]string{"81.2.69.1": "GB", "::ffff:81.2.69.1": "GB", "8.8.8.8": "", "2a02:ec0::1": ""} {
		code, ok, err := db.Country(netip.MustParseAddr(ip))
		require.NoError(t, err, ip)
		assert.Equal(t, want != "", ok, ip)
		assert.Equal(t, want, code, ip)
	}
}

func TestCodeTable(t *testing.T) {
	require.Len(t, codeTable, 2*codeSpace)
	for _, c := range []string{"AA", "AB", "DE", "ZY", "ZZ"} {
		i := codeIndex(c)
		assert.Equal(t, c, codeTable[2*i:2*i+2])
	}
}

func TestCountryZeroAddr(t *testing.T) {
	code, ok, err := openTestDB(t).Country(netip.Addr{})
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Empty(t, code)
}

func TestCountryBrokenRecords(t *testing.T) {
	db := openTestDB(t)
	_, ok, err := db.Country(netip.MustParseAddr("198.51.0.1"))
	require.ErrorIs(t, err, ErrInvalidRecord)
	assert.False(t, ok)

	_, ok, err = db.Country(netip.MustParseAddr("198.51.1.1"))
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrInvalidRecord)
	assert.False(t, ok)
}

func TestOpenMMDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
	require.NoError(t, os.WriteFile(path, testDB(t), 0o600))
	db, err := OpenMMDB(path)
	require.NoError(t, err)
	code, ok, err := db.Country(netip.MustParseAddr("89.160.20.112"))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "SE", code)

	require.NoError(t, db.Close())
	require.NoError(t, db.Close())
	_, ok, err = db.Country(netip.MustParseAddr("89.160.20.112"))
	require.ErrorIs(t, err, ErrClosed)
	assert.False(t, ok)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenMMDB(filepath.Join(dir, "missing.mmdb"))
	require.ErrorIs(t, err, os.ErrNotExist)

	empty := filepath.Join(dir, "empty.mmdb")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = OpenMMDB(empty)
	require.Error(t, err)

	for _, b := range [][]byte{nil, []byte("not a database"), testDB(t)[:100]} {
		_, err = FromBytes(b)
		require.Error(t, err)
	}
}

func TestCountryConcurrent(t *testing.T) {
	db := openTestDB(t)
	ips := []struct {
		ip   netip.Addr
		code string
	}{
		{netip.MustParseAddr("81.2.69.142"), "GB"},
		{netip.MustParseAddr("2a02:ec0::1"), "DE"},
		{netip.MustParseAddr("67.43.156.1"), "BT"},
		{netip.MustParseAddr("8.8.8.8"), ""},
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				want := ips[(g+i)%len(ips)]
				code, ok, err := db.Country(want.ip)
				if err != nil || code != want.code || ok != (want.code != "") {
					t.Errorf("%s: got %q %v %v, want %q", want.ip, code, ok, err, want.code)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseRules(t *testing.T) {
	for _, cfg := range []RulesConfig{
		{},
		{AllowUnknown: true},
		{Allow: []string{"DE", "FR", "DE"}},
		{Deny: []string{"RU"}},
		{Allow: []string{"AA", "ZZ"}, Deny: []string{"ZZ"}},
	} {
		_, err := ParseRules(cfg)
		require.NoError(t, err, "%+v", cfg)
	}
	for _, cfg := range []RulesConfig{
		{Allow: []string{"de"}},
		{Allow: []string{"De"}},
		{Deny: []string{""}},
		{Deny: []string{"D"}},
		{Deny: []string{"DEU"}},
		{Allow: []string{"D1"}},
		{Allow: []string{"DE", " FR"}},
		{Deny: []string{"É"}},
		{Deny: []string{"\x00\x00"}},
	} {
		r, err := ParseRules(cfg)
		require.ErrorIs(t, err, ErrInvalidCode, "%+v", cfg)
		assert.True(t, r.Empty())
	}
}

func TestRulesCheck(t *testing.T) {
	type query struct {
		code string
		ok   bool
	}
	var (
		de      = query{"DE", true}
		fr      = query{"FR", true}
		ru      = query{"RU", true}
		zz      = query{"ZZ", true}
		unknown = query{"", false}
		lower   = query{"de", true}
		// ok false wins over a leftover code.
		stale = query{"DE", false}
	)
	tests := []struct {
		name    string
		cfg     RulesConfig
		allowed []query
		denied  []query
	}{
		{
			name:    "empty",
			cfg:     RulesConfig{},
			allowed: []query{de, fr, ru, zz, unknown, lower, stale},
		},
		{
			name:    "empty allowing unknown is still empty",
			cfg:     RulesConfig{AllowUnknown: true},
			allowed: []query{de, fr, ru, unknown},
		},
		{
			name:    "allow list",
			cfg:     RulesConfig{Allow: []string{"DE", "FR"}},
			allowed: []query{de, fr},
			denied:  []query{ru, zz, unknown, lower, stale},
		},
		{
			name:    "allow list with unknown allowed",
			cfg:     RulesConfig{Allow: []string{"DE", "FR"}, AllowUnknown: true},
			allowed: []query{de, fr, unknown, lower, stale},
			denied:  []query{ru, zz},
		},
		{
			name:    "deny list",
			cfg:     RulesConfig{Deny: []string{"RU"}},
			allowed: []query{de, fr, zz},
			denied:  []query{ru, unknown, lower, stale},
		},
		{
			name:    "deny list with unknown allowed",
			cfg:     RulesConfig{Deny: []string{"RU"}, AllowUnknown: true},
			allowed: []query{de, fr, zz, unknown},
			denied:  []query{ru},
		},
		{
			name:    "deny wins over allow",
			cfg:     RulesConfig{Allow: []string{"DE", "RU"}, Deny: []string{"RU"}},
			allowed: []query{de},
			denied:  []query{ru, fr, unknown},
		},
		{
			name:    "edges of the code space",
			cfg:     RulesConfig{Allow: []string{"AA", "ZZ"}},
			allowed: []query{{"AA", true}, zz},
			denied:  []query{{"AB", true}, {"ZY", true}, de, {"A", true}, {"ZZZ", true}, {"[A", true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRules(tt.cfg)
			require.NoError(t, err)
			assert.Equal(t, len(tt.cfg.Allow)+len(tt.cfg.Deny) == 0, r.Empty())
			for _, q := range tt.allowed {
				assert.NoError(t, r.Check(q.code, q.ok), "%+v", q)
			}
			for _, q := range tt.denied {
				assert.ErrorIs(t, r.Check(q.code, q.ok), ErrGeoForbidden, "%+v", q)
			}
		})
	}
}

func TestZeroRulesAllow(t *testing.T) {
	var r Rules
	assert.True(t, r.Empty())
	assert.NoError(t, r.Check("", false))
	assert.NoError(t, r.Check("RU", true))
}

type failingResolver struct{ err error }

func (f failingResolver) Country(netip.Addr) (string, bool, error) { return "", false, f.err }

type countingResolver struct{ calls int }

func (c *countingResolver) Country(netip.Addr) (string, bool, error) {
	c.calls++
	return "DE", true, nil
}

func TestRulesCheckAddr(t *testing.T) {
	db := openTestDB(t)
	r, err := ParseRules(RulesConfig{Allow: []string{"GB", "DE", "BT"}, Deny: []string{"US"}})
	require.NoError(t, err)
	for _, ip := range []string{"81.2.69.142", "::ffff:81.2.69.142", "2a02:ec0::1", "67.43.156.1"} {
		assert.NoError(t, r.CheckAddr(db, netip.MustParseAddr(ip)), ip)
	}
	for _, ip := range []string{"216.160.83.56", "89.160.20.112", "1.2.3.4", "8.8.8.8", "::1"} {
		assert.ErrorIs(t, r.CheckAddr(db, netip.MustParseAddr(ip)), ErrGeoForbidden, ip)
	}
	assert.ErrorIs(t, r.CheckAddr(db, netip.Addr{}), ErrGeoForbidden)
	assert.ErrorIs(t, r.CheckAddr(nil, netip.MustParseAddr("81.2.69.142")), ErrGeoForbidden)

	// A lookup failure is not a refusal.
	boom := errors.New("boom")
	err = r.CheckAddr(failingResolver{boom}, netip.MustParseAddr("81.2.69.142"))
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrGeoForbidden)

	// Broken database records fail the lookup too.
	err = r.CheckAddr(db, netip.MustParseAddr("198.51.0.1"))
	require.ErrorIs(t, err, ErrInvalidRecord)
	assert.NotErrorIs(t, err, ErrGeoForbidden)

	// Empty rules need no lookup.
	var c countingResolver
	require.NoError(t, Rules{}.CheckAddr(&c, netip.MustParseAddr("81.2.69.142")))
	assert.Zero(t, c.calls)
	require.NoError(t, r.CheckAddr(&c, netip.MustParseAddr("81.2.69.142")))
	assert.Equal(t, 1, c.calls)
}

func BenchmarkCountry(b *testing.B) {
	db := openTestDB(b)
	for _, bc := range []struct{ name, ip string }{
		{"ipv4", "81.2.69.142"},
		{"ipv4_mapped", "::ffff:81.2.69.142"},
		{"ipv6", "2a02:ec0::1"},
		{"registered_only", "67.43.156.1"},
		{"not_found", "8.8.8.8"},
	} {
		ip := netip.MustParseAddr(bc.ip)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := db.Country(ip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Without the record cache: the tree walk plus decoding the record.
	b.Run("ipv4_uncached", func(b *testing.B) {
		ip := netip.MustParseAddr("81.2.69.142")
		slot := cacheSlot(db.r.Load().Lookup(ip).Offset())
		b.ReportAllocs()
		for b.Loop() {
			db.cache[slot].Store(0)
			if _, _, err := db.Country(ip); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ip := netip.MustParseAddr("81.2.69.142")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := db.Country(ip); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkRulesCheck(b *testing.B) {
	r, err := ParseRules(RulesConfig{Allow: []string{"DE", "FR", "GB"}, Deny: []string{"RU"}})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Check("FR", true); err != nil {
			b.Fatal(err)
		}
	}
}
