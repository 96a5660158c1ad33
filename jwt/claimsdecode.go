package jwt

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/strbytes"
)

// decodeClaims decodes the claims of an access token: exactly what
// json.Unmarshal into wireClaims gives, plus keygate's refusals
// (duplicate member names, names that clash in case with a known claim),
// several times faster, which the first verification of a token needs.
//
// It walks the document once, validating as it goes with the scanners of
// validJSON (which answers as json.Valid does): each member's value is
// validated whole before it is decoded, so the decoding only ever sees
// valid JSON. Anything unusual in a value (escapes, non-ASCII, null) is
// handed to encoding/json itself, so the fast path only ever takes plain
// ASCII strings as they are and parses numbers. FuzzDecodeClaims checks
// it against json.Unmarshal.
//
// The plain strings it decodes are substrings of text, which the caller
// must never change (a string is immutable, but the verifier builds text
// over its own freshly decoded bytes without a copy), and the lists of
// strings (aud, kg_permissions, ...) share one backing array, so that a
// token's claims cost one allocation rather than one per string and list.
func decodeClaims(text string) (wireClaims, error) {
	var w wireClaims
	err := decodeClaimsInto(text, &w)
	return w, err
}

// decodeClaimsInto is decodeClaims into *w, which must be zero; on an
// error, *w is left in an unspecified state.
func decodeClaimsInto(text string, w *wireClaims) error {
	data := strbytes.View(text)
	err := decodeClaimsOnce(data, text, w)
	if err != nil && err != errJSON && !validJSON(data) {
		// encoding/json refuses a document that is not valid JSON before
		// it decodes anything: so does keygate, whatever a member before
		// the fault said.
		return errJSON
	}
	return err
}

// decodeClaimsOnce is decodeClaimsInto in one pass: an error that it
// returns for a member may hide a syntax error further on.
func decodeClaimsOnce(data []byte, text string, w *wireClaims) error {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errJSON
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		if skipJSONSpace(data, i+1) != len(data) {
			return errJSON
		}
		return nil
	}
	var arena []string    // the backing array of the lists
	var seenClaims uint32 // the known claims so far, by index
	var seenBuf [8][]byte
	seen := seenBuf[:0] // the unknown names so far, unescaped
	for {
		// A member starts at i.
		if i >= len(data) || data[i] != '"' {
			return errJSON
		}
		end, plainName, ok := jsonString(data, i)
		if !ok {
			return errJSON
		}
		name := data[i+1 : end-1]
		if !plainName && hasEscape(name) {
			// A name with escapes: encoding/json decodes it.
			var s string
			if err := json.Unmarshal(append(append([]byte{'"'}, name...), '"'), &s); err != nil {
				return errJSON
			}
			name = []byte(s)
		}
		claim := claimIndex(name)
		if i = skipJSONSpace(data, end); i >= len(data) || data[i] != ':' {
			return errJSON
		}
		start := skipJSONSpace(data, i+1)
		plain := false // a string value of ASCII without escapes
		var list []string
		listed := false // list holds the value, a list of plain strings
		switch {
		case start < len(data) && data[start] == '"':
			i, plain, ok = jsonString(data, start)
		case start < len(data) && data[start] == '[' && claim >= claimKgPermissions:
			if i, list, listed = plainList(data, text, start, &arena); listed {
				break
			}
			fallthrough
		default:
			i, ok = validValue(data, start, 1)
		}
		if !ok {
			return errJSON
		}
		value, valueText := data[start:i], text[start:i]
		if claim >= 0 {
			if seenClaims&(1<<claim) != 0 {
				return errDuplicateName
			}
			seenClaims |= 1 << claim
			if listed {
				*w.list(claim) = list
			} else if err := w.set(claim, value, valueText, plain, &arena); err != nil {
				return err
			}
		} else {
			// An unknown member is ignored, as json.Unmarshal ignores it,
			// after the checks json.Unmarshal skips: a name seen before,
			// a name that clashes in case with a known claim, and
			// duplicates inside its value.
			for _, n := range seen {
				if string(n) == string(name) {
					return errDuplicateName
				}
			}
			seen = append(seen, name)
			if known := memberNamesOf(w); known.clashes(name) {
				return errDuplicateName
			}
			if (value[0] == '{' || value[0] == '[') && hasDuplicateNames(value, nil) {
				return errDuplicateName
			}
		}
		// After the member: a comma and the next one, or the end.
		if i = skipJSONSpace(data, i); i >= len(data) {
			return errJSON
		}
		switch data[i] {
		case ',':
			i = skipJSONSpace(data, i+1)
		case '}':
			if skipJSONSpace(data, i+1) != len(data) {
				return errJSON
			}
			return nil
		default:
			return errJSON
		}
	}
}

