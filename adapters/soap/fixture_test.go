package soap_test

import (
	"context"
	"encoding/xml"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
)

// The test service of testdata/citizen.wsdl. The types are written the way
// gowsdl generates them: an XMLName with the namespace on the wrapper,
// children without one (they inherit it: the schema is qualified).
const tns = "urn:lgsp:test:citizen"

type GetCitizen struct {
	XMLName xml.Name `xml:"urn:lgsp:test:citizen GetCitizen"`
	Id      string   `xml:"Id"`
	AsOf    string   `xml:"AsOf"`
}

type GetCitizenResponse struct {
	XMLName   xml.Name `xml:"urn:lgsp:test:citizen GetCitizenResponse"`
	Id        string   `xml:"Id"`
	FullName  string   `xml:"FullName"`
	BirthDate string   `xml:"BirthDate"`
	Age       int32    `xml:"Age"`
	Address   []string `xml:"Address"`
}

type GetExchange struct {
	XMLName xml.Name `xml:"urn:lgsp:test:citizen GetExchange"`
	Id      string   `xml:"Id"`
}

type GetExchangeResponse struct {
	XMLName xml.Name `xml:"urn:lgsp:test:citizen GetExchangeResponse"`
	Id      string   `xml:"Id"`
	Status  string   `xml:"Status"`
}

// TransactionID is a custom SOAP header block.
type TransactionID struct {
	XMLName xml.Name `xml:"urn:lgsp:hdr TransactionId"`
	Value   string   `xml:",chardata"`
}

const (
	actGetCitizen  = tns + "/GetCitizen"
	actGetExchange = tns + "/GetExchange"
	wssUser        = "sgtvt"
	wssPassword    = "mật-khẩu-123"
)

// citizenAnswer is what GetCitizen answers for id.
func citizenAnswer(id string) *GetCitizenResponse {
	return &GetCitizenResponse{
		Id: id, FullName: "Nguyễn Văn An", BirthDate: "1985-03-15", Age: 41,
		Address: []string{"Tổ 5, phường Phan Thiết, TP Tuyên Quang", "Xã Thái Long <&> \"cũ\""},
	}
}

// fixture is a running test service.
type fixture struct {
	URL      string
	srv      *httptest.Server
	accepted atomic.Int64 // TCP connections accepted
	release  chan struct{}
	lastTx   atomic.Value // TransactionId header of the last call
	lastRID  atomic.Value // X-Request-Id HTTP header of the last call
	lastSec  atomic.Pointer[soap.Security]
}

type fixtureOpts struct {
	requireWSS bool
	opts       soap.ServerOptions
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func wsdlBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/citizen.wsdl")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newFixture starts the citizen service on a port-0 listener.
func newFixture(t testing.TB, fo fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{release: make(chan struct{})}
	o := fo.opts
	o.WSDL = wsdlBytes(t)
	o.Understood = append(o.Understood, xml.Name{Space: "urn:lgsp:hdr", Local: "TransactionId"})
	nonces := soap.NewNonceCache(1 << 20) // the benchmark sends tens of thousands
	o.Security = func(ctx context.Context, h *soap.Header, op *soap.Operation) error {
		if h.Security != nil {
			f.lastSec.Store(h.Security)
		}
		if !fo.requireWSS && h.Security == nil {
			return nil
		}
		return nonces.VerifyUsernameToken(h, func(u string) (string, bool) {
			return wssPassword, u == wssUser
		}, time.Now(), 5*time.Minute)
	}
	s, err := soap.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Handle(soap.Operation{
		Name: "GetCitizen", Namespace: tns, Action: actGetCitizen,
		New: func() any { return new(GetCitizen) },
		Do: func(ctx context.Context, h *soap.Header, req any) (any, error) {
			in := req.(*GetCitizen)
			var tx TransactionID
			if ok, err := h.Decode(xml.Name{Space: "urn:lgsp:hdr", Local: "TransactionId"}, &tx); ok && err == nil {
				f.lastTx.Store(tx.Value)
			}
			f.lastRID.Store(h.HTTP.Get("X-Request-Id"))
			switch in.Id {
			case "panic":
				panic("boom")
			case "block":
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-f.release:
					return citizenAnswer(in.Id), nil
				}
			case "big":
				a := citizenAnswer(in.Id)
				for range 200 {
					a.Address = append(a.Address, "một địa chỉ rất dài để làm phình câu trả lời")
				}
				return a, nil
			}
			if _, err := time.Parse("2006-01-02", in.AsOf); err != nil {
				return nil, bus.ErrBadRequest.New("AsOf %q is not an xsd:date", in.AsOf)
			}
			return citizenAnswer(in.Id), nil
		},
	}))
	must(t, s.Handle(soap.Operation{
		Name: "GetExchange", Namespace: tns, Action: actGetExchange,
		New: func() any { return new(GetExchange) },
		Do: func(ctx context.Context, h *soap.Header, req any) (any, error) {
			in := req.(*GetExchange)
			if in.Id == "ex-1" {
				return &GetExchangeResponse{Id: in.Id, Status: "delivered"}, nil
			}
			return nil, bus.ErrExchangeNotFound.New("exchange %s", in.Id)
		},
	}))
	mux := http.NewServeMux()
	mux.Handle("/citizen", s)
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Listener = countingListener{Listener: f.srv.Listener, n: &f.accepted}
	f.srv.Start()
	f.URL = f.srv.URL + "/citizen"
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { close(f.release) })
		f.srv.Close()
	})
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newClient(t testing.TB, url string, opts ...soap.Option) *soap.Client {
	t.Helper()
	c, err := soap.NewClient(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
