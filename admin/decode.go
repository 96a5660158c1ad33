package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxBodyBytes bounds a request body: a longer one is refused with 413
// request_too_large.
const MaxBodyBytes = 64 << 10

// readBody reads the body of a POST or PATCH request, at most
// MaxBodyBytes, and checks its media type: a non-empty body must be
// application/json (parameters such as charset=utf-8 are ignored).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errTooLarge
	case err != nil:
		return nil, invalidRequest("the request body could not be read")
	}
	if len(body) == 0 {
		return nil, nil
	}
	if !isJSON(r.Header) {
		return nil, errMediaType
	}
	return body, nil
}

// isJSON reports whether the request's Content-Type is application/json.
func isJSON(h http.Header) bool {
	cts := h.Values("Content-Type")
	if len(cts) != 1 {
		return false
	}
	mt, _, err := mime.ParseMediaType(cts[0])
	return err == nil && mt == "application/json"
}

// decodeJSON decodes body, which must be exactly one JSON object in UTF-8, into v,
// a pointer to a struct whose fields all have json tags. An empty body is
// the empty object. Member names must match the tags exactly (encoding/json
// alone would accept "Mode" for "mode"), and may not repeat. A member
// whose value has the wrong JSON type is a field error; every other
// failure is invalid_request.
func decodeJSON(body []byte, v any) error {
	body = bytes.Trim(body, " \t\r\n") // JSON's whitespace only: bytes.TrimSpace also drops \f, \v and Unicode spaces
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return invalidRequest("the request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return invalidRequest("the request body must be UTF-8")
	}
	if err := checkMembers(body, jsonNames(reflect.TypeOf(v).Elem())); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			name, _, _ := strings.Cut(te.Field, ".")
			return fieldError(safeName(name), "has the wrong type: want "+jsonType(te.Type))
		}
		return invalidRequest("the request body is not valid JSON of the expected shape")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("the request body must hold exactly one JSON value")
	}
	return nil
}

// checkMembers checks the member names of the JSON object in body against
// the allowed names, and that none repeats.
func checkMembers(body []byte, allowed map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return invalidRequest("the request body must be a JSON object")
	}
	seen := make(map[string]bool, len(allowed))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return invalidRequest("the request body is not valid JSON")
		}
		name, _ := t.(string)
		if !allowed[name] {
			return invalidRequest("unknown field " + strconv.Quote(safeName(name)))
		}
		if seen[name] {
			return invalidRequest("repeated field " + strconv.Quote(name))
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return invalidRequest("the request body is not valid JSON")
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return invalidRequest("the request body is not valid JSON")
	}
	return nil
}

// jsonNameCache maps a struct type to the set of its JSON member names.
var jsonNameCache sync.Map // reflect.Type → map[string]bool

func jsonNames(t reflect.Type) map[string]bool {
	if m, ok := jsonNameCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	jsonNameCache.Store(t, m)
	return m
}

// jsonType names the JSON type of a Go type, for a field error.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(jsonType(t.Elem()), "a ") + "s"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "another type"
}

// safeName returns a member or parameter name for an error message, or a
// placeholder when it is not a short plain-ASCII name: input is never
// echoed unless it is harmless.
func safeName(name string) string {
	if name == "" {
		return "(empty)"
	}
	if len(name) > 40 {
		return "(a long name)"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "(a name)"
		}
	}
	return name
}

// parseQuery parses r's query string, refusing a malformed one, names
// other than allowed, and repeated parameters. It returns each
// parameter's value.
func parseQuery(r *http.Request, allowed ...string) (map[string]string, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalidRequest("the query string is malformed")
	}
	out := make(map[string]string, len(vals))
	for name, vs := range vals {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		switch {
		case !ok:
			return nil, invalidRequest("unknown query parameter " + strconv.Quote(safeName(name)))
		case len(vs) > 1:
			return nil, invalidRequest("repeated query parameter " + strconv.Quote(name))
		}
		out[name] = vs[0]
	}
	return out, nil
}

// The page sizes of the list endpoints.
const (
	// DefaultLimit is the page size when the limit parameter is absent.
	DefaultLimit = 20
	// MaxLimit is the largest page.
	MaxLimit = 100
)

// parseLimit parses the limit parameter: 1 to MaxLimit, decimal digits
// only; empty means DefaultLimit.
func parseLimit(s string, present bool) (int, error) {
	if !present {
		return DefaultLimit, nil
	}
	bad := invalidRequest("limit must be an integer from 1 to 100")
	if s == "" || len(s) > 3 {
		return 0, bad
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > MaxLimit {
		return 0, bad
	}
	return n, nil
}
