package edxml

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// NS is the namespace of every edXML element.
const NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// DSigNS is the XML-DSig namespace a proper Signature element uses.
const DSigNS = "http://www.w3.org/2000/09/xmldsig#"

// XLinkNS is the XLink namespace used by some producers on Reference.
const XLinkNS = "http://www.w3.org/1999/xlink"

// Kind tells a document packet from a status packet.
type Kind int

// The packet kinds.
const (
	KindDocument Kind = iota // gói tin văn bản
	KindStatus               // gói tin trạng thái
)

func (k Kind) String() string {
	if k == KindStatus {
		return "status"
	}
	return "document"
}

// BusinessDocType is the value of Bussiness/BussinessDocType.
type BusinessDocType string

// The business document types (docs/edxml.md).
const (
	DocNew     BusinessDocType = "0" // văn bản mới
	DocRevoke  BusinessDocType = "1" // thu hồi
	DocUpdate  BusinessDocType = "2" // cập nhật
	DocReplace BusinessDocType = "3" // thay thế
)

// StatusCode is the two-digit business status of a status packet.
type StatusCode string

// The status codes seen on the national axis (docs/edxml.md).
const (
	StatusArrived         StatusCode = "01" // đã đến
	StatusRejected        StatusCode = "02" // từ chối tiếp nhận
	StatusAccepted        StatusCode = "03" // tiếp nhận, vào sổ
	StatusAssigned        StatusCode = "04" // phân công xử lý
	StatusProcessing      StatusCode = "05" // đang xử lý
	StatusFinished        StatusCode = "06" // hoàn thành
	StatusTakeBackRequest StatusCode = "13" // yêu cầu lấy lại (sender)
	StatusChangeAccepted  StatusCode = "15" // đồng ý cập nhật / lấy lại
	StatusChangeRejected  StatusCode = "16" // từ chối cập nhật / lấy lại
)

// Packet is one edXML file: the envelope plus the attachments' metadata.
// Code-like fields (StatusCode, Priority, BussinessDocType, …) keep the wire
// string so that unknown or malformed values survive a round trip and are
// reported by Validate with their position.
type Packet struct {
	Attrs    []xml.Attr `edxml:",attrs"`
	Envelope Envelope   `edxml:"edXMLEnvelope"`
	Extra    []*Node    `edxml:",any"`

	// Attachments lists AttachmentEncoded/Attachment in document order.
	Attachments []*Attachment `edxml:"-"`
	// AttachmentExtra keeps unknown children of AttachmentEncoded.
	AttachmentExtra []*Node `edxml:"-"`

	pos    map[string]Pos // element path → position, from Parse
	issues []Issue        // non-fatal findings of Parse
	spool  []string       // spool files to remove in Cleanup
}

// Envelope is edXMLEnvelope.
type Envelope struct {
	Attrs  []xml.Attr `edxml:",attrs"`
	Header Header     `edxml:"edXMLHeader"`
	Body   *Body      `edxml:"edXMLBody"`
	Extra  []*Node    `edxml:",any"`
}

// Header is edXMLHeader.
type Header struct {
	Attrs           []xml.Attr       `edxml:",attrs"`
	MessageHeader   MessageHeader    `edxml:"MessageHeader"`
	TraceHeaderList *TraceHeaderList `edxml:"TraceHeaderList"`
	// Signature is kept verbatim, whatever its namespace (the SDK samples
	// carry a placeholder in the edXML namespace).
	Signature *Node   `edxml:"Signature,raw"`
	Extra     []*Node `edxml:",any"`
}

