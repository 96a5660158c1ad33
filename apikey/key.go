package apikey

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/base62"
	"github.com/keygate/keygate/internal/strbytes"
)

// The anatomy of a key: <prefix>_<mode>_<kind>_<body>, where body is the key
// ID, the secret and the checksum, all base62, at fixed widths.
const (
	// DefaultPrefix is the prefix of keys when [Config.Prefix] is empty.
	DefaultPrefix = "bk"
	// MaxPrefixLen is the longest accepted prefix.
	MaxPrefixLen = 12

	// IDLen is the length of the public key ID (about 95 random bits).
	IDLen = 16
	// SecretLen is the length of the secret (43 base62 characters carry
	// 256.03 bits of entropy from crypto/rand).
	SecretLen = 43
	// ChecksumLen is the length of the base62 CRC32 checksum.
	ChecksumLen = 6
	// BodyLen is the length of the body: ID, secret and checksum.
	BodyLen = IDLen + SecretLen + ChecksumLen

	// MaxKeyLen is the longest well-formed key. Parse refuses anything
	// longer before looking at its content.
	MaxKeyLen = MaxPrefixLen + len("_test_sk_") + BodyLen
)

// ScannerPattern is a regular expression (RE2 and PCRE compatible) that
// matches keys with the default prefix, for secret scanners. For a custom
// prefix, replace "bk" with it.
const ScannerPattern = `\bbk_(?:test|live)_(?:pk|sk)_[0-9A-Za-z]{65}\b`

// base62Value maps a byte to its base62 digit value, or 0xff when the byte
// is not in the alphabet.
var base62Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base62.Alphabet); i++ {
		t[base62.Alphabet[i]] = byte(i)
	}
	return t
}()

// Info is the public part of a key: everything but the secret. It is safe
// to log.
type Info struct {
	Prefix string
	Mode   keygate.Mode
	Kind   keygate.Kind
	// ID is the public key ID: it names the key in stores, logs and the
	// admin API.
	ID string
}

// malformedError describes why a string is not a well-formed key. It never
// contains any part of the string.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return "apikey: malformed key: " + e.reason }

// Unwrap returns [ErrMalformed], so that the error is also [ErrKeyInvalid].
func (e *malformedError) Unwrap() error { return ErrMalformed }

// The reasons Parse gives; preallocated so that refusing garbage costs no
// allocation.
var (
	errEmpty       = &malformedError{"empty"}
	errTooLong     = &malformedError{"too long"}
	errLayout      = &malformedError{"not of the form <prefix>_<mode>_<kind>_<body>"}
	errPrefix      = &malformedError{"prefix must be 1 to 12 lowercase letters"}
	errWrongPrefix = &malformedError{"unexpected prefix"}
	errMode        = &malformedError{"mode must be test or live"}
	errKind        = &malformedError{"kind must be pk or sk"}
	errBodyLen     = &malformedError{"body has the wrong length"}
	errAlphabet    = &malformedError{"body is not base62"}
	errChecksum    = &malformedError{"checksum mismatch"}
)

// Parse checks the anatomy and the checksum of a key, and returns its public
// part. It rejects typos and garbage without any store lookup, allocates
// nothing, and never puts any part of key in its error, which wraps
// [ErrMalformed].
//
// Parse accepts any valid prefix; [Manager.Verify] also requires the
// manager's own prefix.
func Parse(key string) (Info, error) {
	switch {
	case key == "":
		return Info{}, errEmpty
	case len(key) > MaxKeyLen:
		return Info{}, errTooLong
	}
	// The prefix ends at the first underscore.
	p := 0
	for p < len(key) && key[p] != '_' {
		if key[p] < 'a' || key[p] > 'z' {
			return Info{}, errPrefix
		}
		p++
	}
	if p == 0 || p > MaxPrefixLen {
		return Info{}, errPrefix
	}
	rest := key[p:]
	// rest is "_mode_kind_body".
	if len(rest) < len("_test_sk_") || rest[0] != '_' || rest[5] != '_' || rest[8] != '_' {
		return Info{}, errLayout
	}
	var info Info
	switch rest[1:5] {
	case "test":
		info.Mode = keygate.ModeTest
	case "live":
		info.Mode = keygate.ModeLive
	default:
		return Info{}, errMode
	}
	switch rest[6:8] {
	case "pk":
		info.Kind = keygate.KindPublishable
	case "sk":
		info.Kind = keygate.KindSecret
	default:
		return Info{}, errKind
	}
	body := rest[9:]
	if len(body) != BodyLen {
		return Info{}, errBodyLen
	}
	if !isBase62(body) {
		return Info{}, errAlphabet
	}
	signed := key[:len(key)-ChecksumLen]
	if decodeChecksum(key[len(key)-ChecksumLen:]) != uint64(checksum(signed)) {
		return Info{}, errChecksum
	}
	info.Prefix = key[:p]
	info.ID = body[:IDLen]
	return info, nil
}

