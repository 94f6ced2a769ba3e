package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tuyenquang/lgsp/bus/service"
)

// The OpenAPI contract (docs/openapi.json) is checked on every request a
// test sends to a node through http.DefaultClient, which rest.Client, the
// WebSocket dialer and http.Get use: the answer must match the document,
// and a request the document calls invalid must be refused. A violation
// fails the test that started the node.

// nonREST are mounts of other wire protocols, outside the REST contract:
// SOAP, VXP, and the console's HTML pages and forms (a browser's protocol).
var nonREST = []string{"/soap/", "/vxp/", "/console/"}

var contract = mustContract()

func init() { http.DefaultClient.Transport = contract }

// contractCheck validates the traffic of the nodes it watches.
type contractCheck struct {
	doc    *openapi3.T
	router routers.Router
	base   http.RoundTripper
	mu     sync.RWMutex
	nodes  map[string]testing.TB // host:port → the test that started the node
}

func mustContract() *contractCheck {
	c, err := newContract(nil)
	if err != nil {
		panic(err)
	}
	return c
}

// newContract loads the node's document; change, when set, alters it first
// (to show that a divergence is caught).
func newContract(change func(*openapi3.T)) (*contractCheck, error) {
	b, err := service.OpenAPI()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match any host: the nodes listen on random ports
	if change != nil {
		change(doc)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contractCheck{doc: doc, router: r, base: http.DefaultTransport, nodes: map[string]testing.TB{}}, nil
}

// watch validates the traffic to baseURL until t ends. Call it after the
// node's shutdown is registered with t.Cleanup, so that it stops first.
func (c *contractCheck) watch(t testing.TB, baseURL string) {
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes[u.Host] = t
	c.mu.Unlock()
	t.Cleanup(func() {
		c.mu.Lock()
		delete(c.nodes, u.Host)
		c.mu.Unlock()
	})
}

func (c *contractCheck) watched(host string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes[host] != nil
}

// report fails the test that owns host, if it is still running.
func (c *contractCheck) report(host string, req *http.Request, format string, args ...any) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if t := c.nodes[host]; t != nil {
		t.Errorf("OpenAPI contract (docs/openapi.json), %s %s: %s", req.Method, req.URL.Path, fmt.Sprintf(format, args...))
	}
}

func (c *contractCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if !c.watched(host) || isNonREST(req.URL.Path) {
		return c.base.RoundTrip(req)
	}
	in, reqErr := c.checkRequest(req)
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	for _, v := range c.checkAnswer(in, reqErr, resp) {
		c.report(host, req, "%s", v)
	}
	return resp, nil
}

func isNonREST(path string) bool {
	for _, p := range nonREST {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// checkRequest finds the documented operation and validates the request
// (its body only when it can be read again and is JSON or a form).
func (c *contractCheck) checkRequest(req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	find := req
	if rest, ok := strings.CutPrefix(req.URL.Path, "/svc/"); ok {
		// {path} of /svc/{name}/{path} is the rest of the path, slashes included.
		if name, tail, ok := strings.Cut(rest, "/"); ok {
			find = req.Clone(req.Context())
			find.URL.Path = "/svc/" + name + "/" + url.PathEscape(tail)
			find.URL.RawPath = ""
		}
	}
	route, params, err := c.router.FindRoute(find)
	if err != nil {
		return nil, err
	}
	opts := &openapi3filter.Options{AuthenticationFunc: checkCredentials, MultiError: true}
	v := req.Clone(req.Context())
	v.Body = http.NoBody
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil && decodable(req.Header.Get("Content-Type")) {
			if v.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		} else {
			opts.ExcludeRequestBody = true
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: v, PathParams: params, Route: route, Options: opts}
	return in, openapi3filter.ValidateRequest(req.Context(), in)
}

// checkCredentials says whether the request carries the kind of
// credentials a security scheme names (the node checks their value).
func checkCredentials(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
	h := ai.RequestValidationInput.Request.Header
	authz := h.Get("Authorization")
	ok := false
	switch ai.SecuritySchemeName {
	case "signature":
		ok = strings.HasPrefix(authz, "LGSP-") && h.Get("X-LGSP-Timestamp") != "" && h.Get("X-LGSP-Nonce") != ""
	case "bearer", "admin":
		ok = strings.HasPrefix(authz, "Bearer ")
	case "basic":
		ok = strings.HasPrefix(authz, "Basic ")
	case "lgspaccesstoken":
		ok = h.Get("lgspaccesstoken") != ""
	case "console":
		_, err := ai.RequestValidationInput.Request.Cookie("lgsp_console")
		ok = err == nil
	}
	if !ok {
		return fmt.Errorf("no %s credentials", ai.SecuritySchemeName)
	}
	return nil
}

// decodable reports whether a body of this media type is small structured
// data the validator reads (not content, streams or XML packets).
func decodable(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/json" || mt == "application/problem+json" || mt == "application/x-www-form-urlencoded"
}

// checkAnswer validates the answer against the operation, and says when the
// node accepted a request the document calls invalid.
func (c *contractCheck) checkAnswer(in *openapi3filter.RequestValidationInput, reqErr error, resp *http.Response) []string {
	var out []string
	if in == nil { // no documented operation: only a refusal may answer
		if resp.StatusCode != http.StatusNotFound || !isRouteErr(reqErr) {
			out = append(out, fmt.Sprintf("undocumented route answered %d (%v)", resp.StatusCode, reqErr))
		}
		return append(out, c.checkProblem(resp)...)
	}
	if reqErr != nil && resp.StatusCode < 400 {
		out = append(out, fmt.Sprintf("the node answered %d to a request the document calls invalid: %v", resp.StatusCode, reqErr))
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	var body []byte
	ct := resp.Header.Get("Content-Type")
	if decodable(ct) && in.Request.Method != http.MethodHead {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return append(out, "reading the answer: "+err.Error())
		}
		body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	} else {
		opts.ExcludeResponseBody = true
	}
	if in.Request.Method == http.MethodHead {
		out = append(out, checkHeadAnswer(in.Route, resp)...)
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		out = append(out, fmt.Sprintf("answer %d does not match: %v", resp.StatusCode, err))
	}
	return out
}

func isRouteErr(err error) bool {
	var re *routers.RouteError
	return errors.As(err, &re)
}

// checkProblem validates a refusal outside any operation as a Problem.
func (c *contractCheck) checkProblem(resp *http.Response) []string {
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return []string{"reading the answer: " + err.Error()}
	}
	p := c.doc.Components.Responses["Problem"].Value.Content.Get("application/problem+json")
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
		return []string{fmt.Sprintf("refusal is %q, not application/problem+json", mt)}
	}
	v, err := decodeJSON(b)
	if err == nil {
		err = p.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
	}
	if err != nil {
		return []string{"refusal does not match Problem: " + err.Error()}
	}
	return nil
}

// checkHeadAnswer checks the documented headers of a HEAD answer, which
// openapi3filter does not validate.
func checkHeadAnswer(route *routers.Route, resp *http.Response) []string {
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil {
		return []string{fmt.Sprintf("status %d is not documented", resp.StatusCode)}
	}
	var out []string
	for name, h := range ref.Value.Headers {
		got := resp.Header.Get(name)
		if got == "" {
			if h.Value.Required {
				out = append(out, "missing header "+name)
			}
			continue
		}
		if err := h.Value.Schema.Value.VisitJSON(got, openapi3.EnableJSONSchema2020()); err != nil {
			out = append(out, fmt.Sprintf("header %s: %v", name, err))
		}
	}
	return out
}

func decodeJSON(b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}
