package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/keygate/keygate/internal/strbytes"
)

// MaxTokenLen is the longest token accepted; longer ones are refused before
// any parsing.
const MaxTokenLen = 8 << 10

// b64 is base64url without padding (RFC 7515 §2), strict: it refuses
// padding, other alphabets, line breaks and non-canonical final characters
// (unused bits that are not zero).
var b64 = base64.RawURLEncoding.Strict()

// header is the protected header of a compact JWS. The raw fields are only
// checked for presence: keygate understands no extension and never fetches
// or trusts a key named by a token.
type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
	JWK  json.RawMessage `json:"jwk"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	X5C  json.RawMessage `json:"x5c"`
	B64  json.RawMessage `json:"b64"`
	Zip  json.RawMessage `json:"zip"`
}

// joseHeader is what a verifier reads of an accepted header.
type joseHeader struct {
	Alg, Typ, Kid string
}

// parsed is a compact JWS split and checked for form, with its signature not
// yet verified and its payload not yet read (though decoded, when it is
// canonical base64url: see parseInto).
type parsed struct {
	header       joseHeader
	signingInput string // base64url(header) "." base64url(payload)
	payload      string // still base64url
	// decoded is the payload decoded, when parsing decoded it (see
	// parseInto); else the verifier decodes it after the signature.
	decoded   string
	isDecoded bool
	signature []byte
}

// parse splits a compact JWS and decodes its header and signature (and
// its payload, when that decodes, for the verifier to read after the
// signature),
// refusing every form a strict verifier must refuse: over MaxTokenLen,
// other than three segments, non-canonical base64url or padding, a header
// that is not a JSON object, has duplicate member names, or carries crit,
// jwk, jku, x5u, x5c, b64 or zip. Errors wrap [ErrMalformed] or
// [ErrUnsupportedHeader] and never contain the token.
func parse(token string) (parsed, error) {
	p, sig, err := parseInto(token, nil)
	p.signature = sig
	return p, err
}

// sigBufLen is the size of the signature buffer a verifier keeps on its
// stack: an RSA-4096 signature, or any smaller one.
const sigBufLen = 512

// parseInto is parse, decoding the signature into sigBuf when it is large
// enough (so that a caller can keep it on its stack), else into a new
// slice, and returning it apart from the parsed token (whose signature is
// nil): escape analysis does not tell a struct's fields apart, and the
// signing input, in the same struct, goes to the heap.
//
// A token that decodes whole (header, payload and signature, as strict
// base64url) takes a fast path: strict decoding already refuses every
// byte outside the alphabet but CR and LF, so a search for those two
// replaces the byte-by-byte check of parseChecked, and the payload is
// decoded here, once, for the verifier. Anything else goes through
// parseChecked, which picks the error in its fixed order (and, for a
// payload that is not canonical base64url, leaves the refusal to the
// verifier, after the signature, as always). FuzzParseToken checks that
// both paths agree.
func parseInto(token string, sigBuf []byte) (parsed, []byte, error) {
	if p, sig, ok := parseFast(token, sigBuf); ok {
		return p, sig, nil
	}
	return parseChecked(token, sigBuf)
}

// parseFast is parseInto's fast path; ok is false for anything it does
// not accept, whatever the reason.
func parseFast(token string, sigBuf []byte) (p parsed, signature []byte, ok bool) {
	if len(token) > MaxTokenLen || strings.IndexByte(token, '\r') >= 0 || strings.IndexByte(token, '\n') >= 0 {
		return parsed{}, nil, false
	}
	h, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 || h == "" || payload == "" || sig == "" {
		return parsed{}, nil, false
	}
	var err error
	if p.header, err = decodeHeader(h); err != nil {
		return parsed{}, nil, false
	}
	if p.decoded, err = decodeSegmentString(payload); err != nil {
		return parsed{}, nil, false
	}
	if signature, err = decodeSegmentInto(sig, sigBuf); err != nil {
		return parsed{}, nil, false
	}
	p.isDecoded = true
	p.signingInput = token[:len(h)+1+len(payload)]
	p.payload = payload
	return p, signature, true
}

// parseChecked is parseInto checking each rule in turn, for the error of
// the first rule that a token breaks.
func parseChecked(token string, sigBuf []byte) (parsed, []byte, error) {
	if len(token) > MaxTokenLen {
		return parsed{}, nil, errTooLarge
	}
	// Only the base64url alphabet and the two dots. (encoding/base64 skips
	// CR and LF even in strict mode; a token must not.)
	for i := 0; i < len(token); i++ {
		if !tokenByte[token[i]] {
			return parsed{}, nil, errBase64
		}
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return parsed{}, nil, errSegments
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 || h == "" || payload == "" || sig == "" {
		return parsed{}, nil, errSegments
	}
	var p parsed
	var err error
	if p.header, err = decodeHeader(h); err != nil {
		return parsed{}, nil, err
	}
	signature, err := decodeSegmentInto(sig, sigBuf)
	if err != nil {
		return parsed{}, nil, err
	}
	p.signingInput = token[:len(h)+1+len(payload)]
	p.payload = payload
	return p, signature, nil
}

// decodeHeader decodes and checks a header segment. Every token signed by
// one key carries the same header bytes, so decoded headers are kept in a
// small direct-mapped cache keyed by the exact segment: a hit skips the
// base64 and JSON work, and a miss (or junk pushing entries out) costs only
// that work.
func decodeHeader(segment string) (joseHeader, error) {
	slot := &headerCache.slots[maphash.String(headerCache.seed, segment)%uint64(len(headerCache.slots))]
	if e := slot.Load(); e != nil && e.segment == segment {
		return e.header, nil
	}
	headerJSON, err := decodeSegment(segment)
	if err != nil {
		return joseHeader{}, err
	}
	var h header
	if err := decodeJSONObject(headerJSON, &h); err != nil {
		return joseHeader{}, err
	}
	switch {
	case h.Crit != nil:
		return joseHeader{}, errCrit
	case h.JWK != nil, h.JKU != nil, h.X5U != nil, h.X5C != nil:
		return joseHeader{}, errEmbeddedKey
	case h.B64 != nil, h.Zip != nil:
		return joseHeader{}, errUnsupportedParam
	}
	jh := joseHeader{Alg: h.Alg, Typ: h.Typ, Kid: h.Kid}
	slot.Store(&headerCacheEntry{segment: segment, header: jh})
	return jh, nil
}

// headerCache holds recently decoded, accepted headers.
var headerCache struct {
	seed  maphash.Seed
	slots [64]atomic.Pointer[headerCacheEntry]
}

func init() { headerCache.seed = maphash.MakeSeed() }

type headerCacheEntry struct {
	segment string
	header  joseHeader
}

// tokenByte marks the bytes a compact JWS may contain.
var tokenByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[c] = true
	}
	return t
}()

// decodeSegment decodes one strict base64url segment.
func decodeSegment(s string) ([]byte, error) { return decodeSegmentInto(s, nil) }

// decodeSegmentInto decodes one strict base64url segment into buf when it
// is large enough, else into a new slice.
func decodeSegmentInto(s string, buf []byte) ([]byte, error) {
	var out []byte
	if n := b64.DecodedLen(len(s)); n <= cap(buf) {
		out = buf[:n]
	} else {
		out = make([]byte, n)
	}
	n, err := b64.Decode(out, strbytes.View(s))
	if err != nil {
		return nil, errBase64
	}
	return out[:n], nil
}

// decodeSegmentString decodes one strict base64url segment into a new
// string, without the copy that string(decoded) would make: the bytes are
// written once, here, and never again.
func decodeSegmentString(s string) (string, error) {
	out, err := decodeSegment(s)
	if err != nil || len(out) == 0 {
		return "", err
	}
	return unsafe.String(&out[0], len(out)), nil
}

// decodeJSONObject decodes data, which must be one JSON object with no
// duplicate member names at any depth, into v.
func decodeJSONObject(data []byte, v any) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return errJSON
	}
	// Unmarshal validates the whole document before it decodes anything,
	// so hasDuplicateNames only ever sees valid JSON.
	if err := json.Unmarshal(data, v); err != nil {
		return errJSON
	}
	if hasDuplicateNames(data, memberNamesOf(v)) {
		return errDuplicateName
	}
	return nil
}

// memberNames are the JSON member names of a struct type, to refuse what
// encoding/json would silently accept: a top-level name that differs from
// a known one only in case, such as "EXP" or "Kid". encoding/json matches
// it to the known member (the last one winning over a correctly spelled
// one), while other JWT libraries read it as an unknown member.
type memberNames struct {
	known  []string
	folded map[string]string // ASCII lower case → known name
}

// clashes reports whether name differs from a known name only in case.
func (m *memberNames) clashes(name []byte) bool {
	var buf [64]byte
	if len(name) <= len(buf) {
		lower, ascii := buf[:len(name)], true
		for i, c := range name {
			if c >= 0x80 {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if ascii {
			known, ok := m.folded[string(lower)]
			return ok && known != string(name)
		}
	}
	// Non-ASCII: encoding/json also folds the Kelvin sign and the long s.
	for _, k := range m.known {
		if string(name) != k && strings.EqualFold(string(name), k) {
			return true
		}
	}
	return false
}

// memberNamesOf returns the member names of the struct v points to.
func memberNamesOf(v any) *memberNames {
	t := reflect.TypeOf(v).Elem()
	if m, ok := namesByType.Load(t); ok {
		return m.(*memberNames)
	}
	m := &memberNames{folded: map[string]string{}}
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m.known = append(m.known, name)
			m.folded[strings.ToLower(name)] = name
		}
	}
	namesByType.Store(t, m)
	return m
}

var namesByType sync.Map // reflect.Type → *memberNames

// hasDuplicateNames reports whether any object in data, which must be valid
// JSON, has two members with the same name (after unescaping, so "a" and
// "\u0061" are the same). encoding/json keeps the last of duplicates
// silently, which lets a token say one thing to keygate and another to a
// different parser; RFC 7515 §5.2 allows refusing them, and keygate does.
//
// It scans already-validated JSON: strings (with their escapes), nesting,
// and which strings are member names. The names of the open objects are
// kept in one list, each object owning the tail from its start; for the
// small objects of a token this allocates nothing.
//
// top, when not nil, also refuses top-level names that clash in case with
// its known names.
func hasDuplicateNames(data []byte, top *memberNames) bool {
	var namesBuf [32][]byte
	var startsBuf, kindsBuf [8]int
	names := namesBuf[:0]   // names of the open objects, innermost last
	starts := startsBuf[:0] // for each open object, its first name in names
	kinds := kindsBuf[:0]   // for each open container: 1 object, 0 array
	expectName := false     // the next string is a member name
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			starts = append(starts, len(names))
			kinds = append(kinds, 1)
			expectName = true
		case '[':
			kinds = append(kinds, 0)
			expectName = false
		case '}':
			names = names[:starts[len(starts)-1]]
			starts = starts[:len(starts)-1]
			kinds = kinds[:len(kinds)-1]
			expectName = false
		case ']':
			kinds = kinds[:len(kinds)-1]
			expectName = false
		case ',':
			expectName = len(kinds) > 0 && kinds[len(kinds)-1] == 1
		case '"':
			start := i
			escaped := false
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++ // skip the escaped character
				}
			}
			if !expectName {
				continue
			}
			expectName = false
			name := data[start+1 : i]
			if escaped {
				var s string
				if err := json.Unmarshal(data[start:i+1], &s); err != nil {
					return true // cannot happen for valid JSON; refuse anyway
				}
				name = []byte(s)
			}
			if len(starts) == 1 && top != nil && top.clashes(name) {
				return true
			}
			for _, n := range names[starts[len(starts)-1]:] {
				if bytes.Equal(n, name) {
					return true
				}
			}
			names = append(names, name)
		}
	}
	return false
}
