package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// Fault is a SOAP 1.1 or 1.2 fault. The client returns it as the error of a
// call whose answer was a fault, whatever the HTTP status (500 is the norm);
// handlers may return one to send it as is.
type Fault struct {
	Version Version
	// Code is the local part of faultcode (1.1: Client, Server,
	// VersionMismatch, MustUnderstand) or of Code/Value (1.2: Sender,
	// Receiver, ...). Subcode is the 1.2 Code/Subcode/Value local part.
	Code    string
	Subcode string
	// String is faultstring (1.1) or the first Reason/Text (1.2).
	String string
	// Actor is faultactor (1.1) or Role (1.2); Node is the 1.2 Node.
	Actor string
	Node  string
	// Detail is the content of detail (1.1) or Detail (1.2) as sent; prefixes
	// declared on the envelope are not repeated in it.
	Detail []byte
	// LGSPCode and the messages are read from <lgsp:error> in the detail,
	// when the fault came from LGSP (or a peer that follows it).
	LGSPCode   bus.Code
	LGSPDetail string
	MessageVI  string
	MessageEN  string
	// HTTPStatus is the status the fault came with (client side).
	HTTPStatus int
	// RetryAfter, when positive, is sent as Retry-After (server side).
	RetryAfter int
}

// Error describes the fault in one line.
func (f *Fault) Error() string {
	s := "soap fault " + f.Code
	if f.Subcode != "" {
		s += "/" + f.Subcode
	}
	if f.String != "" {
		s += ": " + f.String
	}
	if f.LGSPCode != "" && !strings.Contains(f.String, string(f.LGSPCode)) {
		s += " (" + string(f.LGSPCode) + ")"
	}
	return s
}

// Unwrap returns the catalogue error named by LGSPCode, so that
// bus.AsError and errors.Is see the code the peer sent; nil when the fault
// carries no code this build knows.
func (f *Fault) Unwrap() error {
	if f.LGSPCode == "" {
		return nil
	}
	d, ok := bus.Lookup(f.LGSPCode)
	if !ok {
		return nil
	}
	return &bus.Error{Def: d, Detail: f.LGSPDetail, RetryAfter: f.RetryAfter}
}

// NewFault turns err into the fault LGSP sends: a *Fault returned as the
// error itself (not wrapped) is sent as is, its code mapped to v; anything else goes through bus.AsError, and the catalogue
// status picks Client/Sender (4xx) or Server/Receiver (5xx).
func NewFault(v Version, err error) *Fault {
	if f, ok := err.(*Fault); ok {
		g := *f
		g.Version, g.Code = v, codeFor(v, f.Code)
		if g.HTTPStatus == 0 {
			g.HTTPStatus = http.StatusInternalServerError
		}
		return &g
	}
	e := bus.AsError(err)
	code := "Server"
	if e.Def.Status < 500 {
		code = "Client"
	}
	code = codeFor(v, code)
	s := string(e.Def.Code) + ": " + e.Def.EN
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	// Faults go with HTTP 500, as both SOAP bindings say, except overload
	// and outage (system.busy, system.unavailable): those keep 503 with
	// Retry-After, so that load balancers, proxies and HTTP-level retry
	// logic back off as they do for REST. The body is still the fault.
	status := http.StatusInternalServerError
	if e.Def.Status == http.StatusServiceUnavailable {
		status = http.StatusServiceUnavailable
	}
	return &Fault{
		Version: v, Code: code, String: s,
		LGSPCode: e.Def.Code, LGSPDetail: e.Detail, MessageVI: e.Def.VI, MessageEN: e.Def.EN,
		HTTPStatus: status, RetryAfter: e.RetryAfter,
	}
}

// codeFor maps the fault codes that differ between the versions
// (Client/Sender, Server/Receiver) to their names in v.
func codeFor(v Version, code string) string {
	if v == V12 {
		switch code {
		case "Client":
			return "Sender"
		case "Server":
			return "Receiver"
		}
		return code
	}
	switch code {
	case "Sender":
		return "Client"
	case "Receiver":
		return "Server"
	}
	return code
}

