package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
)

// openAPI is the OpenAPI 3.1 document of the admin API (its paths relative
// to the server URL "/admin/v1", the reference server's prefix) and of the
// OAuth 2.0 endpoints of the reference server (at their absolute paths).
// GET {Prefix}/openapi.json serves it with the server URL set to the
// handler's Prefix.
//
//go:embed openapi.json
var openAPI []byte

// openAPIDocument returns the document with its server URL set to prefix.
func openAPIDocument(prefix string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, errors.New("admin: the embedded OpenAPI document is not valid JSON")
	}
	doc["servers"] = []any{map[string]any{"url": prefix, "description": "the admin API"}}
	return json.Marshal(doc)
}

func (h *Handler) serveOpenAPI(r *http.Request, _ []byte) (result, error) {
	if _, err := parseQuery(r); err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: json.RawMessage(h.openapi)}, nil
}
