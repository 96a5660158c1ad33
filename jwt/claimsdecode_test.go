package jwt

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var claimsSeeds = []string{
	`{"iss":"https://issuer.example","sub":"acct_1","aud":"api","exp":1700000600,"iat":1699999940,"jti":"J1","client_id":"c","scope":"a b","kg_account":"acct_1","kg_mode":"test","kg_package":"GO","kg_permissions":["products:read","offers:write"],"kg_stores":["s1"],"kg_allowed_ips":["10.0.0.0/8"]}`,
	` { "sub" : "a\u00e9\n" , "aud" : [ "x" , "api" ] , "exp" : 1.5e9 , "nested" : { "a" : [ 1 , { "b" : null } ] } , "x" : true } `,
	`{"sub":null,"kg_permissions":null,"kg_stores":["a",null,"b"],"aud":["a","b"]}`,
	`{"\u0073ub":"escaped name","kg_mode":"li\u0076e","scope":"\ud83d\ude00"}`,
	`{"sub":"\xff\xfe invalid utf-8","kg_permissions":["\xff"]}`,
	`{"exp":null}`, `{"exp":"1"}`, `{"exp":-1}`, `{"aud":null}`, `{"aud":5}`, `{"sub":5}`, `{"kg_stores":"s"}`,
	`{"kg_stores":[1]}`, `{"sub":"a","sub":"b"}`, `{"SUB":"a"}`, `{"a":{"b":1,"b":2}}`, `{}`, `[]`, `{"sub":"a"`, `{"sub":"a"}x`,
	`{"kg_denied_ips":["10.0.0.0/8"],"kg_allowed_countries":["SE","NO"],"kg_denied_countries":null}`, `{"kg_denied_countries":"SE"}`,
	`{"iat":1e400}`, `{"nbf":0}`, `{"exp":253402300800}`, `{"kg_permissions":[]}`, `{"unknown":[[[]]],"sub":"s"}`,
	// Faults after a member that decodes, or that is refused for another
	// reason: the syntax error decides.
	`{"sub":"a","sub":"b",}`, `{"sub":5,"x":}`, `{"SUB":1,"a":[}`, `{"sub":"a"} {}`, `{"sub":"a",}`, `{"sub" "a"}`, `{"sub":"a" "b":1}`,
	`{"sub":"é","kg_stores":["é","a\u00e9",""],"aud":"\u0061pi","ünknown":1}`, ` {} `, `{} x`, `{"a":1}]`, `{"a":[1,2,]}`,
	`{"exp":1700000000,"iat":1699999999.999,"nbf":1e3,"kg_permissions":[ "a" , "b" ]}`,
	// Lists: the plain ones in one pass, the others through decodeStrings.
	`{"kg_stores":[ ]}`, `{"kg_stores":["a" , "b"]}`, `{"kg_stores":["a",]}`, `{"kg_stores":["a" "b"]}`, `{"kg_stores":["a\u0062"]}`,
	`{"kg_stores":["é"]}`, `{"kg_stores":["a",1]}`, `{"kg_stores":["a"`, `{"kg_stores":["a"}`, `{"kg_stores":["a",null]}`,
	`{"kg_allowed_countries":["SE"],"kg_denied_ips":[],"kg_allowed_ips":["a"],"kg_denied_countries":["NO","DK"]}`,
	`{"unknown":["a"],"aud":["x","y"],"kg_permissions":["p"],"x":["a","a"]}`, `{"kg_stores":["a"],"kg_stores":["a"]}`,
}

func init() {
	// Nesting at encoding/json's limit, in an unknown claim.
	for _, n := range []int{maxJSONDepth - 2, maxJSONDepth - 1, maxJSONDepth} {
		claimsSeeds = append(claimsSeeds, `{"sub":"s","deep":`+strings.Repeat("[", n)+strings.Repeat("]", n)+`}`)
	}
}

// reference decodes claims the slow way: encoding/json plus keygate's
// checks.
func reference(data []byte) (wireClaims, error) {
	var w wireClaims
	err := decodeJSONObject(data, &w)
	return w, err
}

func TestDecodeClaimsMatchesEncodingJSON(t *testing.T) {
	for _, s := range claimsSeeds {
		checkDecodeClaims(t, []byte(s))
	}
}

func checkDecodeClaims(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := decodeClaims(string(data))
	want, wantErr := reference(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("decodeClaims(%q): error %v, encoding/json: %v", data, gotErr, wantErr)
	}
	if gotErr != nil {
		if !errors.Is(gotErr, ErrMalformed) {
			t.Fatalf("decodeClaims(%q): %v does not wrap ErrMalformed", data, gotErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("decodeClaims(%q)\n got %s %+v\nwant %s %+v", data, g, got, w, want)
	}
}

func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeClaims(t, data)
	})
}

// Every claim of wireClaims has its own index, so that set can decode it.
func TestClaimIndexCoversWireClaims(t *testing.T) {
	seen := map[int]string{}
	for _, name := range memberNamesOf(&wireClaims{}).known {
		i := claimIndex([]byte(name))
		if i < 0 || i >= numClaims {
			t.Errorf("claimIndex(%q) = %d", name, i)
		} else if other, dup := seen[i]; dup {
			t.Errorf("claimIndex(%q) = claimIndex(%q) = %d", name, other, i)
		}
		seen[i] = name
	}
	if len(seen) != numClaims {
		t.Errorf("%d claims in wireClaims, %d indexes", len(seen), numClaims)
	}
	if claimIndex([]byte("unknown")) != -1 || claimIndex([]byte("SUB")) != -1 {
		t.Error("claimIndex knows a name that wireClaims does not")
	}
}

// FuzzNumericDate holds numericDate's integer fast path to what
// strconv.ParseFloat gives.
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{"0", "1", "1700000000", "253402300799", "253402300800", "999999999999999", "1000000000000000",
		"9007199254740993", "1.5", "1e3", "01", "", "-1", "1x", "123456789012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, ok := smallInteger([]byte(s))
		if !ok {
			return
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || int64(v) != sec || float64(sec) != v {
			t.Fatalf("smallInteger(%q) = %d; ParseFloat: %v, %v", s, sec, v, err)
		}
	})
}
