package httpsig

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Algorithm is the only signature algorithm of the v3 profile.
const Algorithm = "hmac-sha256"

// Errors about signatures; test with errors.Is. Every one but
// [ErrNoSignature] rejects the request and wraps [ErrRequestInvalid].
var (
	// ErrRequestInvalid is wrapped by every error that rejects a signed
	// request: [ErrMalformed], [ErrMissingComponent], [ErrNonCanonical],
	// [ErrMisdirected], [ErrStale], [ErrInvalidSignature] (which a
	// credential that may not sign also gives), [ErrDigest], [ErrReplayed]
	// and [ErrBodyTooLarge]. One errors.Is against it tells a bad request
	// from a store failure; the specific errors tell the reason.
	ErrRequestInvalid = errors.New("httpsig: signed request rejected")
	// ErrNoSignature is returned for a request that has neither
	// Signature-Input nor Signature. It is no rejection: the request may
	// carry another credential.
	ErrNoSignature = errors.New("httpsig: request not signed")
	// ErrMalformed is returned when Signature-Input, Signature or
	// Content-Digest is not a structured field of the v3 profile's shape.
	ErrMalformed error = &rejection{"httpsig: malformed signature fields", ErrRequestInvalid}
	// ErrMissingComponent is returned when the signature leaves out a
	// component the profile requires, or covers one the request does not
	// have.
	ErrMissingComponent error = &rejection{"httpsig: required component not covered", ErrRequestInvalid}
	// ErrNonCanonical is returned when the request target is not in
	// canonical form (dot segments, empty segments, escaped slashes,
	// escapes that need none): the path that would be routed could differ
	// from the path signed.
	ErrNonCanonical error = &rejection{"httpsig: request path not canonical", ErrRequestInvalid}
	// ErrMisdirected is returned when the request's authority is not one
	// the verifier answers to: a request signed for another host.
	ErrMisdirected error = &rejection{"httpsig: request signed for another authority", ErrRequestInvalid}
	// ErrStale is returned when created is outside the allowed skew, or
	// expires has passed.
	ErrStale error = &rejection{"httpsig: signature outside its time window", ErrRequestInvalid}
	// ErrInvalidSignature is returned when the MAC does not verify, or when
	// the key ID is unknown, revoked, expired or disabled: the response is
	// the same, and the error then wraps [ErrCredentialInvalid] too.
	ErrInvalidSignature error = &rejection{"httpsig: invalid signature", ErrRequestInvalid}
	// ErrDigest is returned when Content-Digest does not match the body.
	ErrDigest error = &rejection{"httpsig: content digest mismatch", ErrRequestInvalid}
	// ErrReplayed is returned when the nonce was already used with this
	// key ID.
	ErrReplayed error = &rejection{"httpsig: replayed request", ErrRequestInvalid}
	// ErrBodyTooLarge is returned when the body is over the verifier's
	// limit (413).
	ErrBodyTooLarge error = &rejection{"httpsig: body too large", ErrRequestInvalid}
)

// rejection is the error type of the specific rejections: each has its own
// message and is also its umbrella ([ErrRequestInvalid] or
// [ErrCredentialInvalid]) for [errors.Is].
type rejection struct {
	msg      string
	umbrella error
}

func (e *rejection) Error() string { return e.msg }

// Is reports whether target is the rejection's umbrella.
func (e *rejection) Is(target error) bool { return target == e.umbrella }

// malformed wraps ErrMalformed with a fixed reason.
func malformed(reason string) error { return fmt.Errorf("%w: %s", ErrMalformed, reason) }

// signatureInput is the one signature of a request, as declared by its
// Signature-Input member.
type signatureInput struct {
	label      string
	components []string // component identifiers, in order
	created    int64
	expires    int64 // 0: none
	nonce      string
	keyID      string
	alg        string // "" when absent
	params     string // the serialized inner list: the @signature-params value
}

// maxFieldLen bounds each signature field a verifier parses.
const maxFieldLen = 4 << 10

// parseSignature reads the request's one signature: its Signature-Input
// member and the MAC of the same label in Signature.
func parseSignature(h http.Header) (signatureInput, []byte, error) {
	var si signatureInput
	mac, err := parseSignatureInto(h, nil, &si)
	if err != nil {
		return signatureInput{}, nil, err
	}
	return si, mac, nil
}

