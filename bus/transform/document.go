package transform

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
)

// Document is the JSON shape of a document that a province system sends to
// be delivered as an edXML document packet (data type edoc-json; see
// docs/edxml.md). Every field is optional for the parser; what edXML
// requires is checked by edxml.Validate (the edxml_validate step). Unknown
// fields are refused.
type Document struct {
	// From is the issuing organisation. Its organ_id defaults to (and must
	// equal) the sending system's identifier code.
	From *Organ `json:"from,omitempty"`
	// To gives details (names …) of the recipients. With an exchange, the
	// To list is the exchange's recipients in their order; an entry here
	// names one of them by organ_id.
	To []Organ `json:"to,omitempty"`
	// DocumentID is composed as "<from>,<yyyy/MM/dd>,<number>/<notation>"
	// when absent.
	DocumentID   string        `json:"document_id,omitempty"`
	Code         *DocCode      `json:"code,omitempty"`
	Promulgation *Promulgation `json:"promulgation,omitempty"`
	Type         *DocType      `json:"type,omitempty"`
	// Subject (trích yếu) defaults to the exchange's title.
	Subject string  `json:"subject,omitempty"`
	Content string  `json:"content,omitempty"`
	Signer  *Signer `json:"signer,omitempty"`
	DueDate string  `json:"due_date,omitempty"`
	// Priority is the edXML code 0–4; it defaults to the exchange's
	// importance (normal 0, urgent 1, very-urgent 2, flash 3, flash-timed 4).
	Priority             Text     `json:"priority,omitempty"`
	SteeringType         Text     `json:"steering_type,omitempty"`
	SphereOfPromulgation string   `json:"sphere_of_promulgation,omitempty"`
	TyperNotation        string   `json:"typer_notation,omitempty"`
	PromulgationAmount   Text     `json:"promulgation_amount,omitempty"`
	PageAmount           Text     `json:"page_amount,omitempty"`
	Appendixes           []string `json:"appendixes,omitempty"`
	ToPlaces             []string `json:"to_places,omitempty"`
	// Business is Bussiness in the packet; absent means a new document.
	Business    *Business     `json:"business,omitempty"`
	ResponseFor []ResponseFor `json:"response_for,omitempty"`
	Files       []File        `json:"files,omitempty"`
}

// Organ is an organisation (From, To).
type Organ struct {
	OrganID              string `json:"organ_id,omitempty"`
	OrganName            string `json:"organ_name,omitempty"`
	OrganizationInCharge string `json:"organization_in_charge,omitempty"`
	Address              string `json:"address,omitempty"`
	Email                string `json:"email,omitempty"`
	Telephone            string `json:"telephone,omitempty"`
	Fax                  string `json:"fax,omitempty"`
	Website              string `json:"website,omitempty"`
}

// DocCode is số (number) and ký hiệu (notation).
type DocCode struct {
	Number   Text   `json:"number,omitempty"`
	Notation string `json:"notation,omitempty"`
}

// Promulgation is the place and date of issue (yyyy/MM/dd, yyyy-MM-dd or
// dd/MM/yyyy).
type Promulgation struct {
	Place string `json:"place,omitempty"`
	Date  string `json:"date,omitempty"`
}