// esc appends s as escaped XML text.
func esc(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

// writeDetail appends <lgsp:error> for f, or f.Detail when f has no code.
func (f *Fault) writeDetail(b *bytes.Buffer) {
	if f.LGSPCode == "" {
		b.Write(f.Detail)
		return
	}
	b.WriteString(`<lgsp:error xmlns:lgsp="` + NSError + `"><lgsp:code>`)
	esc(b, string(f.LGSPCode))
	b.WriteString(`</lgsp:code><lgsp:message xml:lang="vi">`)
	esc(b, f.MessageVI)
	b.WriteString(`</lgsp:message><lgsp:message xml:lang="en">`)
	esc(b, f.MessageEN)
	b.WriteString(`</lgsp:message>`)
	if f.LGSPDetail != "" {
		b.WriteString(`<lgsp:detail>`)
		esc(b, f.LGSPDetail)
		b.WriteString(`</lgsp:detail>`)
	}
	b.WriteString(`</lgsp:error>`)
}

// marshal appends the Fault element of f in version v (the envelope
// prefix of this package is in scope).
func (f *Fault) marshal(b *bytes.Buffer, v Version) {
	p := v.prefix()
	hasDetail := f.LGSPCode != "" || len(f.Detail) > 0
	if v == V11 {
		b.WriteString("<" + p + ":Fault><faultcode>" + p + ":")
		esc(b, f.Code)
		b.WriteString("</faultcode><faultstring>")
		esc(b, f.String)
		b.WriteString("</faultstring>")
		if f.Actor != "" {
			b.WriteString("<faultactor>")
			esc(b, f.Actor)
			b.WriteString("</faultactor>")
		}
		if hasDetail {
			b.WriteString("<detail>")
			f.writeDetail(b)
			b.WriteString("</detail>")
		}
		b.WriteString("</" + p + ":Fault>")
		return
	}
	b.WriteString("<" + p + ":Fault><" + p + ":Code><" + p + ":Value>" + p + ":")
	esc(b, f.Code)
	b.WriteString("</" + p + ":Value></" + p + ":Code><" + p + `:Reason><` + p + `:Text xml:lang="en">`)
	esc(b, f.String)
	b.WriteString("</" + p + ":Text>")
	if f.MessageVI != "" {
		b.WriteString("<" + p + `:Text xml:lang="vi">`)
		esc(b, string(f.LGSPCode)+": "+f.MessageVI)
		b.WriteString("</" + p + ":Text>")
	}
	b.WriteString("</" + p + ":Reason>")
	if f.Node != "" {
		b.WriteString("<" + p + ":Node>")
		esc(b, f.Node)
		b.WriteString("</" + p + ":Node>")
	}
	if f.Actor != "" {
		b.WriteString("<" + p + ":Role>")
		esc(b, f.Actor)
		b.WriteString("</" + p + ":Role>")
	}
	if hasDetail {
		b.WriteString("<" + p + ":Detail>")
		f.writeDetail(b)
		b.WriteString("</" + p + ":Detail>")
	}
	b.WriteString("</" + p + ":Fault>")
}

// WriteFault writes err as a SOAP fault of version v with HTTP 500 (the
// status both SOAP HTTP bindings use for faults; 503 for overload and
// outage, see NewFault), the error code in the X-LGSP-Error-Code header and
// Retry-After when the error asks for it.
func WriteFault(w http.ResponseWriter, v Version, err error) {
	f := NewFault(v, err)
	var b bytes.Buffer
	_ = writeEnvelope(&b, v, nil, func(b *bytes.Buffer) error { f.marshal(b, v); return nil })
	h := w.Header()
	h.Set("Content-Type", v.contentType(""))
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	if f.LGSPCode != "" {
		h.Set("X-LGSP-Error-Code", string(f.LGSPCode))
	}
	if f.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	status := f.HTTPStatus
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// lgspErrorXML is <lgsp:error> as read.
type lgspErrorXML struct {
	Code     string `xml:"urn:lgsp:error code"`
	Detail   string `xml:"urn:lgsp:error detail"`
	Messages []struct {
		Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"urn:lgsp:error message"`
}

// detailXML is the detail element of either version.
type detailXML struct {
	Inner []byte        `xml:",innerxml"`
	Error *lgspErrorXML `xml:"urn:lgsp:error error"`
}

type fault11XML struct {
	Code   string     `xml:"faultcode"`
	String string     `xml:"faultstring"`
	Actor  string     `xml:"faultactor"`
	Detail *detailXML `xml:"detail"`
}

type fault12XML struct {
	Code struct {
		Value   string `xml:"http://www.w3.org/2003/05/soap-envelope Value"`
		Subcode struct {
			Value string `xml:"http://www.w3.org/2003/05/soap-envelope Value"`
		} `xml:"http://www.w3.org/2003/05/soap-envelope Subcode"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Code"`
	Reason []struct {
		Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Reason>Text"`
	Node   string     `xml:"http://www.w3.org/2003/05/soap-envelope Node"`
	Role   string     `xml:"http://www.w3.org/2003/05/soap-envelope Role"`
	Detail *detailXML `xml:"http://www.w3.org/2003/05/soap-envelope Detail"`
}

// localPart strips the prefix of a QName value.
func localPart(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

// readFault decodes the Fault element that start opened.
func (r *reader) readFault(start xml.StartElement) (*Fault, error) {
	f := &Fault{Version: r.ver}
	var d *detailXML
	if r.ver == V11 {
		var x fault11XML
		if err := r.dec.DecodeElement(&x, &start); err != nil {
			return nil, fmt.Errorf("decoding the fault: %w", err)
		}
		f.Code, f.String, f.Actor, d = localPart(x.Code), strings.TrimSpace(x.String), x.Actor, x.Detail
	} else {
		var x fault12XML
		if err := r.dec.DecodeElement(&x, &start); err != nil {
			return nil, fmt.Errorf("decoding the fault: %w", err)
		}
		f.Code, f.Subcode, f.Actor, f.Node, d = localPart(x.Code.Value), localPart(x.Code.Subcode.Value), x.Role, x.Node, x.Detail
		for i, t := range x.Reason {
			if i == 0 || strings.HasPrefix(strings.ToLower(t.Lang), "en") && !strings.HasPrefix(strings.ToLower(x.Reason[0].Lang), "en") {
				f.String = strings.TrimSpace(t.Text)
			}
		}
	}
	if d != nil {
		f.Detail = bytes.TrimSpace(d.Inner)
		if e := d.Error; e != nil {
			f.LGSPCode, f.LGSPDetail = bus.Code(strings.TrimSpace(e.Code)), strings.TrimSpace(e.Detail)
			for _, m := range e.Messages {
				switch strings.ToLower(m.Lang) {
				case "vi":
					f.MessageVI = m.Text
				case "en":
					f.MessageEN = m.Text
				}
			}
		}
	}
	return f, nil
}