// isBase62 reports whether every byte of s is in the base62 alphabet. It
// tests eight bytes at a time (SWAR): for bytes below 0x80, setting bit 7
// and subtracting lo leaves bit 7 set exactly in the bytes >= lo, with no
// borrow between bytes; a byte is a digit or letter when it is >= the start
// of one of the three ranges and not >= the end of it.
func isBase62(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	geq := func(x uint64, lo byte) uint64 { return ((x | high) - ones*uint64(lo)) & high }
	inRanges := func(x uint64) bool {
		if x&high != 0 {
			return false
		}
		ok := geq(x, '0') &^ geq(x, '9'+1)
		ok |= geq(x, 'A') &^ geq(x, 'Z'+1)
		ok |= geq(x, 'a') &^ geq(x, 'z'+1)
		return ok == high
	}
	b := strbytes.View(s)
	for len(b) >= 8 {
		if !inRanges(binary.LittleEndian.Uint64(b)) {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if base62Value[c] == 0xff {
			return false
		}
	}
	return true
}

// checksum is the CRC32 (IEEE) of everything before the checksum, as in
// GitHub's token format.
func checksum(signed string) uint32 {
	return crc32.ChecksumIEEE(strbytes.View(signed))
}

// encodeChecksum writes c as ChecksumLen base62 digits, most significant
// first, zero-padded (62^6 > 2^32).
func encodeChecksum(dst []byte, c uint32) {
	v := uint64(c)
	for i := ChecksumLen - 1; i >= 0; i-- {
		dst[i] = base62.Alphabet[v%62]
		v /= 62
	}
}

// decodeChecksum reads ChecksumLen base62 digits that Parse has already
// checked against the alphabet.
func decodeChecksum(s string) uint64 {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v*62 + uint64(base62Value[s[i]])
	}
	return v
}

// newKeyID returns a fresh random key ID.
func newKeyID() string {
	var id [IDLen]byte
	base62.Fill(id[:])
	return string(id[:])
}

// mint builds a new key string for id with a fresh secret.
func mint(prefix string, mode keygate.Mode, kind keygate.Kind, id string) Key {
	b := make([]byte, 0, len(prefix)+len("_test_sk_")+BodyLen)
	b = append(b, prefix...)
	b = append(b, '_')
	b = append(b, mode...)
	b = append(b, '_')
	b = append(b, kind...)
	b = append(b, '_')
	b = append(b, id...)
	secretAt := len(b)
	b = b[:secretAt+SecretLen+ChecksumLen]
	base62.Fill(b[secretAt : secretAt+SecretLen])
	encodeChecksum(b[secretAt+SecretLen:], checksum(string(b[:secretAt+SecretLen])))
	plain := string(b)
	return Key{info: Info{Prefix: prefix, Mode: mode, Kind: kind, ID: id}, plaintext: func() string { return plain }}
}

// Key holds a plaintext API key, as returned once by [Manager.Create] and
// [Manager.Rotate]. Hand it to its owner with [Key.Reveal] and then drop it:
// keygate keeps only its hash.
//
// A Key redacts itself wherever it could leak by accident: fmt verbs (%v,
// %+v, %#v, %s, %q, %x, ...), log/slog, and encoding/json all show only the
// public part, such as "bk_test_sk_4fT9kQ2mZx7LbN3w[REDACTED]". The plaintext
// is held by a function value, so even a Key inside an unexported struct
// field, which fmt prints by reflection without calling its methods, shows
// only a code address.
type Key struct {
	info      Info
	plaintext func() string
}

// Reveal returns the full plaintext key. Call it only to hand the key to its
// owner.
func (k Key) Reveal() string {
	if k.plaintext == nil {
		return ""
	}
	return k.plaintext()
}

// Info returns the public part of the key.
func (k Key) Info() Info { return k.info }

// ID returns the public key ID.
func (k Key) ID() string { return k.Info().ID }

// String returns the redacted form of the key.
func (k Key) String() string {
	if k.plaintext == nil {
		return ""
	}
	i := k.info
	return i.Prefix + "_" + string(i.Mode) + "_" + string(i.Kind) + "_" + i.ID + "[REDACTED]"
}

// GoString returns the redacted form of the key, for %#v.
func (k Key) GoString() string { return "apikey.Key(" + k.String() + ")" }

// Format writes the redacted form of the key for every verb.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, k.GoString())
		return
	}
	fmt.Fprint(f, k.String())
}

// LogValue returns the redacted form of the key for log/slog.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON encodes the redacted form of the key. To send the plaintext,
// marshal [Key.Reveal] explicitly.
func (k Key) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%q", k.String()), nil
}
