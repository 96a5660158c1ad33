package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

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

// parsed is a compact JWS split and checked for form, with its signature not
// yet verified and its payload not yet decoded.
type parsed struct {
	header       header
	signingInput string // base64url(header) "." base64url(payload)
	payload      string // still base64url
	signature    []byte
}

// parse splits a compact JWS and decodes its header and signature,
// refusing every form a strict verifier must refuse: over MaxTokenLen,
// other than three segments, non-canonical base64url or padding, a header
// that is not a JSON object, has duplicate member names, or carries crit,
// jwk, jku, x5u, x5c, b64 or zip. Errors wrap [ErrMalformed] or
// [ErrUnsupportedHeader] and never contain the token.
func parse(token string) (parsed, error) {
	if len(token) > MaxTokenLen {
		return parsed{}, errTooLarge
	}
	// Only the base64url alphabet and the two dots. (encoding/base64 skips
	// CR and LF even in strict mode; a token must not.)
	for i := 0; i < len(token); i++ {
		if !tokenByte[token[i]] {
			return parsed{}, errBase64
		}
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return parsed{}, errSegments
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 || h == "" || payload == "" || sig == "" {
		return parsed{}, errSegments
	}
	headerJSON, err := decodeSegment(h)
	if err != nil {
		return parsed{}, err
	}
	var p parsed
	if err := decodeJSONObject(headerJSON, &p.header); err != nil {
		return parsed{}, err
	}
	switch {
	case p.header.Crit != nil:
		return parsed{}, errCrit
	case p.header.JWK != nil, p.header.JKU != nil, p.header.X5U != nil, p.header.X5C != nil:
		return parsed{}, errEmbeddedKey
	case p.header.B64 != nil, p.header.Zip != nil:
		return parsed{}, errUnsupportedParam
	}
	if p.signature, err = decodeSegment(sig); err != nil {
		return parsed{}, err
	}
	p.signingInput = token[:len(h)+1+len(payload)]
	p.payload = payload
	return p, nil
}

// tokenByte marks the bytes a compact JWS may contain.
var tokenByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[c] = true
	}
	return t
}()

// decodeSegment decodes one strict base64url segment.
func decodeSegment(s string) ([]byte, error) {
	out := make([]byte, b64.DecodedLen(len(s)))
	n, err := b64.Decode(out, strbytes.View(s))
	if err != nil {
		return nil, errBase64
	}
	return out[:n], nil
}

// decodeJSONObject decodes data, which must be one JSON object with no
// duplicate member names at any depth, into v.
func decodeJSONObject(data []byte, v any) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return errJSON
	}
	if hasDuplicateNames(data) {
		return errDuplicateName
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errJSON
	}
	return nil
}

// hasDuplicateNames reports whether any object in data, which must be valid
// JSON, has two members with the same name (after unescaping, so "a" and
// "\u0061" are the same). encoding/json keeps the last of duplicates
// silently, which lets a token say one thing to keygate and another to a
// different parser; RFC 7515 §5.2 allows refusing them, and keygate does.
//
// It is a scanner over already-validated JSON: it tracks strings (with
// their escapes), nesting, and which strings are member names.
func hasDuplicateNames(data []byte) bool {
	type object struct{ names []string }
	var stack []object  // one per open object
	var isObject []bool // one per open container: object or array
	expectName := false // the next string in the current object is a name
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, object{})
			isObject = append(isObject, true)
			expectName = true
		case '[':
			isObject = append(isObject, false)
			expectName = false
		case '}':
			stack = stack[:len(stack)-1]
			isObject = isObject[:len(isObject)-1]
			expectName = false
		case ']':
			isObject = isObject[:len(isObject)-1]
			expectName = false
		case ',':
			expectName = len(isObject) > 0 && isObject[len(isObject)-1]
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
			name := string(data[start+1 : i])
			if escaped {
				if err := json.Unmarshal(data[start:i+1], &name); err != nil {
					return true // cannot happen for valid JSON; refuse anyway
				}
			}
			top := &stack[len(stack)-1]
			for _, n := range top.names {
				if n == name {
					return true
				}
			}
			top.names = append(top.names, name)
		}
	}
	return false
}