// The known claims, by index (see claimIndex); the lists of strings come
// last, from claimKgPermissions on.
const (
	claimIss = iota
	claimSub
	claimJti
	claimClientID
	claimScope
	claimSid
	claimKgAccount
	claimKgPackage
	claimKgMode
	claimKgClientKind
	claimAud
	claimExp
	claimIat
	claimNbf
	claimKgPermissions
	claimKgStores
	claimKgAllowedIPs
	claimKgDeniedIPs
	claimKgAllowedCountries
	claimKgDeniedCountries
	numClaims
)

// claimIndex returns the index of a known claim's name, or -1.
func claimIndex(name []byte) int {
	switch string(name) {
	case "iss":
		return claimIss
	case "sub":
		return claimSub
	case "jti":
		return claimJti
	case "client_id":
		return claimClientID
	case "scope":
		return claimScope
	case "sid":
		return claimSid
	case "kg_account":
		return claimKgAccount
	case "kg_package":
		return claimKgPackage
	case "kg_mode":
		return claimKgMode
	case "kg_client_kind":
		return claimKgClientKind
	case "aud":
		return claimAud
	case "exp":
		return claimExp
	case "iat":
		return claimIat
	case "nbf":
		return claimNbf
	case "kg_permissions":
		return claimKgPermissions
	case "kg_stores":
		return claimKgStores
	case "kg_allowed_ips":
		return claimKgAllowedIPs
	case "kg_denied_ips":
		return claimKgDeniedIPs
	case "kg_allowed_countries":
		return claimKgAllowedCountries
	case "kg_denied_countries":
		return claimKgDeniedCountries
	}
	return -1
}

// set decodes the member of a known claim into w, as json.Unmarshal
// would. value is valid JSON, and plain says
// whether it is a string of ASCII without escapes. text holds the same
// bytes as value: the decoded plain strings are substrings of it. The
// lists it decodes on the fast path are carved out of *arena.
func (w *wireClaims) set(claim int, value []byte, text string, plain bool, arena *[]string) (err error) {
	switch claim {
	case claimIss:
		w.Iss, err = decodeString(value, text, w.Iss, plain)
	case claimSub:
		w.Sub, err = decodeString(value, text, w.Sub, plain)
	case claimJti:
		w.Jti, err = decodeString(value, text, w.Jti, plain)
	case claimClientID:
		w.ClientID, err = decodeString(value, text, w.ClientID, plain)
	case claimScope:
		w.Scope, err = decodeString(value, text, w.Scope, plain)
	case claimSid:
		w.Sid, err = decodeString(value, text, w.Sid, plain)
	case claimKgAccount:
		w.Account, err = decodeString(value, text, w.Account, plain)
	case claimKgPackage:
		w.Package, err = decodeString(value, text, w.Package, plain)
	case claimKgMode:
		var m string
		m, err = decodeString(value, text, string(w.Mode), plain)
		w.Mode = keygate.Mode(m)
	case claimKgClientKind:
		var k string
		k, err = decodeString(value, text, string(w.ClientKind), plain)
		w.ClientKind = keygate.Kind(k)
	case claimAud:
		if value[0] == '"' {
			// One audience, the usual case: a string, decoded as
			// audience.UnmarshalJSON decodes it.
			var s string
			if s, err = decodeString(value, text, "", plain); err == nil {
				w.Aud = audience(carve(arena, s))
			}
			break
		}
		err = w.Aud.UnmarshalJSON(value)
	case claimExp:
		err = w.Exp.UnmarshalJSON(value)
	case claimIat:
		err = w.Iat.UnmarshalJSON(value)
	case claimNbf:
		err = w.Nbf.UnmarshalJSON(value)
	case claimKgPermissions:
		w.Permissions, err = decodeStrings(value, text, w.Permissions, arena)
	case claimKgStores:
		w.Stores, err = decodeStrings(value, text, w.Stores, arena)
	case claimKgAllowedIPs:
		w.AllowedIPs, err = decodeStrings(value, text, w.AllowedIPs, arena)
	case claimKgDeniedIPs:
		w.DeniedIPs, err = decodeStrings(value, text, w.DeniedIPs, arena)
	case claimKgAllowedCountries:
		w.AllowedCountries, err = decodeStrings(value, text, w.AllowedCountries, arena)
	case claimKgDeniedCountries:
		w.DeniedCountries, err = decodeStrings(value, text, w.DeniedCountries, arena)
	}
	return err
}