// DocType is the kind of document: code, detail code and name.
type DocType struct {
	Code   Text   `json:"code,omitempty"`
	Detail Text   `json:"detail,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Signer names who signed the document.
type Signer struct {
	Competence string `json:"competence,omitempty"`
	Position   string `json:"position,omitempty"`
	FullName   string `json:"full_name,omitempty"`
}

// Business says whether the document is new (0), revokes (1), updates (2)
// or replaces (3) another.
type Business struct {
	Type       Text   `json:"type,omitempty"`
	Reason     string `json:"reason,omitempty"`
	DocumentID string `json:"document_id,omitempty"`
	Paper      Text   `json:"paper,omitempty"`
}

// ResponseFor names another document (the revoked one …).
type ResponseFor struct {
	OrganID          string `json:"organ_id,omitempty"`
	Code             string `json:"code,omitempty"`
	PromulgationDate string `json:"promulgation_date,omitempty"`
	DocumentID       string `json:"document_id,omitempty"`
}

// File is one attachment. ContentBase64 is standard base64 (with padding;
// line breaks and "\/" escapes are fine).
type File struct {
	Name          string `json:"name,omitempty"`
	MediaType     string `json:"media_type,omitempty"`
	Description   string `json:"description,omitempty"`
	ContentBase64 string `json:"content_base64,omitempty"`
}

// Text is a string that may be written as a JSON number too ("1" or 1).
type Text string

// UnmarshalJSON accepts a string or a number.
func (t *Text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: "a value that is not a string or a number (" + string(b) + ")", Type: reflect.TypeFor[string]()}
	}
	*t = Text(n.String())
	return nil
}

// Meta is the exchange metadata (F2) that completes a document: the
// sending system, the recipients, the title and the importance.
type Meta struct {
	Source     string   // From/OrganId (must match from.organ_id when both are given, unless SpeaksFor allows it)
	Recipients []string // the To list, in order
	Title      string   // Subject when the document has none
	Importance string   // Priority when the document has none
	Now        time.Time
	// SpeaksFor, when set, decides whether a from.organ_id other than
	// Source may stand (an organ the registry lists for the source);
	// without it only Source does. Its error is returned as is.
	SpeaksFor func(organ string) error
}

// jsonError is bad content in a JSON document or a mapping; it becomes a
// step failure.
type jsonError struct{ msg string }

func (e *jsonError) Error() string { return e.msg }

func badf(format string, args ...any) error { return &jsonError{fmt.Sprintf(format, args...)} }

// importancePriority maps exchange importance to the edXML Priority code.
var importancePriority = map[string]string{"normal": "0", "urgent": "1", "very-urgent": "2", "flash": "3", "flash-timed": "4"}

// opener returns the decoded content of attachment i.
type opener func(i int) func() (io.ReadCloser, error)

// Packet maps doc and meta into an edXML document packet; open gives the
// content of each file (nil: files are refused). The packet's attachments
// are read from open only when it is built.
func (doc *Document) Packet(meta Meta, open opener) (*edxml.Packet, error) {
	p := &edxml.Packet{}
	mh := &p.Envelope.Header.MessageHeader
	from := edxml.Organization{}
	if doc.From != nil {
		from = doc.From.org()
	}
	if meta.Source != "" {
		switch {
		case from.OrganId == "" || from.OrganId == meta.Source:
			from.OrganId = meta.Source
		case meta.SpeaksFor != nil:
			if err := meta.SpeaksFor(from.OrganId); err != nil {
				return nil, err
			}
		default:
			return nil, bus.ErrSenderMismatch.New("from.organ_id %s differs from the sending system %s", bus.ShowCode(from.OrganId), meta.Source)
		}
	}
	mh.From = &from
	if len(meta.Recipients) > 0 {
		// An entry without organ_id describes the recipient at its position.
		doc.To = slices.Clone(doc.To)
		for i := range doc.To {
			if doc.To[i].OrganID == "" && i < len(meta.Recipients) {
				doc.To[i].OrganID = meta.Recipients[i]
			}
		}
		byID := map[string]int{}
		for i, t := range doc.To {
			byID[t.OrganID] = i
		}
		for _, r := range meta.Recipients {
			o := edxml.Organization{OrganId: r}
			if i, ok := byID[r]; ok {
				o = doc.To[i].org()
				delete(byID, r)
			}
			mh.To = append(mh.To, o)
		}
		for i, t := range doc.To {
			if _, left := byID[t.OrganID]; left {
				return nil, badf("to[%d].organ_id (%s) is not a recipient of the exchange", i, edxml.ValueRef(t.OrganID))
			}
		}
	} else {
		for _, t := range doc.To {
			mh.To = append(mh.To, t.org())
		}
	}
	var promulgated edxml.Date
	if pi := doc.Promulgation; pi != nil {
		d, err := date("promulgation.date", pi.Date)
		if err != nil {
			return nil, err
		}
		promulgated = d
		mh.PromulgationInfo = &edxml.PromulgationInfo{Place: strings.TrimSpace(pi.Place), PromulgationDate: d}
	}
	if c := doc.Code; c != nil {
		mh.Code = &edxml.Code{CodeNumber: strings.TrimSpace(string(c.Number)), CodeNotation: strings.TrimSpace(c.Notation)}
	}
	mh.DocumentId = strings.TrimSpace(doc.DocumentID)
	if mh.DocumentId == "" && mh.Code != nil && !promulgated.Time.IsZero() && from.OrganId != "" {
		mh.DocumentId = edxml.ComposeDocumentId(from.OrganId, promulgated.Time, mh.Code.CodeNumber, mh.Code.CodeNotation)
	}
	if t := doc.Type; t != nil {
		mh.DocumentType = &edxml.DocumentType{Type: string(t.Code), TypeDetail: string(t.Detail), TypeName: t.Name}
	}
	mh.Subject = strings.TrimSpace(doc.Subject)
	if mh.Subject == "" {
		mh.Subject = strings.TrimSpace(meta.Title)
	}
	mh.Content = doc.Content
	if s := doc.Signer; s != nil {
		mh.SignerInfo = &edxml.SignerInfo{Competence: s.Competence, Position: s.Position, FullName: s.FullName}
	}
	due, err := date("due_date", doc.DueDate)
	if err != nil {
		return nil, err
	}
	mh.DueDate = due
	prio := string(doc.Priority)
	if prio == "" && meta.Importance != "" {
		prio = meta.Importance
		if code, ok := importancePriority[prio]; ok {
			prio = code
		}
	}
	oi := &edxml.OtherInfo{Priority: prio, SphereOfPromulgation: doc.SphereOfPromulgation, TyperNotation: doc.TyperNotation,
		PromulgationAmount: string(doc.PromulgationAmount), PageAmount: string(doc.PageAmount)}
	if len(doc.Appendixes) > 0 {
		oi.Appendixes = &edxml.Appendixes{Appendix: doc.Appendixes}
	}
	if oi.Priority != "" || oi.SphereOfPromulgation != "" || oi.TyperNotation != "" || oi.PromulgationAmount != "" || oi.PageAmount != "" || oi.Appendixes != nil {
		mh.OtherInfo = oi
	}
	mh.SteeringType = string(doc.SteeringType)
	if len(doc.ToPlaces) > 0 {
		mh.ToPlaces = &edxml.Places{Place: doc.ToPlaces}
	}
	for i, r := range doc.ResponseFor {
		d, err := date(fmt.Sprintf("response_for[%d].promulgation_date", i), r.PromulgationDate)
		if err != nil {
			return nil, err
		}
		mh.ResponseFor = append(mh.ResponseFor, edxml.ResponseFor{OrganId: r.OrganID, Code: r.Code, PromulgationDate: d, DocumentId: r.DocumentID})
	}
	now := meta.Now
	if now.IsZero() {
		now = time.Now()
	}
	bs := &edxml.Bussiness{BussinessDocType: string(edxml.DocNew), Paper: "0"}
	if b := doc.Business; b != nil {
		if b.Type != "" {
			bs.BussinessDocType = string(b.Type)
		}
		if b.Paper != "" {
			bs.Paper = string(b.Paper)
		}
		bs.BussinessDocReason, bs.DocumentId = b.Reason, b.DocumentID
	}
	p.Envelope.Header.TraceHeaderList = &edxml.TraceHeaderList{
		TraceHeader: []edxml.TraceHeader{{OrganId: from.OrganId, Timestamp: edxml.NewDateTime(now)}},
		Bussiness:   bs,
	}
	man := &edxml.Manifest{}
	for i, f := range doc.Files {
		name := strings.TrimSpace(f.Name)
		if name == "" {
			return nil, badf("files[%d].name is required", i)
		}
		if open == nil {
			return nil, badf("files[%d]: attachments are not supported here", i)
		}
		mt := strings.TrimSpace(f.MediaType)
		if mt == "" {
			mt = "application/octet-stream"
		}
		cid := "cid:" + strconv.Itoa(i+1)
		man.Reference = append(man.Reference, edxml.Reference{ContentId: cid, ContentType: mt, AttachmentName: name, Description: f.Description})
		p.Attachments = append(p.Attachments, &edxml.Attachment{ContentId: cid, AttachmentName: name, ContentType: mt, Description: f.Description, Open: open(i)})
	}
	man.Attrs = []xml.Attr{{Name: xml.Name{Local: "version"}, Value: "1.0"}}
	p.Envelope.Body = &edxml.Body{Manifest: man}
	return p, nil
}

func (o Organ) org() edxml.Organization {
	return edxml.Organization{OrganId: strings.TrimSpace(o.OrganID), OrganName: o.OrganName, OrganizationInCharge: o.OrganizationInCharge,
		OrganAdd: o.Address, Email: o.Email, Telephone: o.Telephone, Fax: o.Fax, Website: o.Website}
}

// date parses a date field in any form edXML accepts; the time of day is
// dropped.
func date(field, s string) (edxml.Date, error) {
	if strings.TrimSpace(s) == "" {
		return edxml.Date{}, nil
	}
	d, _, err := edxml.ParseDate(s)
	if err != nil {
		return edxml.Date{}, badf("%s: %v", field, err)
	}
	return edxml.NewDate(d.Time), nil
}

// DefaultMaxHeaderBytes bounds the JSON of a document outside the files'
// content (PacketFromJSON).
const DefaultMaxHeaderBytes = 4 << 20

// PacketFromJSON reads a JSON Document from open() and maps it with meta
// into an edXML document packet. Every files[].content_base64 is checked
// (valid base64) in this pass without being kept; the packet's attachments
// re-read the JSON from open() when edxml.Build writes them, so memory
// stays bounded whatever the files' sizes. Errors about the content are
// plain errors whose text names the field (files[1].content_base64 …).
func PacketFromJSON(open func() (io.ReadCloser, error), meta Meta) (*edxml.Packet, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	sc := &scanner{r: newCountingReader(rc), max: DefaultMaxHeaderBytes}
	err = sc.document()
	rc.Close()
	if err != nil {
		return nil, err
	}
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(sc.skel))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, badf("JSON document: %s", decodeProblem(err))
	}
	spans := make([]span, len(doc.Files))
	for i, f := range doc.Files {
		k, ok := strings.CutPrefix(f.ContentBase64, placeholder)
		n, err := strconv.Atoi(k)
		if !ok || err != nil || n < 0 || n >= len(sc.spans) {
			return nil, badf("files[%d].content_base64 is required (a base64 string)", i)
		}
		spans[i] = sc.spans[n]
	}
	return doc.Packet(meta, func(i int) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return openSpan(open, spans[i]) }
	})
}

// decodeProblem describes an encoding/json error without the text it quotes
// (unknown field names, number literals): error details reach the ledger
// and the logs, which never hold payload text (R2).
func decodeProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: a JSON %s where a %s is expected", fieldName(te.Field), jsonKind(te.Value), te.Type.Kind())
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if u, uerr := strconv.Unquote(name); uerr == nil {
			name = u
		}
		return fmt.Sprintf("an unknown field (%s); docs/edxml.md lists the fields", edxml.ValueRef(name))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the document ends too early"
	}
	return "not a JSON document of the expected shape"
}

// fieldName keeps a Go decoder field path only if it is made of known
// names (the decoder names the struct fields, never values).
func fieldName(f string) string {
	if f == "" {
		return "(top level)"
	}
	return f
}

// jsonKind is the first word of UnmarshalTypeError.Value ("number 1e999"
// → "number"): the rest is the literal.
func jsonKind(v string) string {
	k, _, _ := strings.Cut(v, " ")
	return k
}
