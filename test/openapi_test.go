package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
)

// docOperations maps the Go mux patterns a node mounts to the operations of
// the OpenAPI document ("GET /v1/inbox"). A pattern without a method stands
// for the methods of its path item; "{x...}" matches the rest of the path,
// empty or not, so it is "{x}" in the document plus the path without it.
func docOperations(pattern string) (ops []string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	paths := []string{path}
	if i := strings.Index(path, "..."); i >= 0 {
		open := strings.LastIndex(path[:i], "{")
		paths = []string{path[:i] + "}", path[:open]}
	}
	for _, p := range paths {
		if method != "" {
			ops = append(ops, method+" "+p)
			continue
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			ops = append(ops, m+" "+p)
		}
	}
	return ops
}

// TestOpenAPIRoutes holds the contract to the node: every route the node
// mounts is documented, every documented operation is mounted, and the node
// serves docs/openapi.json byte for byte, without authentication.
func TestOpenAPIRoutes(t *testing.T) {
	n := startNode(t, "sqlite")
	mounted := map[string]bool{}
	for _, p := range n.svc.Patterns() {
		if p == "/" || isNonREST(p[strings.Index(p, "/"):]) {
			continue // the catch-all 404, and other wire protocols (SOAP, VXP)
		}
		for _, op := range docOperations(p) {
			mounted[op] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range contract.doc.Paths.Map() {
		for m := range item.Operations() {
			documented[m+" "+path] = true
		}
	}
	for _, op := range sortedKeys(mounted) {
		if !documented[op] {
			t.Errorf("the node mounts %s, which docs/openapi.json does not document", op)
		}
	}
	for _, op := range sortedKeys(documented) {
		if !mounted[op] {
			t.Errorf("docs/openapi.json documents %s, which the node does not mount", op)
		}
	}
	if len(mounted) < 40 {
		t.Fatalf("only %d operations mounted: the pattern list is incomplete", len(mounted))
	}

	want, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(n.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET /openapi.json: %d, %d bytes; want 200 and docs/openapi.json (%d bytes)", resp.StatusCode, len(got), len(want))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIContractCatchesDivergence shows the validation can fail: with
// a document that no longer matches the node (the Exchange answer asks for
// a field the node does not send), a real F2–F3 run is reported, and so is
// an answer the node gives to a request the document calls invalid.
func TestOpenAPIContractCatchesDivergence(t *testing.T) {
	n := startNode(t, "sqlite")
	src := n.system(t, "000.00.01.H60", "Văn phòng UBND tỉnh")
	n.system(t, "000.00.02.H60", "Sở Nội vụ")
	n.grant(t, "exchange", "000.00.01.H60", "000.00.02.H60", "edoc")
	strict, err := newContract(func(doc *openapi3.T) {
		ex := doc.Components.Schemas["Exchange"].Value
		ex.Required = append(ex.Required, "not_sent_by_the_node")
		// The node accepts a title; this document forbids one.
		req := doc.Components.Schemas["ExchangeRequest"].Value
		req.Properties["title"] = openapi3.NewSchemaRef("", &openapi3.Schema{Not: openapi3.NewSchemaRef("", openapi3.NewStringSchema())})
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	strict.watch(rec, n.url)
	c := &rest.Client{BaseURL: n.url, AccessKey: src.AccessKey, SecretKey: src.SecretKey, HTTP: &http.Client{Transport: strict}}
	ctx := context.Background()
	sp, err := c.Request(ctx, exchange.Request{Recipients: []string{"000.00.02.H60"}, Title: "Công văn", DataType: "edoc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadBytes(ctx, sp.ExchangeID, []byte("<edXMLEnvelope/>")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(ctx, sp.ExchangeID); err != nil {
		t.Fatal(err)
	}
	got := rec.all()
	for _, want := range []string{"POST /v1/exchanges: the node answered 201 to a request the document calls invalid", "POST /v1/exchanges/" + sp.ExchangeID + "/cancel: answer 200 does not match"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("not reported: %q; reports: %q", want, got)
		}
	}
	if slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "/content") }) {
		t.Errorf("the upload matches the document but was reported: %q", got)
	}
}

// recorder is a testing.TB that keeps the failures reported to it.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

func (r *recorder) Cleanup(func()) {}

func (r *recorder) Fatal(args ...any) { panic(args) }

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// TestOpenAPIEndpointAbuse attacks the one new unauthenticated entry point:
// GET /openapi.json answers the same static bytes whatever credentials come
// with it (none are parsed), other methods are refused as request.not_found
// without the body being taken in, and the refusal is a coded problem.
func TestOpenAPIEndpointAbuse(t *testing.T) {
	n := startNode(t, "sqlite")
	want, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, n.url+"/openapi.json", nil)
	req.Header.Set("Authorization", "LGSP-HMAC-SHA256 Credential=AKnotakey, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET with a bogus signature: %d, %d bytes", resp.StatusCode, len(got))
	}
	big := bytes.Repeat([]byte("x"), 8<<20)
	resp, err = http.Post(n.url+"/openapi.json", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-LGSP-Error-Code") != "request.not_found" || bytes.Contains(b, []byte("xxxx")) {
		t.Fatalf("POST 8 MB to /openapi.json: %d %s %.200s", resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), b)
	}
	eventually(t, "no request left in flight", func() (bool, error) { return n.inflight() == 0, nil })
}