// decodeString decodes a JSON value, whose bytes text holds too, that
// should be a string (plain: of ASCII without escapes); null keeps prev,
// as json.Unmarshal does.
func decodeString(value []byte, text string, prev string, plain bool) (string, error) {
	if plain {
		return text[1 : len(text)-1], nil
	}
	if len(value) >= 2 && value[0] == '"' {
		inner := value[1 : len(value)-1]
		if !hasEscape(inner) && utf8.Valid(inner) {
			return text[1 : len(text)-1], nil
		}
	}
	s := prev
	if err := json.Unmarshal(value, &s); err != nil {
		return "", errJSON
	}
	return s, nil
}

// list returns the field of a list claim: kg_permissions and the claims
// after it.
func (w *wireClaims) list(claim int) *[]string {
	switch claim {
	case claimKgPermissions:
		return &w.Permissions
	case claimKgStores:
		return &w.Stores
	case claimKgAllowedIPs:
		return &w.AllowedIPs
	case claimKgDeniedIPs:
		return &w.DeniedIPs
	case claimKgAllowedCountries:
		return &w.AllowedCountries
	case claimKgDeniedCountries:
		return &w.DeniedCountries
	}
	panic("jwt: not a list claim")
}

// plainList reads the array at data[i] == '[' when it holds only plain
// strings (ASCII without escapes, see jsonString), validating it as it
// goes, and returns where it ends and its strings (substrings of text, as
// decodeStrings would give them), carved out of *arena. For any other
// value, valid or not, ok is false and *arena is as it was.
func plainList(data []byte, text string, i int, arena *[]string) (end int, list []string, ok bool) {
	if *arena == nil {
		*arena = make([]string, 0, arenaSize)
	}
	first := len(*arena)
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, (*arena)[first:first:first], true
	}
	for i < len(data) && data[i] == '"' {
		e, plain, ok := jsonString(data, i)
		if !ok || !plain {
			break
		}
		*arena = append(*arena, text[i+1:e-1])
		if i = skipJSONSpace(data, e); i >= len(data) {
			break
		}
		if data[i] == ']' {
			n := len(*arena)
			return i + 1, (*arena)[first:n:n], true
		}
		if data[i] != ',' {
			break
		}
		i = skipJSONSpace(data, i+1)
	}
	*arena = (*arena)[:first]
	return 0, nil, false
}

// arenaSize is the initial capacity of a token's shared backing array of
// lists: enough for keygate's usual aud, permissions and stores.
const arenaSize = 8

// carve appends s to *arena and returns it as a list of its own, with no
// capacity beyond it (an append to it never reaches the next list). When
// *arena grows, the lists carved before keep the old array.
func carve(arena *[]string, s string) []string {
	if *arena == nil {
		*arena = make([]string, 0, arenaSize)
	}
	*arena = append(*arena, s)
	n := len(*arena)
	return (*arena)[n-1 : n : n]
}

// decodeStrings decodes a JSON array of strings, whose bytes text holds
// too, into *arena; anything else goes to json.Unmarshal, which also
// decides null (nil) and null elements.
func decodeStrings(value []byte, text string, prev []string, arena *[]string) ([]string, error) {
	d := claimsDecoder{data: value}
	if value[0] == '[' {
		d.i++
		if *arena == nil {
			*arena = make([]string, 0, arenaSize)
		}
		first := len(*arena)
		for {
			d.skipSpace()
			switch value[d.i] {
			case ']':
				end := len(*arena)
				return (*arena)[first:end:end], nil
			case ',':
				d.i++
				d.skipSpace()
			}
			if value[d.i] != '"' {
				*arena = (*arena)[:first]
				break // not a plain string: the slow path
			}
			start := d.i
			end, plain, _ := jsonString(value, start) // valid JSON: ok
			d.i = end
			if raw := value[start+1 : end-1]; !plain && (hasEscape(raw) || !utf8.Valid(raw)) {
				var s string
				if err := json.Unmarshal(value[start:end], &s); err != nil {
					return nil, errJSON
				}
				*arena = append(*arena, s)
				continue
			}
			*arena = append(*arena, text[start+1:end-1])
		}
	}
	out := prev
	if err := json.Unmarshal(value, &out); err != nil {
		return nil, errJSON
	}
	return out, nil
}

// claimsDecoder walks valid JSON.
type claimsDecoder struct {
	data []byte
	i    int
}

func (d *claimsDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}
