package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// FuzzCursor: the cursor decoder never panics, refuses with 400
// invalid_request, and accepts only what the encoder makes.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(cursor{kind: cursorKeys, created: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), id: "wkieipnP2E9cDwy2"}), byte('k'))
	f.Add(encodeCursor(cursor{kind: cursorAccounts, created: time.Time{}, id: "acct_1"}), byte('a'))
	f.Add(encodeCursor(cursor{kind: cursorHMAC, created: time.Unix(-1, 999999999), id: "hk_x:y.z-w"}), byte('h'))
	f.Add("", byte('k'))
	f.Add("a2V5", byte('k'))
	f.Add("////", byte('a'))
	f.Fuzz(func(t *testing.T, s string, kind byte) {
		c, err := decodeCursor(s, kind)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeInvalidRequest {
				t.Fatalf("decodeCursor error %v, want 400 invalid_request", err)
			}
			return
		}
		if c.kind != kind {
			t.Fatalf("kind %q, want %q", c.kind, kind)
		}
		if again := encodeCursor(c); again != s {
			t.Fatalf("%q decoded to %+v, which encodes to %q", s, c, again)
		}
	})
}

// FuzzDecodeJSON: request decoding never panics; it fails only with 400
// (invalid_request, or validation_failed naming a member), and what it
// accepts is one JSON object.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"account":"a","mode":"test","stores":["x"]}`, `{"expires":null}`,
		`{"grace_seconds":1e400}`, `{"a":1}`, `{"name":"x","name":"y"}`, `{"Name":1}`, `{"stores":[1,2]}`,
		`{"jti":"a"}{}`, "{\"name\":\"\xff\"}", `{"expires":{"a":[]}}`, ` {"mode" : "live"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&keyCreateRequest{}, &keyUpdateRequest{}, &rotateRequest{}, &tokenRevokeRequest{}, &emptyRequest{}, &accountUpdateRequest{}} {
			err := decodeJSON(body, v)
			if err == nil {
				if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
					t.Fatalf("accepted invalid JSON %q", body)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("decodeJSON(%q) = %v, want a 400", body, err)
			}
			switch e.Code {
			case CodeInvalidRequest:
			case CodeValidationFailed:
				if len(e.Fields) != 1 {
					t.Fatalf("validation_failed with fields %v", e.Fields)
				}
				for name := range e.Fields {
					if !jsonNames(reflect.TypeOf(v).Elem())[name] {
						t.Fatalf("field error names %q, not a member", name)
					}
				}
			default:
				t.Fatalf("code %s", e.Code)
			}
		}
	})
}
