package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Version is a SOAP version; the zero value means SOAP 1.1.
type Version int

// The two SOAP versions.
const (
	V11 Version = iota // SOAP 1.1, text/xml with a SOAPAction header
	V12                // SOAP 1.2, application/soap+xml with an action parameter
)

// Namespaces of the envelopes and of the headers this package understands.
const (
	NS11    = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12    = "http://www.w3.org/2003/05/soap-envelope"
	NSWSSE  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSError = "urn:lgsp:error"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
)

// Content types of the two versions.
const (
	ContentType11 = "text/xml"
	ContentType12 = "application/soap+xml"
)

// Namespace returns the envelope namespace of v.
func (v Version) Namespace() string {
	if v == V12 {
		return NS12
	}
	return NS11
}

// String returns "1.1" or "1.2".
func (v Version) String() string {
	if v == V12 {
		return "1.2"
	}
	return "1.1"
}

// prefix is the envelope prefix this package writes.
func (v Version) prefix() string {
	if v == V12 {
		return "env"
	}
	return "soapenv"
}

// mediaType is the content type of requests and answers of v.
func (v Version) mediaType() string {
	if v == V12 {
		return ContentType12
	}
	return ContentType11
}

// contentType is the full Content-Type header of a message of v; action
// goes into the action parameter for SOAP 1.2 only.
func (v Version) contentType(action string) string {
	if v == V12 {
		if action != "" {
			return ContentType12 + `; charset=utf-8; action="` + strings.ReplaceAll(action, `"`, `%22`) + `"`
		}
		return ContentType12 + "; charset=utf-8"
	}
	return ContentType11 + "; charset=utf-8"
}

// versionOfNamespace maps an envelope namespace to its version.
func versionOfNamespace(ns string) (Version, bool) {
	switch ns {
	case NS11:
		return V11, true
	case NS12:
		return V12, true
	}
	return 0, false
}

// versionOfContentType maps a Content-Type header to a version and, for SOAP
// 1.2, the action parameter.
func versionOfContentType(ct string) (v Version, action string, ok bool) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, "", false
	}
	if cs, has := params["charset"]; has && !strings.EqualFold(cs, "utf-8") {
		return 0, "", false
	}
	switch mt {
	case ContentType11:
		return V11, "", true
	case ContentType12:
		return V12, params["action"], true
	}
	return 0, "", false
}

// RawXML is an element already serialised as XML. As a request or a
// response value it is written as is; an Operation without New receives the
// body element as RawXML, with the namespace declarations it inherited from
// the envelope repeated on it so that it stands alone.
type RawXML []byte

// writeEnvelope writes an envelope of v with the given header blocks around
// the body that writeBody appends.
func writeEnvelope(b *bytes.Buffer, v Version, headers [][]byte, writeBody func(*bytes.Buffer) error) error {
	p := v.prefix()
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<" + p + ":Envelope xmlns:" + p + `="` + v.Namespace() + `">`)
	if len(headers) > 0 {
		b.WriteString("<" + p + ":Header>")
		for _, h := range headers {
			b.Write(h)
		}
		b.WriteString("</" + p + ":Header>")
	}
	b.WriteString("<" + p + ":Body>")
	if err := writeBody(b); err != nil {
		return err
	}
	b.WriteString("</" + p + ":Body></" + p + ":Envelope>")
	return nil
}

// marshalValue appends v as XML: RawXML as is, anything else with
// encoding/xml (which needs an XMLName or a type name for the element).
func marshalValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		return errors.New("no value to marshal")
	case RawXML:
		b.Write(x)
		return nil
	case *RawXML:
		b.Write(*x)
		return nil
	}
	if _, ok := v.(exactNamespaces); ok {
		x, err := xml.Marshal(v)
		if err == nil {
			x, err = exactNS(x)
		}
		b.Write(x)
		return err
	}
	enc := xml.NewEncoder(b)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// errDoctype is returned for documents that carry a DOCTYPE or any other
// markup declaration; SOAP forbids them and they are the vehicle of entity
// expansion attacks.
var errDoctype = errors.New("DOCTYPE and entity declarations are not allowed in SOAP messages")

// errVersion is returned when the root is not a SOAP 1.1 or 1.2 Envelope.
var errVersion = errors.New("root element is not a SOAP 1.1 or 1.2 Envelope")

// scope holds the namespace declarations in force (prefix → URI, "" for the
// default namespace).
type scope map[string]string

// declare adds the xmlns attributes of start to s.
func (s scope) declare(start xml.StartElement) {
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns":
			s[a.Name.Local] = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			s[""] = a.Value
		}
	}
}

// standalone returns raw, the serialisation of element start, with every
// declaration of s that start does not make itself added to its start tag,
// so that the element can be parsed on its own.
func (s scope) standalone(raw []byte, start xml.StartElement) []byte {
	own := map[string]bool{}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns":
			own[a.Name.Local] = true
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			own[""] = true
		}
	}
	var add bytes.Buffer
	for p, uri := range s {
		if own[p] {
			continue
		}
		if p == "" {
			add.WriteString(` xmlns="`)
		} else {
			add.WriteString(` xmlns:` + p + `="`)
		}
		_ = xml.EscapeText(&add, []byte(uri))
		add.WriteByte('"')
	}
	if add.Len() == 0 {
		return raw
	}
	// The name ends at the first blank, '/' or '>' after the '<'.
	i := 1
	for i < len(raw) && !strings.ContainsRune(" \t\r\n/>", rune(raw[i])) {
		i++
	}
	out := make([]byte, 0, len(raw)+add.Len())
	out = append(out, raw[:i]...)
	out = append(out, add.Bytes()...)
	return append(out, raw[i:]...)
}

