package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/tuyenquang/lgsp/bus"
)

// DefaultMaxBody is the default bound of a request body (8 MiB).
const DefaultMaxBody = 8 << 20

// Header is what a handler learns about a request besides its body.
type Header struct {
	Version Version
	// Action is the SOAPAction header (1.1) or the action parameter of the
	// Content-Type (1.2), unquoted; "" when the client sent none.
	Action string
	// Security is the wsse:Security header, nil when absent.
	Security *Security
	// Blocks are the other header blocks, in order.
	Blocks []HeaderBlock
	// HTTP is the request's HTTP header; RemoteAddr its peer address.
	HTTP       http.Header
	RemoteAddr string
}

// HeaderBlock is one SOAP header block other than wsse:Security.
type HeaderBlock struct {
	Name           xml.Name
	MustUnderstand bool
	XML            RawXML // standalone: inherited namespaces are declared on it
}

// Decode decodes the first header block called name into v; found is false
// when there is none.
func (h *Header) Decode(name xml.Name, v any) (found bool, err error) {
	for _, b := range h.Blocks {
		if b.Name == name {
			return true, xml.Unmarshal(b.XML, v)
		}
	}
	return false, nil
}

// Operation is one document/literal operation of a Server.
type Operation struct {
	// Name and Namespace are the QName of the request's body element.
	Name      string
	Namespace string
	// Action, when set, must equal the action the client sends (if it
	// sends one).
	Action string
	// New returns the value the body element is decoded into; nil hands the
	// element to Do as RawXML.
	New func() any
	// Do answers the request: a value marshalled with encoding/xml (with an
	// XMLName) or RawXML as the response body element, or an error that
	// becomes a fault (a *Fault is sent as is).
	Do func(ctx context.Context, h *Header, req any) (any, error)
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// WSDL is served at ?wsdl (GET); the location of every soap:address and
	// soap12:address is set to PublicURL, or to the URL of the request.
	WSDL      []byte
	PublicURL string
	// MaxBody bounds request bodies (default 8 MiB).
	MaxBody int64
	// Version11 and Version12 select the versions accepted; when both are
	// false both are.
	Version11, Version12 bool
	// Security, when set, is called for every request after the operation
	// is known and before its body is decoded; an error (e.g. from
	// VerifyUsernameToken) is sent as a fault.
	Security func(ctx context.Context, h *Header, op *Operation) error
	// Understood are the header blocks, besides wsse:Security, that may be
	// marked mustUnderstand; any other such block is a MustUnderstand fault.
	Understood []xml.Name
	// Log receives one line per fault (nil: none). Bridge logrus with
	// slog.New(lslog.NewHandler(logger, nil)).
	Log *slog.Logger
}

// Server is an http.Handler that serves the operations registered with
// Handle over SOAP 1.1 and 1.2 at one URL.
type Server struct {
	opts ServerOptions
	wsdl *etree.Document
	mu   sync.RWMutex
	ops  map[xml.Name]*Operation
}

// NewServer checks o and returns a server without operations.
func NewServer(o ServerOptions) (*Server, error) {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if !o.Version11 && !o.Version12 {
		o.Version11, o.Version12 = true, true
	}
	s := &Server{opts: o, ops: map[xml.Name]*Operation{}}
	if len(o.WSDL) > 0 {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(o.WSDL); err != nil {
			return nil, fmt.Errorf("reading the WSDL: %w", err)
		}
		if doc.Root() == nil || doc.Root().Tag != "definitions" {
			return nil, errors.New("the WSDL has no wsdl:definitions root")
		}
		s.wsdl = doc
	}
	return s, nil
}