// MessageHeader carries the document metadata of a document packet, or the
// status of a status packet (both use the same element).
type MessageHeader struct {
	Attrs            []xml.Attr        `edxml:",attrs"`
	From             *Organization     `edxml:"From"`
	To               []Organization    `edxml:"To"`
	DocumentId       string            `edxml:"DocumentId"`
	Code             *Code             `edxml:"Code"`
	PromulgationInfo *PromulgationInfo `edxml:"PromulgationInfo"`
	DocumentType     *DocumentType     `edxml:"DocumentType"`
	Subject          string            `edxml:"Subject"`
	Content          string            `edxml:"Content"`
	SignerInfo       *SignerInfo       `edxml:"SignerInfo"`
	DueDate          Date              `edxml:"DueDate"`
	OtherInfo        *OtherInfo        `edxml:"OtherInfo"`
	SteeringType     string            `edxml:"SteeringType"`
	ToPlaces         *Places           `edxml:"ToPlaces"`
	ResponseFor      []ResponseFor     `edxml:"ResponseFor"`
	// Status packet fields.
	StaffInfo   *StaffInfo `edxml:"StaffInfo"`
	StatusCode  string     `edxml:"StatusCode"`
	Description string     `edxml:"Description"`
	Timestamp   Date       `edxml:"Timestamp"`
	Extra       []*Node    `edxml:",any"`
}

// Organization is From, To and the organisation parts of other elements.
type Organization struct {
	OrganId              string  `edxml:"OrganId"`
	OrganizationInCharge string  `edxml:"OrganizationInCharge"`
	OrganName            string  `edxml:"OrganName"`
	OrganAdd             string  `edxml:"OrganAdd"`
	Email                string  `edxml:"Email"`
	Telephone            string  `edxml:"Telephone"`
	Fax                  string  `edxml:"Fax"`
	Website              string  `edxml:"Website"`
	Extra                []*Node `edxml:",any"`
}

// Code is số (CodeNumber) and ký hiệu (CodeNotation).
type Code struct {
	CodeNumber   string  `edxml:"CodeNumber"`
	CodeNotation string  `edxml:"CodeNotation"`
	Extra        []*Node `edxml:",any"`
}

// String returns "number/notation" as ResponseFor/Code writes it.
func (c *Code) String() string {
	if c == nil {
		return ""
	}
	if c.CodeNotation == "" {
		return c.CodeNumber
	}
	return c.CodeNumber + "/" + c.CodeNotation
}

// PromulgationInfo is the place and date of issue.
type PromulgationInfo struct {
	Place            string  `edxml:"Place"`
	PromulgationDate Date    `edxml:"PromulgationDate"`
	Extra            []*Node `edxml:",any"`
}

// DocumentType is the kind of document (Type code, detail, name).
type DocumentType struct {
	Type       string  `edxml:"Type"`
	TypeDetail string  `edxml:"TypeDetail"`
	TypeName   string  `edxml:"TypeName"`
	Extra      []*Node `edxml:",any"`
}

// SignerInfo names who signed the document.
type SignerInfo struct {
	Competence string  `edxml:"Competence"`
	Position   string  `edxml:"Position"`
	FullName   string  `edxml:"FullName"`
	Extra      []*Node `edxml:",any"`
}

// OtherInfo holds priority, circulation and counts.
type OtherInfo struct {
	Priority             string      `edxml:"Priority"`
	SphereOfPromulgation string      `edxml:"SphereOfPromulgation"`
	TyperNotation        string      `edxml:"TyperNotation"`
	PromulgationAmount   string      `edxml:"PromulgationAmount"`
	PageAmount           string      `edxml:"PageAmount"`
	Direction            string      `edxml:"Direction"`
	Appendixes           *Appendixes `edxml:"Appendixes"`
	Extra                []*Node     `edxml:",any"`
}

// Appendixes lists appendix titles.
type Appendixes struct {
	Appendix []string `edxml:"Appendix"`
	Extra    []*Node  `edxml:",any"`
}

// Places is ToPlaces ("Nơi nhận" lines).
type Places struct {
	Place []string `edxml:"Place"`
	Extra []*Node  `edxml:",any"`
}

