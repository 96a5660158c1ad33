package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

func jwtClaims(clientID, sub, acct string) jwt.Claims {
	return jwt.Claims{Subject: sub, ClientID: clientID, Grant: keygate.Grant{Account: acct, Mode: keygate.ModeTest}, ClientKind: keygate.KindSecret}
}

func refreshGrant(clientID, sub, acct string) jwt.RefreshGrant {
	return jwt.RefreshGrant{ClientID: clientID, Subject: sub, Grant: keygate.Grant{Account: acct, Mode: keygate.ModeTest}}
}

// checkNoSecrets checks that no response body but those of create and
// rotate, and no audit event, holds any plaintext key or secret seen
// (including the admin keys'). It closes the env.
func (e *env) checkNoSecrets(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	secrets, bodies := slices.Clone(e.secrets), slices.Clone(e.bodies)
	e.mu.Unlock()
	require.NotEmpty(t, secrets)
	require.NotEmpty(t, bodies)
	events, err := json.Marshal(e.events())
	require.NoError(t, err)
	for _, s := range secrets {
		for _, b := range bodies {
			if strings.Contains(b, s) {
				t.Errorf("a response body holds a secret: %s", b)
			}
		}
		assert.NotContains(t, string(events), s, "an audit event holds a secret")
	}
}

// openAPI returns the document the handler serves.
func (e *env) openAPI(t *testing.T) map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, httptest.NewRequest("GET", prefix+"/openapi.json", nil))
	require.Equal(t, http.StatusOK, w.Code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	return doc
}

// checkDocumented checks every admin call made so far against the
// OpenAPI document: the operation is documented, its status is among the
// documented ones, and its JSON body matches the documented schema (no
// undocumented member, every required one, the right types).
func (e *env) checkDocumented(t *testing.T) {
	t.Helper()
	doc := e.openAPI(t)
	paths := doc["paths"].(map[string]any)
	e.mu.Lock()
	calls := slices.Clone(e.calls)
	e.mu.Unlock()
	require.NotEmpty(t, calls)
	checked := 0
	for _, c := range calls {
		method, path, ok := strings.Cut(c.pattern, " ")
		if !ok {
			continue // a catch-all: 404 or 405 for what has no route
		}
		path = strings.TrimPrefix(path, prefix)
		item, _ := paths[path].(map[string]any)
		op, _ := item[strings.ToLower(method)].(map[string]any)
		if !assert.NotNil(t, op, "%s %s is not documented", method, path) {
			continue
		}
		responses := op["responses"].(map[string]any)
		resp, ok := responses[strconv.Itoa(c.status)].(map[string]any)
		if !assert.True(t, ok, "%s %s answered %d, which is not documented: %s", method, path, c.status, c.body) {
			continue
		}
		resp = resolve(doc, resp)
		schema := jsonSchema(doc, resp)
		if schema == nil || len(c.body) == 0 {
			continue
		}
		var v any
		require.NoError(t, json.Unmarshal(c.body, &v), "%s %s: %s", method, path, c.body)
		if method == "GET" && path == "/openapi.json" {
			continue
		}
		for _, problem := range validate(doc, schema, v, "body") {
			t.Errorf("%s %s %d: %s\n%s", method, path, c.status, problem, c.body)
		}
		checked++
	}
	assert.NotZero(t, checked)
}

// resolve follows a $ref.
func resolve(doc map[string]any, v map[string]any) map[string]any {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur.(map[string]any)
	}
}

// jsonSchema returns the application/json schema of a response, or nil.
func jsonSchema(doc, resp map[string]any) map[string]any {
	content, _ := resp["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	s, _ := mt["schema"].(map[string]any)
	if s == nil {
		return nil
	}
	return resolve(doc, s)
}

// validate checks v against a schema: the subset of JSON Schema the
// document uses (type, properties, required, items, enum, format
// date-time, additionalProperties, anyOf). Object members not in properties are
// refused unless additionalProperties allows them: the document must list
// every member the handler sends.
func validate(doc, schema map[string]any, v any, at string) []string {
	schema = resolve(doc, schema)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
	if anyOf, ok := schema["anyOf"].([]any); ok {
		var all []string
		for _, s := range anyOf {
			p := validate(doc, s.(map[string]any), v, at)
			if len(p) == 0 {
				return nil
			}
			all = append(all, p...)
		}
		return append([]string{at + ": matches none of anyOf"}, all...)
	}
	if !typeMatches(schema["type"], v) {
		bad("type %v, got %T", schema["type"], v)
		return problems
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v not in %v", v, enum)
	}
	if s, ok := v.(string); ok && schema["format"] == "date-time" {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			bad("not an RFC 3339 time: %q", s)
		} else if !strings.HasSuffix(s, "Z") {
			bad("not in UTC: %q", s)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, ok := v[r.(string)]; !ok {
				bad("required member %q missing", r)
			}
		}
		for name, val := range v {
			if p, ok := props[name].(map[string]any); ok {
				problems = append(problems, validate(doc, p, val, at+"."+name)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]any:
				problems = append(problems, validate(doc, ap, val, at+"."+name)...)
			case bool:
				if !ap {
					bad("undocumented member %q", name)
				}
			default:
				if props != nil || schema["type"] == "object" && len(schema) > 1 {
					bad("undocumented member %q", name)
				}
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range v {
				problems = append(problems, validate(doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func typeMatches(t any, v any) bool {
	switch t := t.(type) {
	case nil:
		return true
	case []any:
		for _, x := range t {
			if typeMatches(x, v) {
				return true
			}
		}
		return false
	case string:
		switch t {
		case "object":
			_, ok := v.(map[string]any)
			return ok
		case "array":
			_, ok := v.([]any)
			return ok
		case "string":
			_, ok := v.(string)
			return ok
		case "boolean":
			_, ok := v.(bool)
			return ok
		case "null":
			return v == nil
		case "number":
			_, ok := v.(float64)
			return ok
		case "integer":
			f, ok := v.(float64)
			return ok && f == float64(int64(f))
		}
	}
	return false
}
