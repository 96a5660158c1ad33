package jwt

import (
	"encoding/json"
	"strings"
	"testing"
)

var validJSONSeeds = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{1:2}`, `[1,]`, `[,1]`, `[1 2]`,
	`"x"`, `"\u00e9\n\t\/\b\f\r\"\\"`, `"\u00g0"`, `"\u00e"`, `"\x"`, "\"\x1f\"", "\"\x7f\xff\"", `"abc`, `"\`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-01`, `1.5e3.2`, `1x`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `nullnull`, `{"a":true,"b":[false,null]}`, `{"a":{"b":{"c":[[]]}}}`,
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
