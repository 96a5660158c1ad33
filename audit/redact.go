package audit

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret value.
const Redacted = "[REDACTED]"

// DefaultMaxField caps the length of a free-text field, in bytes.
const DefaultMaxField = 1024

// DefaultRecordHeaders are the request headers recorded by default. The
// user agent has its own field.
var DefaultRecordHeaders = []string{
	"Content-Type", "Content-Length", "X-Request-Id", "X-Store-Id",
	"X-Forwarded-For", "Forwarded",
}

// secretHeaders are always redacted.
var secretHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"Signature", "Signature-Input", "X-Api-Key",
}

// secretHeaderWords redact any header whose lower-case name contains one.
var secretHeaderWords = []string{"token", "secret", "password", "api-key", "apikey"}

// secretParams are query parameter names (lower case) always redacted.
var secretParams = map[string]bool{
	"access_token": true, "api_key": true, "apikey": true, "key": true,
	"token": true, "secret": true, "password": true, "client_secret": true,
	"signature": true, "sig": true, "code": true, "code_verifier": true,
	"client_assertion": true, "assertion": true, "pwd": true, "passwd": true,
}

// secretParamWords redact any query parameter whose lower-case name
// contains one.
var secretParamWords = []string{"token", "secret", "password", "key", "signature", "credential"}

// RedactorConfig configures a [Redactor].
type RedactorConfig struct {
	// Headers are extra header names whose values are redacted (any case).
	Headers []string
	// RecordHeaders are the headers recorded at all (any case); nil means
	// [DefaultRecordHeaders].
	RecordHeaders []string
	// MaxField caps a free-text field in bytes (default 1024).
	MaxField int
	// SecretPrefixes start credentials that are replaced by [Redacted]
	// wherever they appear in free text (a path segment, any query value,
	// a recorded header, the user agent): an API key prefix such as
	// "bk_live_sk_", "kgrt_" for refresh tokens. The credential runs from
	// the prefix to the first character outside A-Z, a-z, 0-9, "-", "_",
	// "." and "~". [DefaultSecretPrefixes] are always included. The
	// middleware adds its own key and token prefixes when it builds its
	// default Redactor.
	SecretPrefixes []string
}

// DefaultSecretPrefixes are credential prefixes every Redactor scrubs from
// free text: "eyJ", how a JWT (or any base64url-encoded JSON object)
// starts.
var DefaultSecretPrefixes = []string{"eyJ"}

// Redactor removes secrets from what the middleware records and escapes
// free text. Its methods are safe for concurrent use; a nil *Redactor
// uses the defaults.
type Redactor struct {
	record []recordedHeader // in order
	// recordIndex is the index in record of each recorded header's
	// canonical name.
	recordIndex map[string]int
	max         int
	prefixes    []string // credential prefixes scrubbed from free text
	// starts marks the first two bytes of each prefix (starts[a] has bit
	// b set for a prefix that starts with a, b), and single marks the
	// prefixes of one byte: text holding none of them holds no prefix,
	// which one pass over it tells. firsts has bit a set for the first
	// byte a of any prefix: the pass reads starts[a] and single[a] only
	// there, so that it touches one cache line for most text, not a row
	// of starts per distinct byte.
	firsts [4]uint64
	starts [256][4]uint64
	single [256]bool
}

// recordedHeader is a header a Redactor records, and whether its values
// are redacted: decided once, in NewRedactor, not per request.
type recordedHeader struct {
	name   string // canonical
	secret bool
}

var defaultRedactor = NewRedactor(RedactorConfig{})

