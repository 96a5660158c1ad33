package httpsig

import (
	"slices"
	"strings"
)

// The fast path of the signature fields. Almost every signed request
// carries Signature-Input, Signature and Content-Digest exactly as
// [Signer] writes them: one field line each, one member, no optional
// whitespace, strings without escapes, integers without leading zeros.
// parseCanonical reads that form without building httpsfv's generic
// values; anything else, valid or not, falls back to the httpsfv parser,
// which alone decides. A differential fuzz target (FuzzCanonicalParse)
// checks that whatever the fast path accepts, httpsfv accepts too, with the
// same values.

// parseCanonical parses the canonical Signature-Input and Signature field
// values. It reports false, with nothing parsed, when they are not in
// canonical form; a true result equals what the httpsfv path returns.
// Profile checks (checkProfile) are not its business, but the parameters
// it returns pass the type and length checks of parseSignature.
func parseCanonical(input, sig string) (signatureInput, []byte, bool) {
	var si signatureInput
	mac, ok := parseCanonicalInto(input, sig, nil, &si)
	if !ok {
		return signatureInput{}, nil, false
	}
	return si, mac, true
}

// parseCanonicalInto is parseCanonical with the MAC decoded into mac[:0]
// when it has the room, so that a caller's buffer on its stack spares the
// allocation, and the signature written into *si (in place, rather than
// returned by value), which holds anything when it reports false.
func parseCanonicalInto(input, sig string, mac []byte, si *signatureInput) ([]byte, bool) {
	// label=("c1" "c2" ...);created=N;nonce="...";keyid="...";alg="..."
	n := keyLen(input)
	if n == 0 || n >= len(input) || input[n] != '=' {
		return nil, false
	}
	label, params := input[:n], input[n+1:]
	// A list exactly as a Signer writes it is its shared list at once.
	components, s, ok := signerList(params)
	if !ok {
		if len(params) == 0 || params[0] != '(' {
			return nil, false
		}
		s = params[1:]
		// Any other list is read into a buffer on the stack, then copied.
		var stack [8]string
		read := stack[:0]
		for {
			v, rest, ok := canonicalString(s)
			if !ok || v == "" || slices.Contains(read, v) {
				return nil, false
			}
			read = append(read, v)
			if len(rest) > 0 && rest[0] == ')' {
				s = rest[1:]
				break
			}
			if len(rest) < 2 || rest[0] != ' ' || rest[1] != '"' {
				return nil, false
			}
			s = rest[1:]
		}
		components = slices.Clone(read)
	}
	if s, ok = strings.CutPrefix(s, ";created="); !ok {
		return nil, false
	}
	var created int64
	if created, s, ok = canonicalInteger(s); !ok {
		return nil, false
	}
	// Each parameter's name is compared with a constant, in place (a
	// call of canonicalParam would compare it with memequal).
	var nonce, keyID, alg string
	if !strings.HasPrefix(s, ";nonce=") {
		return nil, false
	}
	if nonce, s, ok = paramValue(s[len(";nonce="):]); !ok {
		return nil, false
	}
	if !strings.HasPrefix(s, ";keyid=") {
		return nil, false
	}
	if keyID, s, ok = paramValue(s[len(";keyid="):]); !ok {
		return nil, false
	}
	if s == `;alg="`+Algorithm+`"` {
		alg = Algorithm
	} else if alg, s, ok = canonicalParam(s, ";alg="); !ok || s != "" {
		return nil, false
	}
	sigLabel, mac, ok := canonicalByteMember(sig, mac)
	if !ok || sigLabel != label {
		return nil, false
	}
	*si = signatureInput{label: label, components: components, created: created,
		nonce: nonce, keyID: keyID, alg: alg, params: params}
	return mac, true
}

// signerComponents are the component lists a [Signer] writes with the
// default store header: @method, @authority, @path and @query, then
// content-digest, content-type and x-store-id when the request has them,
// in that order. Indexed by a bit mask of the last three.
var signerComponents = func() (lists [8][]string) {
	for mask := range lists {
		l := slices.Clone(signerAlways[:])
		for i, c := range signerOptional {
			if mask&(1<<i) != 0 {
				l = append(l, c)
			}
		}
		lists[mask] = l[:len(l):len(l)] // an append copies
	}
	return lists
}()

// The components of signerComponents: always, then optionally.
var (
	signerAlways   = [...]string{"@method", "@authority", "@path", "@query"}
	signerOptional = [...]string{"content-digest", "content-type", "x-store-id"}
)

// signerList parses the inner list of components at the start of s when
// it is, byte for byte, one a Signer writes (signerComponents: each
// component once, in order, as a canonical string), and returns the shared
// list and the rest of s.
func signerList(s string) ([]string, string, bool) {
	rest, ok := strings.CutPrefix(s, signerAlwaysText)
	if !ok {
		return nil, s, false
	}
	mask := 0
	for i, c := range signerOptionalText {
		if r, ok := strings.CutPrefix(rest, c); ok {
			mask |= 1 << i
			rest = r
		}
	}
	if rest, ok = strings.CutPrefix(rest, ")"); !ok {
		return nil, s, false
	}
	return signerComponents[mask], rest, true
}

// The serialized forms of signerAlways (with the list's opening
// parenthesis) and of each of signerOptional (with the space before it).
var (
	signerAlwaysText   = `("` + strings.Join(signerAlways[:], `" "`) + `"`
	signerOptionalText = func() (texts [len(signerOptional)]string) {
		for i, c := range signerOptional {
			texts[i] = ` "` + c + `"`
		}
		return texts
	}()
)

// canonicalParam parses the string parameter name (";nonce=" and the like)
// at the start of s: a non-empty canonical string of at most 128 bytes.
func canonicalParam(s, name string) (string, string, bool) {
	s, ok := strings.CutPrefix(s, name)
	if !ok {
		return "", "", false
	}
	return paramValue(s)
}

