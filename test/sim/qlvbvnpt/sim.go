package qlvbvnpt

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/tuyenquang/lgsp/adapters/soap"
	gen "github.com/tuyenquang/lgsp/wsdl/consumed/gen/qlvbvnpt"
)

// Namespace and Action of NhanVanBan.
const (
	Namespace = "http://qlvb.vnpt.vn/ws/vanban"
	Action    = Namespace + "/NhanVanBan"
)

// Received is one accepted NhanVanBan, with the edXML decoded.
type Received struct {
	Request gen.NhanVanBan
	EdXML   []byte
}

// Sim is the simulated QLVB.
type Sim struct {
	srv *soap.Server

	mu       sync.Mutex
	received []Received
	calls    int
	failNext int
	refuse   *soap.Fault
}

// New returns a simulator serving the WSDL at wsdlPath
// (wsdl/consumed/qlvb-vnpt.wsdl).
func New(wsdlPath string) (*Sim, error) {
	wsdl, err := os.ReadFile(wsdlPath)
	if err != nil {
		return nil, err
	}
	srv, err := soap.NewServer(soap.ServerOptions{WSDL: wsdl, Version11: true})
	if err != nil {
		return nil, err
	}
	s := &Sim{srv: srv}
	err = srv.Handle(soap.Operation{
		Name: "NhanVanBan", Namespace: Namespace, Action: Action,
		New: func() any { return new(gen.NhanVanBan) },
		Do:  s.do,
	})
	return s, err
}

func (s *Sim) do(ctx context.Context, h *soap.Header, req any) (any, error) {
	r := req.(*gen.NhanVanBan)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failNext > 0 {
		s.failNext--
		return nil, &soap.Fault{Code: "Server", String: "QLVB-503: hệ thống đang bảo trì"}
	}
	if s.refuse != nil {
		f := *s.refuse
		return nil, &f
	}
	edxml, err := base64.StdEncoding.DecodeString(string(r.NoiDungEdXML))
	if err != nil {
		return nil, &soap.Fault{Code: "Client", String: "QLVB-400: NoiDungEdXML is not base64: " + err.Error()}
	}
	s.received = append(s.received, Received{Request: *r, EdXML: edxml})
	return &gen.NhanVanBanResponse{KetQua: 0, MaTiepNhan: fmt.Sprintf("TN-%04d", len(s.received)), ThongBao: "Đã tiếp nhận"}, nil
}

// ServeHTTP serves the SOAP endpoint and ?wsdl.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.srv.ServeHTTP(w, r) }

// FailNext makes the next n calls answer with a Server fault.
func (s *Sim) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Refuse makes every call answer with a fault of code (Client, Server)
// and text; an empty code accepts again.
func (s *Sim) Refuse(code, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		s.refuse = nil
		return
	}
	s.refuse = &soap.Fault{Code: code, String: text}
}

// Received returns the accepted packets.
func (s *Sim) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Calls returns how many calls reached the operation.
func (s *Sim) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
