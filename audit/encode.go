package audit

import (
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// appendJSON appends the JSON form of e with Seq seq and a newline to b:
// byte for byte what encoding/json's Encoder with SetEscapeHTML(false)
// writes for that event, without reflection (FuzzAppendJSON compares the
// two). It reports false for what encoding/json refuses (a NaN or
// infinite latency, a time outside years 0–9999), which the caller then
// encodes with encoding/json for its error.
func appendJSON(b []byte, e *Event, seq uint64) ([]byte, bool) {
	if math.IsNaN(e.LatencyMS) || math.IsInf(e.LatencyMS, 0) {
		return b, false
	}
	var second *utcSecond
	if e.Time.Location() == time.UTC {
		if second = utcSecondOf(e.Time); second == nil {
			return b, false
		}
	} else if year := e.Time.Year(); year < 0 || year > 9999 {
		return b, false
	}
	b = append(b, '{')
	if seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	if second != nil {
		b = appendTimeUTC(b, e.Time, second)
	} else {
		b = e.Time.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, '"')
	b = appendField(b, `,"request_id":"`, e.RequestID)
	b = appendField(b, `,"ip":"`, e.IP)
	b = appendField(b, `,"country":"`, e.Country)
	b = appendField(b, `,"method":"`, e.Method)
	b = appendField(b, `,"path":"`, e.Path)
	b = appendField(b, `,"route":"`, e.Route)
	if e.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	if e.LatencyMS != 0 {
		b = append(b, `,"latency_ms":`...)
		b = appendFloat(b, e.LatencyMS)
	}
	if e.Bytes != 0 {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, e.Bytes, 10)
	}
	b = appendField(b, `,"user_agent":"`, e.UserAgent)
	if len(e.Headers) > 0 {
		b = append(b, `,"headers":{`...)
		names := make([]string, 0, len(e.Headers))
		for name := range e.Headers {
			names = append(names, name)
		}
		slices.Sort(names)
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, name)
			b = append(b, ':')
			b = appendString(b, e.Headers[name])
		}
		b = append(b, '}')
	}
	b = appendField(b, `,"auth_method":"`, e.AuthMethod)
	b = appendField(b, `,"key_id":"`, e.KeyID)
	b = appendField(b, `,"token_id":"`, e.TokenID)
	b = appendField(b, `,"subject":"`, e.Subject)
	b = appendField(b, `,"account":"`, e.Account)
	b = appendField(b, `,"mode":"`, e.Mode)
	b = appendField(b, `,"store":"`, e.Store)
	b = appendField(b, `,"decision":"`, string(e.Decision))
	b = appendField(b, `,"reason":"`, e.Reason)
	b = appendField(b, `,"action":"`, e.Action)
	b = appendField(b, `,"actor":"`, e.Actor)
	if e.Gap != 0 {
		b = append(b, `,"gap":`...)
		b = strconv.AppendUint(b, e.Gap, 10)
	}
	return append(b, '}', '\n'), true
}

// utcSecond is a second of UTC time, in its Unix seconds and as
// t.AppendFormat(b, time.RFC3339Nano) writes it up to the fraction.
type utcSecond struct {
	unix int64
	text [len("2006-01-02T15:04:05")]byte
}

// lastSecond is the second of the last UTC time utcSecondOf formatted:
// most events of a Writer fall in the same second as the one before, so
// that their times' second is copied rather than worked out again.
var lastSecond atomic.Pointer[utcSecond]

// utcSecondOf returns the second of t, in UTC, or nil if its year is
// outside 0 to 9999 (encoding/json refuses it).
func utcSecondOf(t time.Time) *utcSecond {
	unix := t.Unix()
	if s := lastSecond.Load(); s != nil && s.unix == unix {
		return s
	}
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return nil
	}
	hour, minute, sec := t.Clock()
	s := &utcSecond{unix: unix}
	s.text = [...]byte{byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-', byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':', byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10)}
	lastSecond.Store(s)
	return s
}

// appendTimeUTC appends t, in UTC, whose second is second, as
// t.AppendFormat(b, time.RFC3339Nano) does.
func appendTimeUTC(b []byte, t time.Time, second *utcSecond) []byte {
	b = append(b, second.text[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// appendField appends key, the field's ,"name":" (with the value's
// opening quote), and then the rest of value as a JSON string, unless
// value is empty (omitempty).
func appendField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	return appendStringRest(append(b, key...), value)
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	if milli := math.Round(f * 1000); milli != 0 && math.Abs(milli) < 1e12 && milli/1000 == f {
		return appendMilli(b, int64(milli))
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendMilli appends milli/1000 in decimal, without trailing zeros in
// its fraction: for a nonzero milli of at most 12 digits, what
// strconv.AppendFloat(b, float64(milli)/1000, 'f', -1, 64) appends, the
// shortest decimal that reads back as that float (below 10^9 a float's
// neighbours are less than 10^-6 away, so that no decimal shorter than
// milli/1000, a thousandth or more away, reads back as it:
// FuzzAppendFloat), without strconv's search for the shortest digits.
// LatencyMS, a number of whole microseconds, most often is such a float.
func appendMilli(b []byte, milli int64) []byte {
	if milli < 0 {
		b = append(b, '-')
		milli = -milli
	}
	b = strconv.AppendInt(b, milli/1000, 10)
	if frac := milli % 1000; frac != 0 {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// jsonPlain8 reports whether the 8 bytes of s are all printable ASCII
// other than '"' and '\\', which appendString copies as they are. Each
// term, in a word of the 8 bytes, is exact for "some byte is" (and may
// mark other bytes too): below 0x20 (when none is from 0x80 on), zero
// once xored with '"' or '\\', from 0x80 on.
func jsonPlain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	control := (x - ones*0x20) &^ x
	quotes := (quote - ones) &^ quote
	backslashes := (backslash - ones) &^ backslash
	return (control|quotes|backslashes|x)&highs == 0
}

// appendString appends s as a JSON string, escaped as encoding/json does
// without HTML escaping: quotes, backslashes and control characters,
// invalid UTF-8 as \ufffd, and U+2028 and U+2029.
func appendString(b []byte, s string) []byte {
	return appendStringRest(append(b, '"'), s)
}

// appendStringRest is appendString after the opening quote: s, escaped,
// and the closing quote.
func appendStringRest(b []byte, s string) []byte {
	if jsonPlain(s) { // what most fields are
		b = append(b, s...)
		return append(b, '"')
	}
	return appendStringEscaped(b, s)
}

// jsonPlain reports whether every byte of s is printable ASCII other than
// '"' and '\\', which appendString copies as they are: 8 bytes at a time,
// the last 8 (overlapping the others) for the rest, and a string shorter
// than 8 bytes byte by byte.
func jsonPlain(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 <= len(s); i += 8 {
		if !jsonPlain8(s[i : i+8]) {
			return false
		}
	}
	return jsonPlain8(s[len(s)-8:])
}

// appendStringEscaped is appendStringRest for s of any kind.
func appendStringEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		// Most of a field is printable ASCII without quotes or
		// backslashes: skip it 8 bytes at a time.
		for i+8 <= len(s) && jsonPlain8(s[i:i+8]) {
			i += 8
		}
		if i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
