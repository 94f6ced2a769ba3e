package soap_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

var versions = []soap.Version{soap.V11, soap.V12}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cases := []struct {
		name string
		opts []soap.Option
	}{
		{"plain", nil},
		{"headers", []soap.Option{soap.WithSOAPHeader(TransactionID{Value: "tx-42"}), soap.WithHTTPHeader("X-Request-Id", "rq-1")}},
		{"wss-text", []soap.Option{soap.WithUsernameToken(wssUser, wssPassword, false)}},
		{"wss-digest-timestamp", []soap.Option{soap.WithUsernameToken(wssUser, wssPassword, true), soap.WithTimestamp(time.Minute)}},
	}
	for _, v := range versions {
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				f.lastSec.Store(nil)
				c := newClient(t, f.URL, append([]soap.Option{soap.WithVersion(v)}, tc.opts...)...)
				var got GetCitizenResponse
				must(t, c.Call(context.Background(), actGetCitizen, &GetCitizen{Id: "001085000123", AsOf: "2026-03-01"}, &got))
				want := citizenAnswer("001085000123")
				want.XMLName = got.XMLName
				if !reflect.DeepEqual(&got, want) {
					t.Fatalf("got %+v\nwant %+v", got, *want)
				}
				if got.XMLName != (xml.Name{Space: tns, Local: "GetCitizenResponse"}) {
					t.Fatalf("response element %v", got.XMLName)
				}
				if tc.name == "headers" {
					if tx, _ := f.lastTx.Load().(string); tx != "tx-42" {
						t.Fatalf("server saw TransactionId %q", tx)
					}
					if rid, _ := f.lastRID.Load().(string); rid != "rq-1" {
						t.Fatalf("server saw X-Request-Id %q", rid)
					}
				}
				if strings.HasPrefix(tc.name, "wss") {
					sec := f.lastSec.Load()
					if sec == nil || sec.Username != wssUser || !sec.MustUnderstand {
						t.Fatalf("server saw Security %+v (mustUnderstand must be qualified in the envelope namespace)", sec)
					}
					if sec.Digest() != strings.Contains(tc.name, "digest") {
						t.Fatalf("password type %s", sec.PasswordType)
					}
					if strings.Contains(tc.name, "timestamp") && (sec.Timestamp == nil || !sec.Timestamp.Expires.After(sec.Timestamp.Created)) {
						t.Fatalf("timestamp %+v", sec.Timestamp)
					}
				}
				raw, err := c.CallRaw(context.Background(), actGetExchange, []byte(`<e:GetExchange xmlns:e="urn:lgsp:test:citizen"><e:Id>ex-1</e:Id></e:GetExchange>`))
				must(t, err)
				var ex GetExchangeResponse
				must(t, xml.Unmarshal(raw, &ex))
				if ex.Status != "delivered" {
					t.Fatalf("CallRaw answer %s", raw)
				}
			})
		}
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	type want struct {
		code11, code12 string
		lgsp           bus.Code
		is             error
	}
	cases := []struct {
		name   string
		action string
		req    any
		want   want
	}{
		{"handler error", actGetExchange, &GetExchange{Id: "ex-404"}, want{"Client", "Sender", "exchange.not_found", bus.ErrExchangeNotFound}},
		{"bad input", actGetCitizen, &GetCitizen{Id: "x", AsOf: "hôm qua"}, want{"Client", "Sender", "request.invalid", bus.ErrBadRequest}},
		{"panic", actGetCitizen, &GetCitizen{Id: "panic"}, want{"Server", "Receiver", "system.internal", bus.ErrInternal}},
		{"unknown operation", "urn:x/Nope", soap.RawXML(`<Nope xmlns="urn:lgsp:test:citizen"/>`), want{"Client", "Sender", "request.not_found", bus.ErrNotFound}},
		{"wrong action", actGetExchange, &GetCitizen{Id: "1", AsOf: "2026-01-01"}, want{"Client", "Sender", "request.invalid", bus.ErrBadRequest}},
	}
	for _, v := range versions {
		c := newClient(t, f.URL, soap.WithVersion(v))
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				err := c.Call(context.Background(), tc.action, tc.req, nil)
				var fault *soap.Fault
				if !errors.As(err, &fault) {
					t.Fatalf("want *soap.Fault, got %T %v", err, err)
				}
				code := tc.want.code11
				if v == soap.V12 {
					code = tc.want.code12
				}
				if fault.Code != code || fault.HTTPStatus != http.StatusInternalServerError || fault.Version != v {
					t.Fatalf("fault %+v", fault)
				}
				if fault.LGSPCode != tc.want.lgsp || fault.MessageVI == "" || fault.MessageEN == "" || !strings.Contains(string(fault.Detail), "urn:lgsp:error") {
					t.Fatalf("lgsp part of %+v", fault)
				}
				if !errors.Is(err, tc.want.is) || bus.AsError(err).Def.Code != tc.want.lgsp {
					t.Fatalf("bus.AsError(%v) = %v", err, bus.AsError(err).Def.Code)
				}
			})
		}
	}
}