// parseSignatureInto is parseSignature with the MAC buffer of
// parseCanonicalInto for the fast path, writing the signature into *si
// (which holds anything on an error).
func parseSignatureInto(h http.Header, mac []byte, si *signatureInput) ([]byte, error) {
	// Canonical keys, indexed directly: Values would canonicalize them
	// again on every request.
	inputs, sigs := h["Signature-Input"], h["Signature"]
	if len(inputs) == 0 && len(sigs) == 0 {
		return nil, ErrNoSignature
	}
	if len(inputs) == 0 || len(sigs) == 0 {
		return nil, malformed("Signature-Input and Signature go together")
	}
	for _, vs := range [2][]string{inputs, sigs} {
		for _, v := range vs {
			if len(v) > maxFieldLen {
				return nil, malformed("signature field too long")
			}
		}
	}
	if len(inputs) == 1 && len(sigs) == 1 {
		if mac, ok := parseCanonicalInto(inputs[0], sigs[0], mac, si); ok {
			return mac, nil
		}
	}
	var err error
	*si, mac, err = parseSignatureSFV(inputs, sigs)
	return mac, err
}

// parseSignatureSFV is parseSignature's general path: the fields parsed
// with httpsfv, whatever their form.
func parseSignatureSFV(inputs, sigs []string) (signatureInput, []byte, error) {
	in, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil {
		return signatureInput{}, nil, malformed("Signature-Input is not a dictionary")
	}
	labels := in.Names()
	if len(labels) != 1 {
		return signatureInput{}, nil, malformed("exactly one signature is accepted")
	}
	si := signatureInput{label: labels[0]}
	m, _ := in.Get(si.label)
	list, ok := m.(httpsfv.InnerList)
	if !ok {
		return signatureInput{}, nil, malformed("Signature-Input member is not an inner list")
	}
	for _, item := range list.Items {
		name, ok := item.Value.(string)
		if !ok || name == "" || len(item.Params.Names()) > 0 {
			return signatureInput{}, nil, malformed("components are plain strings without parameters")
		}
		if slices.Contains(si.components, name) {
			return signatureInput{}, nil, malformed("a component is listed twice")
		}
		si.components = append(si.components, name)
	}
	for _, name := range list.Params.Names() {
		v, _ := list.Params.Get(name)
		var ok bool
		switch name {
		case "created":
			si.created, ok = v.(int64)
		case "expires":
			si.expires, ok = v.(int64)
			ok = ok && si.expires > 0
		case "nonce":
			si.nonce, ok = v.(string)
			ok = ok && si.nonce != "" && len(si.nonce) <= 128
		case "keyid":
			si.keyID, ok = v.(string)
			ok = ok && si.keyID != "" && len(si.keyID) <= 128
		case "alg":
			si.alg, ok = v.(string)
			ok = ok && si.alg != "" // present means checked
		default:
			ok = true // tag and others: covered by the MAC, otherwise ignored
		}
		if !ok {
			return signatureInput{}, nil, malformed("a signature parameter has the wrong type")
		}
	}
	if si.params, err = httpsfv.Marshal(httpsfv.List{list}); err != nil {
		return signatureInput{}, nil, malformed("Signature-Input cannot be serialized")
	}

	sd, err := httpsfv.UnmarshalDictionary(sigs)
	if err != nil {
		return signatureInput{}, nil, malformed("Signature is not a dictionary")
	}
	sm, ok := sd.Get(si.label)
	if !ok || len(sd.Names()) != 1 {
		return signatureInput{}, nil, malformed("Signature must hold exactly the declared label")
	}
	item, ok := sm.(httpsfv.Item)
	mac, isBytes := item.Value.([]byte)
	if !ok || !isBytes {
		return signatureInput{}, nil, malformed("Signature member is not a byte sequence")
	}
	return si, mac, nil
}

// checkProfile applies the v3 profile's parameter rules to a parsed
// signature (parseSignature itself reads any RFC 9421 signature).
func checkProfile(si *signatureInput) error {
	switch {
	case si.created == 0 || si.nonce == "" || si.keyID == "":
		return malformed("created, nonce and keyid are required")
	case si.created < 0 || si.created > 1e11:
		return malformed("created must be Unix seconds")
	case si.alg != "" && si.alg != Algorithm:
		return malformed("alg must be hmac-sha256")
	}
	return nil
}

