package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oauthPaths are the reference server's OAuth endpoints the document
// describes beside the admin API, at their absolute paths.
var oauthPaths = map[string]string{
	"/oauth/token":           "post",
	"/oauth/revoke":          "post",
	"/oauth/introspect":      "post",
	"/.well-known/jwks.json": "get",
}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPI, &doc), "openapi.json is not JSON")
	return doc
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	version, _ := doc["openapi"].(string)
	assert.True(t, strings.HasPrefix(version, "3.1."), "openapi %q", version)
	info := doc["info"].(map[string]any)
	assert.NotEmpty(t, info["title"])
	assert.NotEmpty(t, info["version"])
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	bearer := schemes["bearer"].(map[string]any)
	assert.Equal(t, "http", bearer["type"])
	assert.Equal(t, "bearer", bearer["scheme"])

	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				assert.NotNil(t, cur, "unresolved $ref %s", ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// TestOpenAPIRoutes: every route the handler serves is documented, with
// its permission, and every documented admin operation is served; the
// OAuth endpoints are documented at their absolute paths.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := doc["paths"].(map[string]any)
	served := map[string]route{}
	for _, rt := range table {
		served[strings.ToLower(rt.method)+" "+rt.path] = rt
		item, ok := paths[rt.path].(map[string]any)
		if !assert.True(t, ok, "path %s is not documented", rt.path) {
			continue
		}
		op, ok := item[strings.ToLower(rt.method)].(map[string]any)
		if !assert.True(t, ok, "%s %s is not documented", rt.method, rt.path) {
			continue
		}
		responses := op["responses"].(map[string]any)
		if rt.perm == "" {
			assert.Equal(t, []any{}, op["security"], "%s %s is public", rt.method, rt.path)
		} else {
			assert.Equal(t, rt.perm, op["x-keygate-permission"], "%s %s", rt.method, rt.path)
			assert.Equal(t, []any{map[string]any{"bearer": []any{}}}, op["security"])
			for _, code := range []string{"400", "401", "403", "429", "500", "503"} {
				assert.Contains(t, responses, code, "%s %s", rt.method, rt.path)
			}
		}
		success := 0
		for code := range responses {
			if n, _ := strconv.Atoi(code); n >= 200 && n < 300 {
				success++
			}
		}
		assert.Equal(t, 1, success, "%s %s: one success status", rt.method, rt.path)
		if rt.method == http.MethodPost {
			for _, code := range []string{"409", "413", "415", "422"} {
				assert.Contains(t, responses, code, "%s %s", rt.method, rt.path)
			}
			assert.Contains(t, op["parameters"], map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
	}
	ids := map[string]bool{}
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if method == "servers" || method == "parameters" {
				continue
			}
			id, _ := op.(map[string]any)["operationId"].(string)
			assert.NotEmpty(t, id)
			assert.False(t, ids[id], "operationId %s repeated", id)
			ids[id] = true
			if m, ok := oauthPaths[path]; ok {
				assert.Equal(t, m, method, path)
				continue
			}
			_, ok := served[method+" "+path]
			assert.True(t, ok, "%s %s is documented but not served", method, path)
		}
	}
	for path := range oauthPaths {
		item, ok := paths[path].(map[string]any)
		require.True(t, ok, "%s is not documented", path)
		assert.Equal(t, "/", item["servers"].([]any)[0].(map[string]any)["url"], "%s is at the root", path)
	}
	documented := 0
	for _, item := range paths {
		for method := range item.(map[string]any) {
			if method != "servers" {
				documented++
			}
		}
	}
	assert.Equal(t, len(table)+len(oauthPaths), documented)
}

// TestOpenAPIServed: the served document names the handler's prefix as
// its server.
func TestOpenAPIServed(t *testing.T) {
	b, err := openAPIDocument("/ops/admin")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "/ops/admin", doc["servers"].([]any)[0].(map[string]any)["url"])
	assert.Equal(t, loadOpenAPI(t)["paths"], doc["paths"])
	assert.True(t, slices.Contains([]string{"3.1.0", "3.1.1"}, doc["openapi"].(string)))
}
