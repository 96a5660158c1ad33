package jwt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"testing"
)

var validJSONSeeds = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{1:2}`, `[1,]`, `[,1]`, `[1 2]`,
	`"x"`, `"\u00e9\n\t\/\b\f\r\"\\"`, `"\u00g0"`, `"\u00e"`, `"\x"`, "\"\x1f\"", "\"\x7f\xff\"", `"abc`, `"\`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-01`, `1.5e3.2`, `1x`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `nullnull`, `{"a":true,"b":[false,null]}`, `{"a":{"b":{"c":[[]]}}}`,
	`"0123456789abcdef"`, `"0123456789abcde\"f"`, `"0123456789ab\u00e9cdefghij"`, "\"0123456789\x01abcdef\"", "\"01234567é89abcdef\"",
	`"01234567`, `"0123456789abcdef\`, `{"abcdefghijklmnop":"qrstuvwxyz0123456789"}`, `["abcdefgh","ijklmnop\\"]`,
	`{"a":[}`, `[{]`, `{"a":1]`, `[1}`, `{}{}`, `{} x`, "\t{\r\n}\n", claimsSeeds[0], claimsSeeds[1],
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	seeds := append([]string(nil), validJSONSeeds...)
	for _, n := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		seeds = append(seeds, strings.Repeat("[", n)+strings.Repeat("]", n), strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n),
			strings.Repeat("[", n-1)+"{}"+strings.Repeat("]", n-1))
	}
	for _, s := range seeds {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.80q) = %v, json.Valid: %v", s, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range validJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid: %v", data, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a token's
// claims.
func BenchmarkValidJSON(b *testing.B) {
	data := []byte(claimsSeeds[0])
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"json.Valid", json.Valid}, {"validJSON", validJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !bc.valid(data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// specialBytes flags the first quote, backslash, control character or
// non-ASCII byte in any position, among any other bytes, and flags
// nothing without one.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	check := func(word []byte) {
		t.Helper()
		first := -1
		for i, c := range word {
			if special(c) {
				first = i
				break
			}
		}
		m := specialBytes(binary.LittleEndian.Uint64(word))
		if first < 0 && m != 0 || first >= 0 && (m == 0 || bits.TrailingZeros64(m)/8 != first) {
			t.Fatalf("specialBytes(%q) = %#x", word, m)
		}
	}
	for _, fill := range []byte{'a', ' ', '~', '!', '#', '[', ']', '0', 0x21, 0x7f} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				word := bytes.Repeat([]byte{fill}, 8)
				word[pos] = byte(c)
				check(word)
				for c2 := 0; c2 < 256 && pos < 7; c2++ { // and any byte after it
					word[7] = byte(c2)
					check(word)
				}
			}
		}
	}
}
