package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ErrClosed is returned by [MMDB.Country] after [MMDB.Close].
var ErrClosed = errors.New("geo: database closed")

// ErrInvalidRecord is wrapped by the error [MMDB.Country] returns when the
// record for an address holds a country code that is not two upper-case
// ASCII letters.
var ErrInvalidRecord = errors.New("geo: invalid country code in database record")

// Resolver maps an IP address to the country it is located in.
// Implementations must be safe for concurrent use.
type Resolver interface {
	// Country returns the ISO 3166-1 alpha-2 code of ip's country in upper
	// case, such as "DE". ok is false, with a nil error, when no country is
	// known for ip. err reports a failed lookup.
	Country(ip netip.Addr) (code string, ok bool, err error)
}

// MMDB is a [Resolver] over a MaxMind-format (.mmdb) database. It is safe
// for concurrent use. Besides the database, it keeps a 32 KiB cache of
// decoded records.
type MMDB struct {
	r     atomic.Pointer[maxminddb.Reader]
	cache [cacheSize]atomic.Uint64
}

// Decoding a record costs several hundred nanoseconds, and a country
// database holds only a few hundred distinct records, so MMDB remembers the
// result per record offset in a small direct-mapped cache. An entry packs
// cacheValid, the offset (shifted by cacheOffsetShift) and the code's
// index plus one (0: no country) in its low 16 bits; a colliding offset
// simply replaces the entry.
const (
	cacheBits        = 12
	cacheSize        = 1 << cacheBits
	cacheValid       = 1 << 63
	cacheOffsetShift = 16
	maxCachedOffset  = 1<<(63-cacheOffsetShift) - 1
)

// codeTable holds every two-letter code, "AA" to "ZZ", in index order, so
// that a cached code is a substring of it rather than a new string.
var codeTable = func() string {
	b := make([]byte, 0, 2*codeSpace)
	for i := range codeSpace {
		b = append(b, byte('A'+i/26), byte('A'+i%26))
	}
	return string(b)
}()

func cacheSlot(offset uintptr) int {
	return int(uint64(offset) * 0x9e3779b97f4a7c15 >> (64 - cacheBits))
}

var _ Resolver = (*MMDB)(nil)

// OpenMMDB opens the database at path, memory-mapping it where the
// platform allows. Do not rewrite the file in place while it is open:
// write a new file and rename it over the old one instead.
func OpenMMDB(path string) (*MMDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	return newMMDB(r), nil
}

// FromBytes reads a database from its contents. The MMDB keeps b: do not
// modify it afterwards.
func FromBytes(b []byte) (*MMDB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geo: read database: %w", err)
	}
	return newMMDB(r), nil
}

func newMMDB(r *maxminddb.Reader) *MMDB {
	m := &MMDB{}
	m.r.Store(r)
	return m
}

// countryRecord is the part of a GeoIP2/GeoLite2 record that Country
// decodes; every other field is skipped.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// recordPool recycles the records Country decodes into, which escape to the
// heap through the decoder's reflection.
var recordPool = sync.Pool{New: func() any { return new(countryRecord) }}

// Country returns the country of ip: the record's country.iso_code, or,
// when the record has none (as for some anycast and satellite networks),
// its registered_country.iso_code. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is looked up as the IPv4 address, and a zone is
// ignored. ok is false for an address outside every network of the
// database, for a record with neither code, for the zero Addr, and for an
// IPv6 address in an IPv4-only database.
//
// Country returns [ErrClosed] after [MMDB.Close], and an error wrapping
// [ErrInvalidRecord] if the code found is not two upper-case letters.
func (m *MMDB) Country(ip netip.Addr) (string, bool, error) {
	r := m.r.Load()
	if r == nil {
		return "", false, ErrClosed
	}
	if !ip.IsValid() {
		return "", false, nil
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() && r.Metadata.IPVersion == 4 {
		return "", false, nil // an IPv4-only database knows no IPv6 country
	}
	res := r.Lookup(ip)
	if err := res.Err(); err != nil {
		return "", false, fmt.Errorf("geo: look up %s: %w", ip, err)
	}
	if !res.Found() {
		return "", false, nil
	}
	offset := res.Offset()
	cacheable := uint64(offset) <= maxCachedOffset
	slot := cacheSlot(offset)
	if cacheable {
		e := m.cache[slot].Load()
		if e&cacheValid != 0 && (e&^cacheValid)>>cacheOffsetShift == uint64(offset) {
			if c := int(e & 0xffff); c != 0 {
				return codeTable[2*(c-1) : 2*c], true, nil
			}
			return "", false, nil
		}
	}
	rec := recordPool.Get().(*countryRecord)
	*rec = countryRecord{}
	err := res.Decode(rec)
	code := rec.Country.ISOCode
	if code == "" {
		code = rec.RegisteredCountry.ISOCode
	}
	recordPool.Put(rec)
	if err != nil {
		return "", false, fmt.Errorf("geo: look up %s: %w", ip, err)
	}
	if code != "" && !validCode(code) {
		return "", false, fmt.Errorf("%w: %q for %s", ErrInvalidRecord, code, ip)
	}
	if cacheable {
		e := cacheValid | uint64(offset)<<cacheOffsetShift
		if code != "" {
			e |= uint64(codeIndex(code) + 1)
		}
		m.cache[slot].Store(e)
	}
	if code == "" {
		return "", false, nil
	}
	// The decoded string may share memory with the database; the table's
	// does not.
	i := codeIndex(code)
	return codeTable[2*i : 2*i+2], true, nil
}

// Close releases the database. Call it only once no Country call is in
// flight, for example after swapping in a new MMDB and letting the
// requests using the old one finish; later calls return [ErrClosed].
// Closing twice is a no-op.
func (m *MMDB) Close() error {
	r := m.r.Swap(nil)
	if r == nil {
		return nil
	}
	return r.Close()
}