// Handle registers op; a second operation with the same QName is an error.
func (s *Server) Handle(op Operation) error {
	if op.Name == "" || op.Do == nil {
		return errors.New("soap operation needs a Name and Do")
	}
	key := xml.Name{Space: op.Namespace, Local: op.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.ops[key]; dup {
		return fmt.Errorf("soap operation {%s}%s is already registered", op.Namespace, op.Name)
	}
	s.ops[key] = &op
	return nil
}

func (s *Server) enabled(v Version) bool {
	return v == V11 && s.opts.Version11 || v == V12 && s.opts.Version12
}

// ServeHTTP answers ?wsdl and SOAP POSTs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if _, ok := r.URL.Query()["wsdl"]; ok || strings.EqualFold(r.URL.RawQuery, "wsdl") {
			s.serveWSDL(w, r)
			return
		}
	}
	v, action, ctOK := versionOfContentType(r.Header.Get("Content-Type"))
	if !ctOK && strings.Contains(r.Header.Get("Content-Type"), ContentType12) {
		v = V12
	}
	// Answer refusals in the request's version when it is served here,
	// else in one that is.
	reqV := v
	if !s.enabled(v) {
		v = V12
		if s.opts.Version11 {
			v = V11
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, GET")
		s.fault(w, r, v, "", bus.ErrBadRequest.New("SOAP requests are POSTs; GET serves the WSDL at ?wsdl"))
		return
	}
	if !ctOK {
		s.fault(w, r, v, "", bus.ErrBadRequest.New("content type %q is neither text/xml (SOAP 1.1) nor application/soap+xml (SOAP 1.2), in UTF-8", r.Header.Get("Content-Type")))
		return
	}
	if reqV != v {
		s.fault(w, r, v, "VersionMismatch", bus.ErrBadRequest.New("SOAP %s is not accepted at this endpoint", reqV))
		return
	}
	if v == V11 {
		action = r.Header.Get("SOAPAction")
	}
	action = strings.Trim(strings.TrimSpace(action), `"`)

	data, err := s.readBody(w, r)
	if err != nil {
		s.fault(w, r, v, "", err)
		return
	}
	rd := newRequestReader(data)
	if err := rd.envelope(); err != nil {
		if errors.Is(err, errVersion) {
			s.fault(w, r, v, "VersionMismatch", bus.ErrBadRequest.New("%v", err))
			return
		}
		s.fault(w, r, v, "", badXML(err))
		return
	}
	if rd.ver != v {
		s.fault(w, r, v, "VersionMismatch", bus.ErrBadRequest.New("a SOAP %s envelope sent as %s", rd.ver, r.Header.Get("Content-Type")))
		return
	}
	h := &Header{Version: v, Action: action, HTTP: r.Header, RemoteAddr: r.RemoteAddr}
	var notUnderstood *xml.Name
	first, off, ok, err := rd.headerAndBody(func(b headerBlock) error {
		if b.start.Name.Space == NSWSSE && b.start.Name.Local == "Security" {
			if h.Security != nil {
				return bus.ErrAuthMalformed.New("more than one wsse:Security header")
			}
			sec, err := rd.readSecurity(b.start)
			h.Security = sec
			return err
		}
		mu := mustUnderstand(b.start, v)
		if mu && notUnderstood == nil && !s.understood(b.start.Name) {
			n := b.start.Name
			notUnderstood = &n
		}
		raw, err := rd.capture(b.start, b.off)
		h.Blocks = append(h.Blocks, HeaderBlock{Name: b.start.Name, MustUnderstand: mu, XML: raw})
		return err
	})
	if err != nil {
		s.fault(w, r, v, "", badXML(err))
		return
	}
	if notUnderstood != nil {
		s.fault(w, r, v, "MustUnderstand", bus.ErrBadRequest.New("header {%s}%s is marked mustUnderstand but is not understood here", notUnderstood.Space, notUnderstood.Local))
		return
	}
	if !ok {
		s.fault(w, r, v, "", bus.ErrBadRequest.New("the SOAP Body is empty"))
		return
	}
	s.mu.RLock()
	op := s.ops[first.Name]
	s.mu.RUnlock()
	if op == nil {
		s.fault(w, r, v, "", bus.ErrNotFound.New("no operation {%s}%s at this endpoint", first.Name.Space, first.Name.Local))
		return
	}
	if op.Action != "" && action != "" && action != op.Action {
		s.fault(w, r, v, "", bus.ErrBadRequest.New("SOAP action %q does not belong to operation %s (%q)", action, op.Name, op.Action))
		return
	}
	if s.opts.Security != nil {
		if err := s.opts.Security(r.Context(), h, op); err != nil {
			s.fault(w, r, v, "", err)
			return
		}
	}
	var req any
	if op.New == nil {
		raw, err := rd.capture(first, off)
		if err != nil {
			s.fault(w, r, v, "", badXML(err))
			return
		}
		req = raw
	} else {
		if req, err = rd.decodeBody(op.New, first, off); err != nil {
			s.fault(w, r, v, "", bus.ErrBadRequest.New("decoding %s: %v", op.Name, err))
			return
		}
	}
	resp, err := s.call(r.Context(), op, h, req)
	if err != nil {
		s.fault(w, r, v, "", err)
		return
	}
	var b bytes.Buffer
	b.Grow(1024)
	if err := writeEnvelope(&b, v, nil, func(b *bytes.Buffer) error {
		if resp == nil {
			return nil
		}
		return marshalValue(b, resp)
	}); err != nil {
		s.fault(w, r, v, "", bus.ErrInternal.Wrap(err, "marshalling the answer of %s", op.Name))
		return
	}
	w.Header().Set("Content-Type", v.contentType(""))
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// call runs op.Do, turning a panic into system.internal.
func (s *Server) call(ctx context.Context, op *Operation, h *Header, req any) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, bus.ErrInternal.Wrap(fmt.Errorf("panic: %v", p), "operation %s failed", op.Name)
		}
	}()
	return op.Do(ctx, h, req)
}