// ResponseFor points at another document: the revoked one in a revocation,
// the one a status is about in a status packet.
type ResponseFor struct {
	OrganId          string  `edxml:"OrganId"`
	Code             string  `edxml:"Code"`
	PromulgationDate Date    `edxml:"PromulgationDate"`
	DocumentId       string  `edxml:"DocumentId"`
	Extra            []*Node `edxml:",any"`
}

// StaffInfo names the clerk handling the packet.
type StaffInfo struct {
	Department string  `edxml:"Department"`
	Staff      string  `edxml:"Staff"`
	Mobile     string  `edxml:"Mobile"`
	Email      string  `edxml:"Email"`
	Extra      []*Node `edxml:",any"`
}

// TraceHeaderList is the hop log plus the Bussiness block.
type TraceHeaderList struct {
	Attrs       []xml.Attr    `edxml:",attrs"`
	TraceHeader []TraceHeader `edxml:"TraceHeader"`
	Bussiness   *Bussiness    `edxml:"Bussiness"`
	Extra       []*Node       `edxml:",any"`
}

// TraceHeader is one hop.
type TraceHeader struct {
	OrganId   string  `edxml:"OrganId"`
	Timestamp Date    `edxml:"Timestamp"`
	Extra     []*Node `edxml:",any"`
}

// Bussiness (sic) says whether the packet is new, revokes, updates or
// replaces a document.
type Bussiness struct {
	DocumentId            string                 `edxml:"DocumentId"`
	BussinessDocType      string                 `edxml:"BussinessDocType"`
	BussinessDocReason    string                 `edxml:"BussinessDocReason"`
	Paper                 string                 `edxml:"Paper"`
	StaffInfo             *StaffInfo             `edxml:"StaffInfo"`
	BussinessDocumentInfo *BussinessDocumentInfo `edxml:"BussinessDocumentInfo"`
	ReplacementInfoList   *ReplacementInfoList   `edxml:"ReplacementInfoList"`
	Extra                 []*Node                `edxml:",any"`
}

// BussinessDocumentInfo describes an update (BussinessDocType 2).
type BussinessDocumentInfo struct {
	DocumentInfo     string        `edxml:"DocumentInfo"`
	DocumentReceiver string        `edxml:"DocumentReceiver"`
	ReceiverList     *ReceiverList `edxml:"ReceiverList"`
	Extra            []*Node       `edxml:",any"`
}

// ReceiverList lists receivers affected by an update.
type ReceiverList struct {
	Receiver []Receiver `edxml:"Receiver"`
	Extra    []*Node    `edxml:",any"`
}

// Receiver is one receiver of an update.
type Receiver struct {
	OrganId      string  `edxml:"OrganId"`
	ReceiverType string  `edxml:"ReceiverType"`
	Extra        []*Node `edxml:",any"`
}

// ReplacementInfoList describes a replacement (BussinessDocType 3).
type ReplacementInfoList struct {
	ReplacementInfo []ReplacementInfo `edxml:"ReplacementInfo"`
	Extra           []*Node           `edxml:",any"`
}

// ReplacementInfo names one replaced document and who received it.
type ReplacementInfo struct {
	DocumentId  string       `edxml:"DocumentId"`
	OrganIdList *OrganIdList `edxml:"OrganIdList"`
	Extra       []*Node      `edxml:",any"`
}

// OrganIdList is a list of organisation identifiers.
type OrganIdList struct {
	OrganId []string `edxml:"OrganId"`
	Extra   []*Node  `edxml:",any"`
}

// Body is edXMLBody.
type Body struct {
	Attrs    []xml.Attr `edxml:",attrs"`
	Manifest *Manifest  `edxml:"edXMLManifest"`
	Extra    []*Node    `edxml:",any"`
}

// Manifest is edXMLManifest: one Reference per attachment.
type Manifest struct {
	Attrs     []xml.Attr  `edxml:",attrs"`
	Reference []Reference `edxml:"Reference"`
	Extra     []*Node     `edxml:",any"`
}

