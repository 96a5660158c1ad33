package jwt

import (
	"encoding/binary"
	"math/bits"
)

// maxJSONDepth is encoding/json's nesting limit: a document nested deeper
// is not valid to it.
const maxJSONDepth = 10000

// validJSON reports whether data is exactly one JSON value (RFC 8259),
// with optional whitespace around it: json.Valid's answer (which does not
// check UTF-8 either), in one pass without a per-byte function call, for
// the first verification of a token. FuzzValidJSON checks it against
// json.Valid.
func validJSON(data []byte) bool {
	end, ok := validValue(data, skipJSONSpace(data, 0), 0)
	return ok && skipJSONSpace(data, end) == len(data)
}

// validValue reads the JSON value that starts at data[i] and returns where
// it ends. depth is the number of containers already open around it, for
// encoding/json's nesting limit.
func validValue(data []byte, i, depth int) (int, bool) {
	var stackBuf [16]byte
	stack := stackBuf[:0] // the open containers, '{' or '['
	for {
		// A value starts at i.
		if i >= len(data) {
			return i, false
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			if depth+len(stack) >= maxJSONDepth {
				return i, false
			}
			i = skipJSONSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // '}' or ']'
				i++
				break
			}
			stack = append(stack, c)
			if c == '{' {
				var ok bool
				if i, ok = jsonMemberName(data, i); !ok {
					return i, false
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, _, ok = jsonString(data, i); !ok {
				return i, false
			}
		case c == '-' || c >= '0' && c <= '9':
			var ok bool
			if i, ok = jsonNumber(data, i); !ok {
				return i, false
			}
		case c == 't':
			if !hasLiteral(data, i, "true") {
				return i, false
			}
			i += len("true")
		case c == 'f':
			if !hasLiteral(data, i, "false") {
				return i, false
			}
			i += len("false")
		case c == 'n':
			if !hasLiteral(data, i, "null") {
				return i, false
			}
			i += len("null")
		default:
			return i, false
		}
		// A value ended at i: close containers until a comma starts the
		// next value, or the outermost one closes.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipJSONSpace(data, i)
			if i >= len(data) {
				return i, false
			}
			top := stack[len(stack)-1]
			if data[i] == top+2 { // '}' or ']'
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if data[i] != ',' {
				return i, false
			}
			i = skipJSONSpace(data, i+1)
			if top == '{' {
				var ok bool
				if i, ok = jsonMemberName(data, i); !ok {
					return i, false
				}
			}
			break
		}
	}
}

// jsonMemberName reads a member name, the colon and the whitespace after
// it, and returns where the member's value starts.
func jsonMemberName(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return i, false
	}
	i, _, ok := jsonString(data, i)
	if !ok {
		return i, false
	}
	i = skipJSONSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return i, false
	}
	return skipJSONSpace(data, i+1), true
}

// jsonString reads the string that starts at data[i] == '"' and returns
// where it ends, and whether it is plain: only ASCII, without escapes, so
// that its bytes between the quotes are its value.
func jsonString(data []byte, i int) (end int, plain, ok bool) {
	var or byte // every byte of the string, ORed: 0x80 set for non-ASCII
	for i++; i < len(data); i++ {
		// Eight bytes at a time: past them if none needs a look, else to
		// the first that may.
		if i+8 <= len(data) {
			m := specialBytes(binary.LittleEndian.Uint64(data[i:]))
			if m == 0 {
				i += 7 // and the loop's i++
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		c := data[i]
		or |= c
		switch {
		case c == '"':
			return i + 1, or < 0x80, true
		case c < 0x20:
			return i, false, false
		case c == '\\':
			or |= 0x80 // not plain
			i++
			if i >= len(data) {
				return i, false, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return i, false, false
				}
				for _, h := range data[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false, false
					}
				}
				i += 4
			default:
				return i, false, false
			}
		}
	}
	return i, false, false
}

// specialBytes flags, with its high bit, each of the eight bytes of x
// (little-endian) that may be a quote, a backslash, a control character
// (below 0x20) or not ASCII: the classic word-at-a-time tests for a zero
// byte (of x XOR the byte sought) and for a byte below a bound. They never
// miss one, and a false alarm is only ever above a true one, so the lowest
// flag is the first such byte, and no flag means none.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash | x) & highs
}

// jsonNumber reads the number that starts at data[i] and returns where it
// ends: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = skipDigits(data, i+1)
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

func skipJSONSpace(data []byte, i int) int {
	if i < len(data) && data[i] > ' ' {
		return i // the usual case, no space at all
	}
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

func hasLiteral(data []byte, i int, lit string) bool {
	return len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit
}