// paramValue parses the value of a string parameter at the start of s,
// after its name: a non-empty canonical string of at most 128 bytes.
func paramValue(s string) (string, string, bool) {
	v, rest, ok := canonicalString(s)
	if !ok || v == "" || len(v) > 128 {
		return "", "", false
	}
	return v, rest, true
}

// canonicalByteMember parses a dictionary of one member whose value is a
// byte sequence without parameters, as Signature and Content-Digest are
// written: key=:base64:. It reports false for any other form. The bytes
// are decoded into dst when it has the room.
func canonicalByteMember(v string, dst []byte) (string, []byte, bool) {
	n := keyLen(v)
	if n == 0 || len(v) < n+3 || v[n] != '=' || v[n+1] != ':' || v[len(v)-1] != ':' {
		return "", nil, false
	}
	b64 := v[n+2 : len(v)-1]
	if b64 == "" {
		return "", nil, false
	}
	b, ok := decodeBase64(dst[:0], b64)
	if !ok {
		return "", nil, false
	}
	return v[:n], b[:len(b):len(b)], true
}

// decodeBase64 appends to dst the bytes of s, padded standard base64, and
// reports whether s is that: it accepts and refuses exactly what
// base64.StdEncoding.Decode, the decoder httpsfv uses, does for a string
// of the base64 alphabet and "=" (whole quanta of four; "=" only as the
// padding of the last, "xx==" or "xxx="; the trailing bits of a padded
// quantum ignored), and refuses any other byte, where that decoder would
// skip CR and LF.
func decodeBase64(dst []byte, s string) ([]byte, bool) {
	if len(s)%4 != 0 {
		return nil, false
	}
	if len(s) == 0 {
		return dst, true
	}
	// Room for the bytes a well-formed s gives (one allocation at most);
	// every quantum but the last gives three, written in place.
	size := len(s) / 4 * 3
	if s[len(s)-1] == '=' {
		size--
		if s[len(s)-2] == '=' {
			size--
		}
	}
	full := len(s) - 4
	n := len(dst)
	dst = slices.Grow(dst, size)[:n+full/4*3]
	out := dst[n:]
	for i, o := 0, 0; i < full; i, o = i+4, o+3 {
		q, w := s[i:i+4], out[o:o+3]
		a, b, c, d := base64Values[q[0]], base64Values[q[1]], base64Values[q[2]], base64Values[q[3]]
		if a|b|c|d >= 64 {
			return nil, false
		}
		w[0], w[1], w[2] = a<<2|b>>4, b<<4|c>>2, c<<6|d
	}
	// The last, which may be padded.
	q := s[full:]
	a, b, c, d := base64Values[q[0]], base64Values[q[1]], base64Values[q[2]], base64Values[q[3]]
	switch {
	case a|b|c|d < 64:
		return append(dst, a<<2|b>>4, b<<4|c>>2, c<<6|d), true
	case a|b >= 64 || d != base64Pad:
		return nil, false
	case c == base64Pad:
		return append(dst, a<<2|b>>4), true
	case c < 64:
		return append(dst, a<<2|b>>4, b<<4|c>>2), true
	}
	return nil, false
}

// base64Values maps each byte of the standard base64 alphabet to its
// value, "=" to base64Pad and any other byte to 0xff.
var base64Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
		t[c] = byte(i)
	}
	t['='] = base64Pad
	return t
}()

// base64Pad is the value of "=" in base64Values.
const base64Pad = 0xfe

// keyLen returns the length of the sf-key at the start of s (RFC 8941
// §3.1.2): lcalpha or "*", then lcalpha, DIGIT, "_", "-", "." or "*".
func keyLen(s string) int {
	if len(s) == 0 || !('a' <= s[0] && s[0] <= 'z' || s[0] == '*') {
		return 0
	}
	i := 1
	for i < len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		i++
	}
	return i
}

// canonicalString parses a quoted sf-string without escapes at the start
// of s and returns its value and the rest of s.
func canonicalString(s string) (string, string, bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", "", false
	}
	// Eight bytes at a time while none is special (the quote or a byte
	// an sf-string may not hold unescaped), then one pass with a table:
	// the strings are short, shorter than what strings.IndexByte's vector
	// loop pays off for.
	i := 1
	for i+8 <= len(s) && plainWord(le64(s[i:])) {
		i += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return s[1:i], s[i+1:], true
		}
		if !plainStringByte[c] {
			return "", "", false
		}
	}
	return "", "", false
}

// le64 returns the first eight bytes of s, little-endian (one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether each of the eight bytes of w is printable
// ASCII other than the quote and the backslash, as plainStringByte has
// it: none has its high bit set, none is below 0x20 and none is 0x7f, '"'
// or '\\' (the classic tests for "a byte below n" and "a zero byte",
// exact in whether any byte is one).
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	del, quote, backslash := w^0x7f*ones, w^'"'*ones, w^'\\'*ones
	bad := w | (w-0x20*ones)&^w | (del-ones)&^del | (quote-ones)&^quote | (backslash-ones)&^backslash
	return bad&highs == 0
}

// plainStringByte holds the bytes an sf-string may hold unescaped, but
// for the quote itself: printable ASCII other than the backslash.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '\\'
	}
	return t
}()

// canonicalInteger parses a positive sf-integer without leading zeros (at
// most 15 digits) at the start of s and returns it and the rest of s.
func canonicalInteger(s string) (int64, string, bool) {
	if len(s) == 0 || s[0] < '1' || s[0] > '9' {
		return 0, "", false
	}
	var v int64
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if i == 15 {
			return 0, "", false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, s[i:], true
}