// signatureBase builds the RFC 9421 §2.5 signature base of r for si: one
// line per covered component, then @signature-params, joined by LF.
func signatureBase(r *http.Request, si signatureInput) (string, error) {
	b, err := appendSignatureBase(nil, r, &si, targetOf(r), nil)
	return string(b), err
}

// target is what the @authority and @path components of a request are
// derived from, worked out once per request.
type target struct {
	authority string // authority(r)
	path      string // escapedPath(r.URL)
}

// targetOf returns r's target.
func targetOf(r *http.Request) target {
	return target{authority: authority(r), path: escapedPath(r.URL)}
}

// appendSignatureBase appends the signature base of r, whose target is t,
// for si to dst. When digest is not nil and the base's Content-Digest
// value is looked up on the way (a Signer's list), *digest is set to its
// field values, so that the digest's check need not look them up again.
func appendSignatureBase(dst []byte, r *http.Request, si *signatureInput, t target, digest *[]string) ([]byte, error) {
	if mask := signerMask(si.components); mask >= 0 {
		return appendSignerBase(dst, r, si, &t, mask, digest)
	}
	return appendAnyBase(dst, r, si, t)
}

// appendSignerBase is appendSignatureBase for a list of signerComponents,
// mask its index: the same bytes, each line's fixed text appended at
// once.
func appendSignerBase(dst []byte, r *http.Request, si *signatureInput, t *target, mask int, digest *[]string) ([]byte, error) {
	dst = append(dst, `"@method": `...)
	dst = append(dst, r.Method...)
	dst = append(dst, "\n\"@authority\": "...)
	dst = append(dst, t.authority...)
	dst = append(dst, "\n\"@path\": "...)
	dst = append(dst, t.path...)
	dst = append(dst, "\n\"@query\": ?"...)
	dst = append(dst, r.URL.RawQuery...)
	for i, key := range signerOptionalKeys {
		if mask&(1<<i) == 0 {
			continue
		}
		dst = append(dst, signerOptionalLines[i]...)
		values := r.Header[key]
		if i == 0 && digest != nil { // content-digest
			*digest = values
		}
		var err error
		if dst, err = appendFieldValue(dst, values); err != nil {
			return nil, err
		}
	}
	dst = append(dst, "\n\"@signature-params\": "...)
	return append(dst, si.params...), nil
}

// The http.Header keys of signerOptional, and the text before each one's
// value in a signature base: the previous line's LF, the quoted name and
// ": ".
var (
	signerOptionalKeys = func() (keys [len(signerOptional)]string) {
		for i, c := range signerOptional {
			keys[i] = http.CanonicalHeaderKey(c)
		}
		return keys
	}()
	signerOptionalLines = func() (lines [len(signerOptional)]string) {
		for i, c := range signerOptional {
			lines[i] = "\n\"" + c + "\": "
		}
		return lines
	}()
)

// appendAnyBase is appendSignatureBase for any list of components.
func appendAnyBase(dst []byte, r *http.Request, si *signatureInput, t target) ([]byte, error) {
	for _, name := range si.components {
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `": `...)
		var err error
		if dst, err = appendComponentValue(dst, r, name, &t); err != nil {
			return nil, err
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, `"@signature-params": `...)
	return append(dst, si.params...), nil
}

// appendComponentValue appends one component's value (RFC 9421 §2.1,
// §2.2) to dst.
func appendComponentValue(dst []byte, r *http.Request, name string, t *target) ([]byte, error) {
	switch name {
	case "@method":
		return append(dst, r.Method...), nil
	case "@authority":
		return append(dst, t.authority...), nil
	case "@path":
		return append(dst, t.path...), nil
	case "@query":
		return append(append(dst, '?'), r.URL.RawQuery...), nil
	case "@scheme":
		if r.TLS != nil || r.URL.Scheme == "https" {
			return append(dst, "https"...), nil
		}
		return append(dst, "http"...), nil
	}
	key, ok := commonHeaderKey(name)
	if !ok {
		if strings.HasPrefix(name, "@") {
			return nil, malformed("unsupported derived component")
		}
		if !lowerFieldName(name) {
			return nil, malformed("field names are lower case tokens")
		}
		if name == "host" {
			return append(dst, t.authority...), nil
		}
		key = http.CanonicalHeaderKey(name)
	}
	return appendFieldValue(dst, r.Header[key])
}