// Reference describes one attachment in the manifest.
type Reference struct {
	Attrs          []xml.Attr `edxml:",attrs"`
	ContentId      string     `edxml:"ContentId"`
	ContentType    string     `edxml:"ContentType"`
	Description    string     `edxml:"Description"`
	AttachmentName string     `edxml:"AttachmentName"`
	Extra          []*Node    `edxml:",any"`
}

// Attachment is one AttachmentEncoded/Attachment. Parse fills Size, SHA256
// and Zip from the decoded bytes (and SpoolPath/Open when spooling); Build
// reads the content from Open.
type Attachment struct {
	Attrs          []xml.Attr
	ContentId      string
	AttachmentName string
	Description    string
	ContentType    string
	Extra          []*Node

	Size      int64  // decoded size in bytes
	SHA256    string // lower-case hex of the decoded bytes
	Zip       bool   // decoded bytes start with a ZIP local header
	SpoolPath string // set when Options.SpoolDir is used
	// Open returns the decoded content; Build base64-encodes it while
	// writing. Parse sets it when the attachment was spooled.
	Open func() (io.ReadCloser, error)

	pos     Pos
	leafPos []leafPos // positions of the metadata children, from Parse
}

type leafPos struct {
	name string
	pos  Pos
}

// AttachmentMeta is what the sink learns about an attachment before its
// content: the Attachment children that precede ContentTransferEncoded,
// completed from the matching manifest Reference.
type AttachmentMeta struct {
	Index          int // 0-based position in AttachmentEncoded
	ContentId      string
	AttachmentName string
	Description    string
	ContentType    string
	Line, Col      int // position of ContentTransferEncoded
}

// Kind reports whether p is a status packet (it has a StatusCode, or it has
// no body and no document Code) or a document packet.
func (p *Packet) Kind() Kind {
	mh := &p.Envelope.Header.MessageHeader
	if mh.StatusCode != "" {
		return KindStatus
	}
	if p.Envelope.Body == nil && mh.Code == nil && len(mh.ResponseFor) > 0 {
		return KindStatus
	}
	return KindDocument
}

// Business returns the BussinessDocType, or DocNew when the packet has no
// Bussiness block (the minimal VNPT output omits it).
func (p *Packet) Business() BusinessDocType {
	if t := p.Envelope.Header.TraceHeaderList; t != nil && t.Bussiness != nil && t.Bussiness.BussinessDocType != "" {
		return BusinessDocType(t.Bussiness.BussinessDocType)
	}
	return DocNew
}

// Cleanup removes the spool files Parse created for p.
func (p *Packet) Cleanup() error {
	var first error
	for _, f := range p.spool {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) && first == nil {
			first = err
		}
	}
	p.spool = nil
	return first
}

// ComposeDocumentId builds a DocumentId the way docs/edxml.md says:
// "<issuer OrganId>,<yyyy/MM/dd>,<CodeNumber>/<CodeNotation>". Receivers must
// treat a received DocumentId as opaque (some producers put a UUID there);
// use Key for matching.
func ComposeDocumentId(organId string, promulgated time.Time, number, notation string) string {
	code := number
	if notation != "" {
		code += "/" + notation
	}
	return organId + "," + promulgated.Format(dateLayout) + "," + code
}

// DocKey identifies a document without trusting DocumentId: the issuer, the
// "number/notation" and the promulgation date.
type DocKey struct {
	OrganId string
	Code    string
	Date    string // yyyy/MM/dd
}

func (k DocKey) String() string { return k.OrganId + "|" + k.Code + "|" + k.Date }

// Key returns the document's DocKey (From/OrganId, Code, PromulgationDate).
func (p *Packet) Key() DocKey {
	mh := &p.Envelope.Header.MessageHeader
	var k DocKey
	if mh.From != nil {
		k.OrganId = mh.From.OrganId
	}
	k.Code = mh.Code.String()
	if mh.PromulgationInfo != nil {
		k.Date = mh.PromulgationInfo.PromulgationDate.DateString()
	}
	return k
}