// reader walks a SOAP message: prolog, Envelope, Header blocks, Body.
type reader struct {
	data  []byte
	dec   *xml.Decoder
	ver   Version
	scope scope
	// limits, when set, bound the shape of the message (pre-scanned by
	// envelope before any token is decoded): requests from outside.
	limits *xmlscan.Limits
}

// newRequestReader is newReader for a request: the shape limits in force
// (xmlscan.Defaults) apply.
func newRequestReader(data []byte) *reader {
	r := newReader(data)
	l := xmlscan.Defaults()
	r.limits = &l
	return r
}

// checkShape pre-scans the message against r.limits: the decoded header
// blocks and body values cost memory per element, so their number is
// bounded before decoding starts.
func (r *reader) checkShape() error {
	if r.limits == nil {
		return nil
	}
	err := xmlscan.Check(r.data, *r.limits)
	var le *xmlscan.LimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return bus.ErrXMLTooComplex.New("SOAP message (%s): %s at %d:%d", le.Limit, le.What(), le.Line, le.Col)
	case errors.Is(err, xmlscan.ErrDeclaration):
		return errDoctype
	}
	return err
}

func newReader(data []byte) *reader {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	return &reader{data: data, dec: d, scope: scope{}}
}

// next returns the next element start or end at the current level, skipping
// blank text and comments and refusing markup declarations.
func (r *reader) next() (xml.Token, error) {
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.Directive:
			return nil, errDoctype
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, errors.New("unexpected text in the envelope")
			}
		case xml.ProcInst, xml.Comment:
		}
	}
}

// envelope checks the shape of the message, then reads up to the Envelope
// start and learns the version.
func (r *reader) envelope() error {
	if err := r.checkShape(); err != nil {
		return err
	}
	tok, err := r.next()
	if err != nil {
		return err
	}
	start, ok := tok.(xml.StartElement)
	if !ok || start.Name.Local != "Envelope" {
		return errVersion
	}
	v, ok := versionOfNamespace(start.Name.Space)
	if !ok {
		return errVersion
	}
	r.ver = v
	r.scope.declare(start)
	return nil
}

// capture reads the element that start opened to its end and returns it as
// standalone XML.
func (r *reader) capture(start xml.StartElement, startOff int64) ([]byte, error) {
	if err := r.dec.Skip(); err != nil {
		return nil, err
	}
	end := r.dec.InputOffset()
	return r.scope.standalone(r.data[startOff:end], start), nil
}

// nextStart is next, with the input offset of the token it returns.
func (r *reader) nextStart() (xml.Token, int64, error) {
	for {
		off := r.dec.InputOffset()
		tok, err := r.dec.Token()
		if err != nil {
			return nil, 0, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, off, nil
		case xml.Directive:
			return nil, 0, errDoctype
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, 0, errors.New("unexpected text in the envelope")
			}
		}
	}
}

// headerBlock is one child of soap:Header as read.
type headerBlock struct {
	start xml.StartElement
	off   int64
}

// headerAndBody reads the optional Header, handing each block to onHeader,
// then opens the Body and returns its first element (ok=false for an empty
// Body).
func (r *reader) headerAndBody(onHeader func(headerBlock) error) (first xml.StartElement, firstOff int64, ok bool, err error) {
	ns := r.ver.Namespace()
	tok, err := r.next()
	if err != nil {
		return first, 0, false, err
	}
	start, isStart := tok.(xml.StartElement)
	if !isStart {
		return first, 0, false, errors.New("envelope has no Body")
	}
	if start.Name.Space == ns && start.Name.Local == "Header" {
		// The Header's own declarations are in force for its blocks only.
		outer := maps.Clone(r.scope)
		r.scope.declare(start)
		for {
			tok, off, err := r.nextStart()
			if err != nil {
				return first, 0, false, err
			}
			if _, end := tok.(xml.EndElement); end {
				break
			}
			if err := onHeader(headerBlock{start: tok.(xml.StartElement), off: off}); err != nil {
				return first, 0, false, err
			}
		}
		r.scope = maps.Clone(outer)
		if tok, err = r.next(); err != nil {
			return first, 0, false, err
		}
		if start, isStart = tok.(xml.StartElement); !isStart {
			return first, 0, false, errors.New("envelope has no Body")
		}
	}
	if start.Name.Space != ns || start.Name.Local != "Body" {
		return first, 0, false, fmt.Errorf("expected %s Body, found {%s}%s", r.ver.prefix(), start.Name.Space, start.Name.Local)
	}
	r.scope.declare(start)
	tok, off, err := r.nextStart()
	if err != nil {
		return first, 0, false, err
	}
	if s, isStart := tok.(xml.StartElement); isStart {
		return s, off, true, nil
	}
	return first, 0, false, nil
}

// mustUnderstand reports whether a header block is marked mustUnderstand in
// the envelope's namespace.
func mustUnderstand(start xml.StartElement, v Version) bool {
	for _, a := range start.Attr {
		if a.Name.Space == v.Namespace() && a.Name.Local == "mustUnderstand" {
			s := strings.TrimSpace(a.Value)
			return s == "1" || s == "true"
		}
	}
	return false
}

// readLimited reads at most limit bytes of r; more is a request.too_large
// error that names what was read.
func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, bus.ErrBodyTooLarge.New("%s exceeds the limit of %d bytes", what, limit)
	}
	return data, nil
}
