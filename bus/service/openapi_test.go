package service

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tuyenquang/lgsp/bus"
)

// TestOpenAPIDoc keeps docs/openapi.json the same bytes as the document
// the node serves.
func TestOpenAPIDoc(t *testing.T) {
	const path = "../../docs/openapi.json"
	want, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/openapi.json is out of date: run go test ./bus/service -run TestOpenAPIDoc -update")
	}
}

// TestOpenAPIValid checks the document is valid OpenAPI 3.1 for a
// maintained validator and that its error codes are the catalogue's.
func TestOpenAPIValid(t *testing.T) {
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var want []any
	for _, d := range bus.Catalogue() {
		want = append(want, string(d.Code))
	}
	got := doc.Components.Schemas["ErrorCode"].Value.Enum
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("ErrorCode enum has %d codes, the catalogue %d", len(got), len(want))
	}
}