// Date is an edXML date or date-time. Parse accepts the forms seen in the
// wild (yyyy/MM/dd, dd/MM/yyyy, yyyy-MM-dd, each with an optional
// " HH:mm:ss" or "THH:mm:ss"); String writes the canonical yyyy/MM/dd or
// yyyy/MM/dd HH:mm:ss. A value that does not parse is kept in Raw and
// written back unchanged. Times are Vietnam local time (UTC+7).
type Date struct {
	Time    time.Time
	HasTime bool
	Raw     string // set only when the text did not parse
}

// VN is the zone edXML dates are read in (no zone is written on the wire).
var VN = time.FixedZone("ICT", 7*3600)

const (
	dateLayout     = "2006/01/02"
	dateTimeLayout = "2006/01/02 15:04:05"
)

var dateLayouts = []struct {
	layout   string
	hasTime  bool
	standard bool
}{
	{"2006/01/02", false, true},
	{"2006/01/02 15:04:05", true, true},
	{"2006/1/2", false, false},
	{"2006/1/2 15:04:05", true, false},
	{"2/1/2006", false, false},
	{"2/1/2006 15:04:05", true, false},
	{"2006-1-2", false, false},
	{"2006-1-2 15:04:05", true, false},
	{"2006-1-2T15:04:05", true, false},
}

// ParseDate parses s in any accepted form. canonical reports whether s was
// already in the canonical form.
func ParseDate(s string) (d Date, canonical bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Date{}, true, nil
	}
	for _, l := range dateLayouts {
		t, err := time.ParseInLocation(l.layout, s, VN)
		if err == nil {
			return Date{Time: t, HasTime: l.hasTime}, l.standard, nil
		}
	}
	return Date{Raw: s}, false, fmt.Errorf("date (%s) is not in an accepted form (yyyy/MM/dd[ HH:mm:ss], dd/MM/yyyy, yyyy-MM-dd)", ValueRef(s))
}

// NewDate returns a date without time of day.
func NewDate(t time.Time) Date {
	t = t.In(VN)
	return Date{Time: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, VN)}
}

// NewDateTime returns a date-time truncated to the second.
func NewDateTime(t time.Time) Date {
	return Date{Time: t.In(VN).Truncate(time.Second), HasTime: true}
}

// IsZero reports whether d is absent.
func (d Date) IsZero() bool { return d.Time.IsZero() && d.Raw == "" }

// String returns the canonical wire form (or Raw for an unparsable value).
func (d Date) String() string {
	switch {
	case d.Time.IsZero():
		return d.Raw
	case d.HasTime:
		return d.Time.In(VN).Format(dateTimeLayout)
	default:
		return d.Time.In(VN).Format(dateLayout)
	}
}

// DateString returns only the yyyy/MM/dd part.
func (d Date) DateString() string {
	if d.Time.IsZero() {
		return d.Raw
	}
	return d.Time.In(VN).Format(dateLayout)
}

// Equal reports whether two dates denote the same value.
func (d Date) Equal(o Date) bool {
	return d.HasTime == o.HasTime && d.Raw == o.Raw && d.Time.Equal(o.Time)
}

// Pos is a 1-based line and column (in bytes) in the packet.
type Pos struct{ Line, Col int }

// Node is an element kept as it was read: unknown elements, the Signature,
// and the tree Validate walks.
type Node struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Text     string // character data; whitespace-only text is dropped when the element has children
	Children []*Node
	Pos      Pos
}

// IsEmpty reports whether n has no text, no children and no attributes, i.e.
// it counts as absent.
func (n *Node) IsEmpty() bool {
	return n == nil || (strings.TrimSpace(n.Text) == "" && len(n.Children) == 0 && len(n.Attrs) == 0)
}

// Child returns the first child with the local name, or nil.
func (n *Node) Child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name.Local == local {
			return c
		}
	}
	return nil
}