// appendFieldValue appends the value of a covered header whose field
// lines are values (RFC 9421 §2.1, for the one line v3 accepts) to dst.
func appendFieldValue(dst []byte, values []string) ([]byte, error) {
	switch len(values) {
	case 0:
		return nil, fmt.Errorf("%w: a covered header is absent", ErrMissingComponent)
	case 1:
		return append(dst, strings.TrimSpace(values[0])...), nil
	default:
		// RFC 9421 would join them; a header sent twice is how an unsigned
		// value gets next to a signed one, so v3 refuses it.
		return nil, malformed("a covered header is sent more than once")
	}
}

// lowerFieldName reports whether name is its own lower case and holds
// none of the bytes space, tab, CR, LF, colon and quote: in one pass over
// an ASCII name, by strings.ToLower otherwise.
func lowerFieldName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 0x80:
			return name == strings.ToLower(name) && !strings.ContainsAny(name, " \t\r\n:\"")
		case 'A' <= c && c <= 'Z', c == ' ', c == '\t', c == '\r', c == '\n', c == ':', c == '"':
			return false
		}
	}
	return true
}

// commonHeaderKey returns the http.Header key of the lower-case field
// names signatures usually cover, without allocating (and without
// checking the names, which are valid), and false for any other name.
func commonHeaderKey(name string) (string, bool) {
	switch name {
	case "content-digest":
		return "Content-Digest", true
	case "content-type":
		return "Content-Type", true
	case "x-store-id":
		return "X-Store-Id", true
	}
	return "", false
}

// authority is the request's host, lower case, without a default port.
func authority(r *http.Request) string {
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	host = strings.ToLower(host)
	tls := r.TLS != nil || (r.URL != nil && r.URL.Scheme == "https")
	if tls {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// escapedPath is the path as sent, "/" when empty.
func escapedPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// canonicalTarget reports whether u's path is in a form whose routing
// cannot differ from what was signed: no dot segments and no empty
// segments (which a router cleans or redirects), and no percent-escape of
// a slash, a dot, a percent sign or an unreserved character (which decode
// into a different path or segment structure than the bytes signed).
// Escapes of other characters, and unescaped sub-delimiters such as "!",
// are fine: the signature covers the path exactly as sent.
func canonicalTarget(u *url.URL) bool { return canonicalPath(u.Path, u.EscapedPath()) }

// canonicalPath is canonicalTarget of a URL whose Path is p and whose
// EscapedPath is raw (or escapedPath: "/" for an empty one changes
// nothing).
func canonicalPath(p, raw string) bool {
	if !cleanRooted(p) && !cleanByPath(p) {
		return false
	}
	return canonicalEscapes(raw)
}

// cleanByPath reports whether path.Clean leaves p as it is, but for a
// trailing slash, which it drops and which a path may keep; an empty p is
// clean (the empty path stands for "/").
func cleanByPath(p string) bool {
	if p == "" {
		return true
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && p != "/" {
		clean += "/"
	}
	return clean == p
}

// canonicalEscapes reports whether the escaped path raw escapes neither a
// slash, a dot, a percent sign nor an unreserved character, and has no
// malformed escape (see canonicalTarget).
func canonicalEscapes(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		if i+2 >= len(raw) {
			return false
		}
		c, ok := unhex(raw[i+1], raw[i+2])
		if !ok || c == '/' || c == '.' || c == '%' || c == '-' || c == '_' || c == '~' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			return false
		}
		i += 2
	}
	return true
}

// cleanRooted reports whether p is a rooted path without an empty, "."
// or ".." segment: then path.Clean(p) is p, but for a trailing slash,
// which Clean drops (canonicalPath puts it back), in one pass without
// allocating. For any other p it reports false, and Clean decides.
func cleanRooted(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		// The segment after this slash: not empty (but at the end), "."
		// or "..".
		seg := p[i+1:]
		if j := strings.IndexByte(seg, '/'); j >= 0 {
			seg = seg[:j]
			if j == 0 {
				return false
			}
		}
		if seg == "." || seg == ".." {
			return false
		}
		i += len(seg)
	}
	return true
}

func unhex(a, b byte) (byte, bool) {
	v := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	hi, ok1 := v(a)
	lo, ok2 := v(b)
	return hi<<4 | lo, ok1 && ok2
}
