package soap_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
)

var fuzzSeeds = []string{
	`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><GetExchange xmlns="urn:lgsp:test:citizen"><Id>ex-1</Id></GetExchange></soapenv:Body></soapenv:Envelope>`,
	`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `" xmlns:wsu="` + soap.NSWSU + `"><wsu:Timestamp><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsu:Timestamp><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password>b</wsse:Password></wsse:UsernameToken></wsse:Security><h:X xmlns:h="urn:h" e:mustUnderstand="true"/></e:Header><e:Body><c:GetCitizen xmlns:c="urn:lgsp:test:citizen"><c:Id>1</c:Id><c:AsOf>2026-01-01</c:AsOf></c:GetCitizen></e:Body></e:Envelope>`,
	`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
	`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>x</faultstring><detail><lgsp:error xmlns:lgsp="urn:lgsp:error"><lgsp:code>exchange.not_found</lgsp:code></lgsp:error></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
	`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>x:y</e:Value></e:Subcode></e:Code><e:Reason><e:Text xml:lang="vi">a</e:Text><e:Text xml:lang="en">b</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`,
}

// FuzzServer feeds arbitrary bodies to the server: it must answer 200 or a
// well-formed fault with our code, and never panic.
func FuzzServer(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	fx := newFixture(f, fixtureOpts{})
	h := fx.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body string, v12 bool) {
		ct := "text/xml; charset=utf-8"
		if v12 {
			ct = "application/soap+xml; charset=utf-8"
		}
		r := httptest.NewRequest(http.MethodPost, "/citizen", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
		case http.StatusInternalServerError:
			if w.Header().Get("X-LGSP-Error-Code") == "" || !strings.Contains(w.Body.String(), "urn:lgsp:error") {
				t.Fatalf("fault without our code: %s", w.Body.String())
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}

// fixedAnswer is a RoundTripper that answers every request with body.
type fixedAnswer struct {
	status int
	body   []byte
}

func (a fixedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzClientAnswer feeds arbitrary answers to the client: it must return
// nil, a *Fault or a catalogue error, and never panic.
func FuzzClientAnswer(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, 200)
		f.Add(s, 500)
	}
	f.Fuzz(func(t *testing.T, body string, status int) {
		if status < 100 || status > 599 {
			status = 500
		}
		c, err := soap.NewClient("http://peer.invalid/x", soap.WithTransport(fixedAnswer{status, []byte(body)}), soap.WithMaxResponseBytes(1<<16))
		if err != nil {
			t.Fatal(err)
		}
		var resp GetExchangeResponse
		err = c.Call(context.Background(), "a", &GetExchange{Id: "1"}, &resp)
		var fault *soap.Fault
		var be *bus.Error
		if err != nil && !errors.As(err, &fault) && !errors.As(err, &be) {
			t.Fatalf("uncoded error %T %v", err, err)
		}
		if _, err := c.CallRaw(context.Background(), "a", []byte("<x/>")); err != nil && !errors.As(err, &fault) && !errors.As(err, &be) {
			t.Fatalf("CallRaw: uncoded error %T %v", err, err)
		}
	})
}