func (s *Server) understood(n xml.Name) bool {
	for _, u := range s.opts.Understood {
		if u == n {
			return true
		}
	}
	return false
}

// badXML classifies a parse error of a request.
func badXML(err error) error {
	var be *bus.Error
	if errors.As(err, &be) {
		return be
	}
	if errors.Is(err, errDoctype) {
		return bus.ErrBadRequest.New("%v", err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bus.ErrBadRequest.New("the SOAP message ends too early")
	}
	return bus.ErrBadRequest.New("the SOAP message is not well-formed: %v", err)
}

// readBody reads the request body within MaxBody. The buffer grows with
// what arrives, never with what Content-Length claims: a client that
// declares a large body and sends one byte holds one byte.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return ReadBody(w, r, s.opts.MaxBody)
}

// ReadBody reads r's body, refusing more than limit bytes with
// request.too_large (by Content-Length before reading, or once read). Read
// errors that are catalogue errors (a body too slow, a busy platform) are
// returned as they are.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, bus.ErrBodyTooLarge.New("SOAP requests are limited to %d bytes", limit)
	}
	b, err := readBlocks(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		var be *bus.Error
		switch {
		case errors.As(err, &mbe):
			return nil, bus.ErrBodyTooLarge.New("SOAP requests are limited to %d bytes", limit)
		case errors.As(err, &be):
			return nil, be
		}
		return nil, bus.ErrBadRequest.New("reading the request body: %v", err)
	}
	return b, nil
}

// Blocks ReadBody reads in: the first is small (most SOAP requests are a
// few KiB), each next one twice the size up to the largest.
const (
	firstBodyBlock = 4 << 10
	maxBodyBlock   = 256 << 10
)

// readBlocks reads r to the end in blocks and joins them once, so that a
// large body of n bytes costs about 2n at the peak and n of garbage, where
// a doubling buffer (bytes.Buffer.ReadFrom) leaves up to 3n of garbage and
// a slice of up to 2n. Nothing is sized from what the client declared.
func readBlocks(r io.Reader) ([]byte, error) {
	var blocks [][]byte
	total, size := 0, firstBodyBlock
	for {
		blk := make([]byte, size)
		size = min(2*size, maxBodyBlock)
		n := 0
		var err error
		for n < len(blk) && err == nil {
			var m int
			m, err = r.Read(blk[n:])
			n += m
		}
		if n > 0 {
			blocks = append(blocks, blk[:n])
			total += n
		}
		if err == io.EOF {
			break // only a body that ended: io.ErrUnexpectedEOF is a cut-off body
		}
		if err != nil {
			return nil, err
		}
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	out := make([]byte, 0, total)
	for i, blk := range blocks {
		out = append(out, blk...)
		blocks[i] = nil // collectable as soon as it is copied
	}
	return out, nil
}

// fault writes err as a fault, with code replacing the Client/Server code
// when set (VersionMismatch, MustUnderstand), and logs it.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, v Version, code string, err error) {
	f := NewFault(v, err)
	if code != "" {
		f.Code = code
	}
	if l := s.opts.Log; l != nil {
		e := bus.AsError(err)
		lvl := slog.LevelInfo
		if e.Def.Status >= 500 {
			lvl = slog.LevelError
		}
		l.Log(r.Context(), lvl, "soap fault", "code", f.LGSPCode, "fault", f.Code, "detail", f.LGSPDetail, "remote", r.RemoteAddr, "error", err.Error())
	}
	WriteFault(w, v, f)
}

// wsdlBindingNS are the namespaces of soap:address and soap12:address.
var wsdlBindingNS = map[string]bool{
	"http://schemas.xmlsoap.org/wsdl/soap/":   true,
	"http://schemas.xmlsoap.org/wsdl/soap12/": true,
}

// serveWSDL writes the WSDL with its addresses pointing at this endpoint.
func (s *Server) serveWSDL(w http.ResponseWriter, r *http.Request) {
	if s.wsdl == nil {
		http.Error(w, "no WSDL is published at this endpoint", http.StatusNotFound)
		return
	}
	addr := s.opts.PublicURL
	if addr == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		addr = scheme + "://" + r.Host + r.URL.Path
	}
	doc := s.wsdl.Copy()
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if e.Tag == "address" && wsdlBindingNS[e.NamespaceURI()] {
			e.CreateAttr("location", addr)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	out, err := doc.WriteToBytes()
	if err != nil {
		http.Error(w, "cannot write the WSDL", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(out)
}