// post sends body to url with content type and headers and returns the
// status, the headers and the body of the answer.
func post(t *testing.T, url, ctype, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	must(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

const env11 = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>`

func TestServerRefuses(t *testing.T) {
	small := newFixture(t, fixtureOpts{opts: soap.ServerOptions{MaxBody: 2048}})
	only12 := newFixture(t, fixtureOpts{opts: soap.ServerOptions{Version12: true}})
	get := `<GetExchange xmlns="urn:lgsp:test:citizen"><Id>ex-1</Id></GetExchange>`
	cases := []struct {
		name, url, ctype, body string
		hdr                    []string
		want                   []string // substrings of the answer
	}{
		{"doctype", small.URL, "text/xml", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]>` + fmt.Sprintf(env11, get), nil,
			[]string{"<faultcode>soapenv:Client</faultcode>", "request.invalid", "DOCTYPE"}},
		{"entity reference", small.URL, "text/xml", fmt.Sprintf(env11, `<GetExchange xmlns="urn:lgsp:test:citizen"><Id>&x;</Id></GetExchange>`), nil,
			[]string{"request.invalid", "invalid character entity"}},
		{"too large", small.URL, "text/xml", fmt.Sprintf(env11, `<GetExchange xmlns="urn:lgsp:test:citizen"><Id>`+strings.Repeat("x", 4096)+`</Id></GetExchange>`), nil,
			[]string{"soapenv:Client", "request.too_large", "2048 bytes"}},
		{"content type", small.URL, "application/json", `{}`, nil, []string{"request.invalid", "content type"}},
		{"charset", small.URL, "text/xml; charset=iso-8859-1", fmt.Sprintf(env11, get), nil, []string{"request.invalid"}},
		{"not an envelope", small.URL, "text/xml", `<Envelope/>`, nil, []string{"soapenv:VersionMismatch"}},
		{"1.2 envelope as text/xml", small.URL, "text/xml", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>` + get + `</e:Body></e:Envelope>`, nil,
			[]string{"soapenv:VersionMismatch"}},
		{"1.1 where only 1.2 is served", only12.URL, "text/xml", fmt.Sprintf(env11, get), nil,
			[]string{"<env:Value>env:VersionMismatch</env:Value>", "SOAP 1.1 is not accepted"}},
		{"mustUnderstand unknown header", small.URL, "text/xml",
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><x:Routing xmlns:x="urn:x" s:mustUnderstand="1"/></s:Header><s:Body>` + get + `</s:Body></s:Envelope>`, nil,
			[]string{"soapenv:MustUnderstand", "{urn:x}Routing"}},
		{"empty body", small.URL, "text/xml", fmt.Sprintf(env11, ""), nil, []string{"request.invalid", "empty"}},
		{"truncated", small.URL, "text/xml", `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><GetExchange`, nil, []string{"request.invalid"}},
		{"wss replay-free but wrong password", small.URL, "text/xml",
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken><wsse:Username>sgtvt</wsse:Username><wsse:Password>sai</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body>` + get + `</s:Body></s:Envelope>`, nil,
			[]string{"auth.bad_signature", "<lgsp:message xml:lang=\"vi\">Chữ ký không hợp lệ</lgsp:message>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := post(t, tc.url, tc.ctype, tc.body, tc.hdr...)
			if status != http.StatusInternalServerError {
				t.Fatalf("status %d: %s", status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Fatalf("answer lacks %q:\n%s", w, body)
				}
			}
			if h.Get("X-LGSP-Error-Code") == "" {
				t.Fatalf("no X-LGSP-Error-Code header")
			}
		})
	}
	t.Run("GET without ?wsdl", func(t *testing.T) {
		res, err := http.Get(small.URL)
		must(t, err)
		res.Body.Close()
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Allow") == "" {
			t.Fatalf("status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
		}
	})
	t.Run("wsdl", func(t *testing.T) {
		res, err := http.Get(small.URL + "?wsdl")
		must(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || strings.Count(string(b), `location="`+small.URL+`"`) != 2 {
			t.Fatalf("status %d:\n%s", res.StatusCode, b)
		}
	})
}

func TestKeepAlive(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			c := newClient(t, f.URL, soap.WithVersion(v), soap.WithMaxIdleConnsPerHost(4))
			const n = 50
			for i := range n {
				req := any(&GetCitizen{Id: fmt.Sprint(i), AsOf: "2026-03-01"})
				if i%10 == 9 { // faults must not cost the connection either
					req = &GetExchange{Id: "missing"}
				}
				err := c.Call(context.Background(), "", req, nil)
				var fault *soap.Fault
				if err != nil && !errors.As(err, &fault) {
					t.Fatal(err)
				}
			}
			if got := f.accepted.Load(); got != 1 {
				t.Fatalf("%d calls used %d TCP connections, want 1", n, got)
			}
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	block := &GetCitizen{Id: "block", AsOf: "2026-03-01"}
	t.Run("per-call timeout", func(t *testing.T) {
		c := newClient(t, f.URL, soap.WithTimeout(50*time.Millisecond))
		start := time.Now()
		err := c.Call(context.Background(), actGetCitizen, block, nil)
		if !errors.Is(err, bus.ErrServiceTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want service.timeout, got %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("timeout took %s", d)
		}
	})
	t.Run("ctx cancel", func(t *testing.T) {
		c := newClient(t, f.URL)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Call(ctx, actGetCitizen, block, nil) }()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the call did not end after cancel")
		}
	})
	t.Run("ctx deadline", func(t *testing.T) {
		c := newClient(t, f.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := c.Call(ctx, actGetCitizen, block, nil); bus.CodeOf(err) != "service.timeout" {
			t.Fatalf("want service.timeout, got %v", err)
		}
	})
}

func TestResponseLimit(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := newClient(t, f.URL, soap.WithMaxResponseBytes(4096))
	must(t, c.Call(context.Background(), actGetCitizen, &GetCitizen{Id: "small", AsOf: "2026-03-01"}, nil))
	err := c.Call(context.Background(), actGetCitizen, &GetCitizen{Id: "big", AsOf: "2026-03-01"}, nil)
	if bus.CodeOf(err) != "request.too_large" || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("want request.too_large, got %v", err)
	}
}

func TestClientTransportErrors(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		code    bus.Code
	}{
		{"html 502", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "<html>bad gateway</html>", 502) }, "service.unreachable"},
		{"503 retry-after", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "7"); w.WriteHeader(503) }, "service.busy"},
		{"200 not xml", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, "service.unreachable"},
		{"fault at HTTP 200", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, env11, `<soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>tạm lỗi</faultstring></soapenv:Fault>`)
		}, "system.internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHTTPServer(t, tc.handler)
			c := newClient(t, srv)
			err := c.Call(context.Background(), "a", &GetExchange{Id: "1"}, nil)
			if bus.CodeOf(err) != tc.code {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
			if tc.code == "service.busy" && bus.AsError(err).RetryAfter != 7 {
				t.Fatalf("Retry-After lost: %+v", bus.AsError(err))
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := newHTTPServer(t, func(http.ResponseWriter, *http.Request) {})
		closeServer(srv)
		c := newClient(t, srv)
		if err := c.Call(context.Background(), "a", &GetExchange{Id: "1"}, nil); bus.CodeOf(err) != "service.unreachable" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestNewClientRefuses(t *testing.T) {
	cases := []struct {
		name string
		url  string
		opts []soap.Option
	}{
		{"not http", "ftp://x/y", nil},
		{"no host", "http:///x", nil},
		{"bad version", "http://x/y", []soap.Option{soap.WithVersion(7)}},
		{"zero idle", "http://x/y", []soap.Option{soap.WithMaxIdleConnsPerHost(0)}},
		{"header without name", "http://x/y", []soap.Option{soap.WithSOAPHeader(nil)}},
		{"empty user", "http://x/y", []soap.Option{soap.WithUsernameToken("", "p", true)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := soap.NewClient(tc.url, tc.opts...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestServerRefusesComplexMessages: a request over the shape limits
// (xmlscan defaults) is refused with xml.too_complex naming the limit and
// the position, before any of it is decoded, and without quoting it.
func TestServerRefusesComplexMessages(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cases := []struct{ name, inner, limit string }{
		{"elements", strings.Repeat("<x/>", xmlscan.DefaultMaxElements+1), "(elements)"},
		{"depth", strings.Repeat("<d>", xmlscan.DefaultMaxDepth+1) + strings.Repeat("</d>", xmlscan.DefaultMaxDepth+1), "(depth)"},
		{"attributes", `<x` + attrs(xmlscan.DefaultMaxAttrsPerElement+1) + `/>`, "(attributes_per_element)"},
		{"name", "<BIMAT" + strings.Repeat("N", xmlscan.DefaultMaxNameBytes) + "/>", "(name_length)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(env11, `<GetExchange xmlns="urn:lgsp:test:citizen"><Id>ex-1</Id>`+tc.inner+`</GetExchange>`)
			status, h, answer := post(t, f.URL, "text/xml", body)
			if status != http.StatusInternalServerError || h.Get("X-LGSP-Error-Code") != "xml.too_complex" {
				t.Fatalf("status %d, code %q:\n%.400s", status, h.Get("X-LGSP-Error-Code"), answer)
			}
			if !strings.Contains(answer, tc.limit) || !strings.Contains(answer, "at 1:") {
				t.Fatalf("answer does not name the limit %s and position:\n%.400s", tc.limit, answer)
			}
			if strings.Contains(answer, "BIMAT") {
				t.Fatalf("answer quotes the request:\n%.400s", answer)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d="1"`, i)
	}
	return b.String()
}
