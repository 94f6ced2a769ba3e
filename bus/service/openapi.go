package service

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
)

// openapiSource is the OpenAPI 3.1 document of the REST API, written in
// YAML for comments and anchors; the node serves it as JSON.
//
//go:embed openapi.yaml
var openapiSource []byte

// OpenAPI returns the OpenAPI document the node serves at GET /openapi.json
// (and docs/openapi.json holds): the embedded source as JSON, with the enum
// of error codes and their statuses and messages taken from bus.Catalogue(),
// so that the contract cannot drift from the catalogue.
var OpenAPI = sync.OnceValues(buildOpenAPI)

func buildOpenAPI() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openapiSource, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	schemas, ok := dig(doc, "components", "schemas")
	if !ok {
		return nil, fmt.Errorf("openapi.yaml: no components.schemas")
	}
	code, ok := schemas["ErrorCode"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml: no ErrorCode schema")
	}
	var codes []string
	var table []map[string]any
	for _, d := range bus.Catalogue() {
		codes = append(codes, string(d.Code))
		table = append(table, map[string]any{"code": string(d.Code), "status": d.Status, "vi": d.VI, "en": d.EN})
	}
	code["enum"] = codes
	code["x-lgsp-catalogue"] = table
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// dig walks nested mappings of a decoded document.
func dig(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// serveOpenAPI answers the document, without authentication: it describes
// the API and holds no secret.
func serveOpenAPI(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	}
}
