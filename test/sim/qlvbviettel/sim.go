package qlvbviettel

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/tuyenquang/lgsp/adapters/soap"
	gen "github.com/tuyenquang/lgsp/wsdl/consumed/gen/qlvbviettel"
)

// Namespace and Action of ReceiveDocument.
const (
	Namespace = "urn:viettel:eoffice:document:v1"
	Action    = Namespace + "/ReceiveDocument"
)

// File is one attachment as received, decoded.
type File struct {
	Name, ContentType string
	Data              []byte
}

// Received is one accepted ReceiveDocument.
type Received struct {
	Request gen.ReceiveDocument
	Files   []File
}

// Sim is the simulated e-Office.
type Sim struct {
	srv *soap.Server

	mu       sync.Mutex
	received []Received
	calls    int
	failNext int
}

// New returns a simulator serving the WSDL at wsdlPath
// (wsdl/consumed/qlvb-viettel.wsdl), SOAP 1.2 only.
func New(wsdlPath string) (*Sim, error) {
	wsdl, err := os.ReadFile(wsdlPath)
	if err != nil {
		return nil, err
	}
	srv, err := soap.NewServer(soap.ServerOptions{WSDL: wsdl, Version12: true})
	if err != nil {
		return nil, err
	}
	s := &Sim{srv: srv}
	err = srv.Handle(soap.Operation{
		Name: "ReceiveDocument", Namespace: Namespace, Action: Action,
		New: func() any { return new(gen.ReceiveDocument) },
		Do:  s.do,
	})
	return s, err
}

func (s *Sim) do(ctx context.Context, h *soap.Header, req any) (any, error) {
	r := req.(*gen.ReceiveDocument)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failNext > 0 {
		s.failNext--
		return nil, &soap.Fault{Code: "Receiver", String: "EOFFICE-UNAVAILABLE: try later"}
	}
	rec := Received{Request: *r}
	for i, a := range r.Attachment {
		data, err := base64.StdEncoding.DecodeString(string(a.Data))
		if err != nil {
			return nil, &soap.Fault{Code: "Sender", String: fmt.Sprintf("EOFFICE-BAD-ATTACHMENT: attachment %d is not base64", i+1)}
		}
		rec.Files = append(rec.Files, File{Name: a.FileName, ContentType: a.ContentType, Data: data})
	}
	s.received = append(s.received, rec)
	return &gen.ReceiveDocumentResponse{Accepted: true, DocumentId: fmt.Sprintf("VT-%d", len(s.received))}, nil
}

// ServeHTTP serves the SOAP endpoint and ?wsdl.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.srv.ServeHTTP(w, r) }

// FailNext makes the next n calls answer with a Receiver fault.
func (s *Sim) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Received returns the accepted documents.
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