// NewRedactor returns a Redactor.
func NewRedactor(cfg RedactorConfig) *Redactor {
	r := &Redactor{max: cfg.MaxField}
	if r.max <= 0 {
		r.max = DefaultMaxField
	}
	redact := map[string]bool{} // canonical names
	for _, h := range append(append([]string(nil), secretHeaders...), cfg.Headers...) {
		redact[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	rec := cfg.RecordHeaders
	if rec == nil {
		rec = DefaultRecordHeaders
	}
	r.recordIndex = map[string]int{}
	for _, h := range rec {
		h = textproto.CanonicalMIMEHeaderKey(h)
		if _, seen := r.recordIndex[h]; !seen {
			r.recordIndex[h] = len(r.record)
			r.record = append(r.record, recordedHeader{name: h, secret: secretHeader(redact, h)})
		}
	}
	for _, p := range append(append([]string(nil), DefaultSecretPrefixes...), cfg.SecretPrefixes...) {
		if p != "" && !slices.Contains(r.prefixes, p) {
			r.prefixes = append(r.prefixes, p)
			r.firsts[p[0]>>6] |= 1 << (p[0] & 63)
			if len(p) == 1 {
				r.single[p[0]] = true
			} else {
				r.starts[p[0]][p[1]>>6] |= 1 << (p[1] & 63)
			}
		}
	}
	return r
}

// scrub replaces every credential that starts with one of r's prefixes by
// [Redacted].
func (r *Redactor) scrub(s string) string {
	if !r.mayHold(s) {
		return s
	}
	for _, p := range r.prefixes {
		if !strings.Contains(s, p) {
			continue
		}
		var b strings.Builder
		for {
			i := strings.Index(s, p)
			if i < 0 {
				break
			}
			end := i + len(p)
			for end < len(s) && credentialChar(s[end]) {
				end++
			}
			b.WriteString(s[:i])
			b.WriteString(Redacted)
			s = s[end:]
		}
		b.WriteString(s)
		s = b.String()
	}
	return s
}

// mayHold reports whether s holds the first two bytes of one of r's
// prefixes (or a prefix of one byte): when it does not, it holds no
// prefix, and the search for each prefix is spared.
func (r *Redactor) mayHold(s string) bool {
	for i := 0; i < len(s); i++ {
		if r.startsAt(s, i) {
			return true
		}
	}
	return false
}

// startsAt reports whether s[i] is a prefix of one byte or s[i:i+2] the
// first two bytes of a prefix.
func (r *Redactor) startsAt(s string, i int) bool {
	c := s[i]
	if r.firsts[c>>6]&(1<<(c&63)) == 0 {
		return false // what most bytes are: only firsts is read
	}
	return r.single[c] || i+1 < len(s) && r.starts[c][s[i+1]>>6]&(1<<(s[i+1]&63)) != 0
}

// hasSecret reports whether s holds a credential with one of r's prefixes.
func (r *Redactor) hasSecret(s string) bool {
	if !r.mayHold(s) {
		return false
	}
	for _, p := range r.prefixes {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// queryUnescape decodes a query name or value. One that is not
// well-formed is decoded leniently, every valid escape but not the stray
// "%": a malformed escape must not hide a credential from the scrubbing.
func queryUnescape(v string) string {
	if u, err := url.QueryUnescape(v); err == nil {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
		case c == '+':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// credentialChar reports whether c may be part of a credential: the
// unreserved characters of RFC 3986.
func credentialChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// secretHeader reports whether the values of header name (canonical) are
// redacted, given the canonical names always redacted.
func secretHeader(redact map[string]bool, name string) bool {
	if redact[name] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range secretHeaderWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// Headers returns the recorded headers present in h, keyed by canonical
// name, several values joined by ", ". Secret-bearing headers — the
// Authorization, Proxy-Authorization, Cookie, Set-Cookie, Signature,
// Signature-Input and X-Api-Key headers, the configured extra ones, and any
// whose name contains "token", "secret", "password" or "api-key" — have the
// value [Redacted]; the others are escaped and capped like [Redactor.Field].
// It returns nil if none is present.
func (r *Redactor) Headers(h http.Header) map[string]string {
	if r == nil {
		r = defaultRedactor
	}
	if len(h) <= 2 && len(h) < len(r.record) {
		return r.headersOfRequest(h)
	}
	return r.headersOfRecord(h)
}

// headersOfRecord is Headers looking each recorded header up in h.
func (r *Redactor) headersOfRecord(h http.Header) map[string]string {
	var out map[string]string
	for i := range r.record {
		out = r.recordHeader(out, &r.record[i], h[r.record[i].name]) // the name is canonical, like the keys net/http stores
	}
	return out
}

// headersOfRequest is Headers looking each header of h up among the
// recorded ones: faster when h holds one or two headers (an API client's
// credential, say), slower from three on (iterating over a map costs more
// per entry than looking one up).
func (r *Redactor) headersOfRequest(h http.Header) map[string]string {
	var out map[string]string
	for name, vs := range h {
		if i := r.recordedIndex(name); i >= 0 {
			out = r.recordHeader(out, &r.record[i], vs)
		}
	}
	return out
}

// recordedIndex returns the index in r.record of the header called name
// (canonical), or -1 if r does not record it. A few names are compared
// in turn, most by their length alone, rather than the name hashed for a
// lookup in recordIndex.
func (r *Redactor) recordedIndex(name string) int {
	if len(r.record) > 8 {
		if i, ok := r.recordIndex[name]; ok {
			return i
		}
		return -1
	}
	for i := range r.record {
		if r.record[i].name == name {
			return i
		}
	}
	return -1
}

// recordHeader records the values vs of the recorded header rh in out,
// made when nil, and returns out.
func (r *Redactor) recordHeader(out map[string]string, rh *recordedHeader, vs []string) map[string]string {
	if len(vs) == 0 {
		return out
	}
	if out == nil {
		out = make(map[string]string)
	}
	if rh.secret {
		out[rh.name] = Redacted
	} else {
		out[rh.name] = r.Field(strings.Join(vs, ", "))
	}
	return out
}

// SecretParam reports whether a query parameter called name carries a
// secret: access_token, api_key, apikey, key, token, secret, password,
// client_secret, signature, sig, code, code_verifier, assertion,
// client_assertion, pwd, passwd, or any name containing "token", "secret",
// "password", "key", "signature" or "credential" (any case).
func SecretParam(name string) bool {
	name = strings.ToLower(name)
	if secretParams[name] {
		return true
	}
	for _, w := range secretParamWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// Path returns u's escaped path and query, with the value of every
// secret-bearing query parameter (see [SecretParam]) replaced by
// "REDACTED", escaped and capped like [Redactor.Field]. The order and
// spelling of the other parameters are kept.
func (r *Redactor) Path(u *url.URL) string {
	if r == nil {
		r = defaultRedactor
	}
	if u == nil {
		return ""
	}
	if u.RawQuery == "" && !u.ForceQuery && u.RawPath == "" && len(u.Path) <= r.max && r.plainPath(u.Path) {
		return u.Path // what most paths are: nothing to escape, scrub nor cap
	}
	return r.path(u)
}

// pathPlainSet has bit c set for the bytes that [url.URL.EscapedPath]
// keeps as they are in a path, and that Field keeps too: the unreserved
// characters of RFC 3986 and "/", "$", "&", "+", ",", ":", ";", "=", "@".
var pathPlainSet = func() (set [4]uint64) {
	for c := range 256 {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/$&+,:;=@", byte(c)) >= 0 {
			set[c>>6] |= 1 << (c & 63)
		}
	}
	return set
}()

// plainPath reports whether the path s is escaped as it is and holds no
// prefix's first two bytes nor a prefix of one byte: one pass over s that
// tells Path it returns s, for a URL without a query or a RawPath.
func (r *Redactor) plainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; pathPlainSet[c>>6]&(1<<(c&63)) == 0 || r.startsAt(s, i) {
			return false
		}
	}
	return true
}

// path is Path for u of any kind (not nil): escaped, scrubbed, its
// secret query values replaced, then escaped and capped as a Field.
func (r *Redactor) path(u *url.URL) string {
	p := u.EscapedPath()
	if r.hasSecret(u.Path) {
		// Percent-encoding must not hide a credential from the scrubbing.
		p = (&url.URL{Path: r.scrub(u.Path)}).EscapedPath()
	}
	if u.RawQuery == "" && !u.ForceQuery {
		return r.Field(p)
	}
	var b strings.Builder
	b.WriteString(p)
	b.WriteByte('?')
	for i, kv := range strings.Split(u.RawQuery, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		rawName, value, hasValue := strings.Cut(kv, "=")
		name := queryUnescape(rawName)
		if r.hasSecret(name) {
			// A credential as a parameter's name: percent-encoding must not
			// hide it from the scrubbing either.
			rawName = url.QueryEscape(r.scrub(name))
		}
		b.WriteString(rawName)
		if !hasValue {
			continue
		}
		b.WriteByte('=')
		if SecretParam(name) || r.hasSecret(queryUnescape(value)) {
			value = "REDACTED"
		}
		b.WriteString(value)
	}
	return r.Field(b.String())
}

// Field escapes s for a log, after replacing every credential that starts
// with one of the secret prefixes (see RedactorConfig.SecretPrefixes) by
// [Redacted]: backslash, CR, LF and tab become \\, \r, \n and \t; other
// control characters (C0, DEL, C1), the Unicode line and paragraph
// separators and bidirectional controls become \u00XX or
// \uXXXX; invalid UTF-8 becomes \ufffd. The result is capped at MaxField
// bytes (default 1024), a cut marked by "...". The middleware passes every
// free-text field it records through it.
func (r *Redactor) Field(s string) string {
	if r == nil {
		r = defaultRedactor
	}
	if len(s) <= r.max && r.plain(s) {
		return s // what most fields are: nothing to scrub, nor to escape
	}
	return r.field(s)
}

// plain reports whether s is printable ASCII without a backslash (clean)
// and holds no prefix's first two bytes nor a prefix of one byte (not
// mayHold): one pass over s that tells Field it returns s as it is.
func (r *Redactor) plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' || r.startsAt(s, i) {
			return false
		}
	}
	return true
}

// field is Field for s of any kind: scrubbed, then escaped and capped.
func (r *Redactor) field(s string) string {
	s = r.scrub(s)
	if len(s) <= r.max && clean(s) {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	limit := r.max - len("...")
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c == utf8.RuneError && size == 1:
			esc = `\ufffd`
		case needsEscape(c):
			esc = string([]byte{'\\', 'u', hex[c>>12&0xf], hex[c>>8&0xf], hex[c>>4&0xf], hex[c&0xf]})
		default:
			esc = s[i : i+size]
		}
		if b.Len()+len(esc) > limit {
			// Does the rest fit without the marker?
			if rest := s[i:]; b.Len()+len(rest) <= r.max && clean(rest) {
				b.WriteString(rest)
				return b.String()
			}
			b.WriteString("...")
			return b.String()
		}
		b.WriteString(esc)
		i += size
	}
	return b.String()
}

// clean reports whether s needs no escaping.
func clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\\' || (r == utf8.RuneError && size == 1) || needsEscape(r) || r == '\n' || r == '\r' || r == '\t' {
			return false
		}
		i += size
	}
	return true
}

func needsEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
		r == 0x2028 || r == 0x2029 || // line and paragraph separators
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) // bidi controls
}
