package edxml

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Inspect returns a readable summary of the packet header with bilingual
// labels (Vietnamese / English), one field per line, for `lgsp edoc inspect`.
func Inspect(p *Packet) string {
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			label += ":"
			pad := 36 - utf8.RuneCountInString(label)
			fmt.Fprintf(&b, "%s%s %s\n", label, strings.Repeat(" ", max(pad, 0)), value)
		}
	}
	org := func(o *Organization) string {
		if o == nil {
			return ""
		}
		s := o.OrganId
		if o.OrganName != "" {
			s += " — " + o.OrganName
		}
		return s
	}
	mh := &p.Envelope.Header.MessageHeader
	kind := p.Kind()
	if kind == KindStatus {
		line("Loại gói tin / Packet kind", "trạng thái / status")
	} else {
		bt := string(p.Business())
		line("Loại gói tin / Packet kind", "văn bản / document — "+labelled("BussinessDocType", bt))
	}
	line("Nơi gửi / From", org(mh.From))
	for _, t := range mh.To {
		line("Nơi nhận / To", org(&t))
	}
	line("Mã văn bản / DocumentId", mh.DocumentId)
	line("Số, ký hiệu / Number, notation", mh.Code.String())
	if pi := mh.PromulgationInfo; pi != nil {
		line("Nơi, ngày ban hành / Place, date", strings.Trim(pi.Place+", "+pi.PromulgationDate.String(), ", "))
	}
	if dt := mh.DocumentType; dt != nil {
		line("Loại văn bản / Document type", strings.TrimSpace(dt.TypeName+" ("+dt.Type+")"))
	}
	line("Trích yếu / Subject", mh.Subject)
	if s := mh.SignerInfo; s != nil {
		line("Người ký / Signer", strings.Trim(strings.Join([]string{s.Competence, s.Position, s.FullName}, ", "), ", "))
	}
	line("Hạn xử lý / Due date", mh.DueDate.String())
	if o := mh.OtherInfo; o != nil {
		line("Độ khẩn / Priority", labelled("Priority", o.Priority))
		line("Số trang / Pages", o.PageAmount)
	}
	line("Chỉ đạo / Steering", labelled("SteeringType", mh.SteeringType))
	for _, r := range mh.ResponseFor {
		line("Phản hồi cho / Response for", strings.Trim(strings.Join([]string{r.OrganId, r.Code, r.PromulgationDate.String(), r.DocumentId}, " · "), " ·"))
	}
	line("Mã trạng thái / Status", labelled("StatusCode", mh.StatusCode))
	line("Mô tả / Description", mh.Description)
	line("Thời điểm / Timestamp", mh.Timestamp.String())
	if mh.StaffInfo != nil {
		line("Cán bộ / Staff", strings.Trim(mh.StaffInfo.Staff+", "+mh.StaffInfo.Department, ", "))
	}
	if t := p.Envelope.Header.TraceHeaderList; t != nil {
		for _, h := range t.TraceHeader {
			line("Vết chuyển / Trace", strings.TrimSpace(h.OrganId+" "+h.Timestamp.String()))
		}
		if bs := t.Bussiness; bs != nil {
			line("Lý do / Business reason", bs.BussinessDocReason)
			line("Văn bản gốc / Business DocumentId", bs.DocumentId)
		}
	}
	if p.Envelope.Header.Signature != nil {
		line("Chữ ký / Signature", signatureLine(p.Envelope.Header.Signature, ""))
	}
	// `lgsp edoc sign` (and xmlsec1 templates placed there) put the
	// signature at the root or in the envelope, where the parser keeps it
	// among the unknown children.
	for _, n := range p.Envelope.Extra {
		if n.Name.Local == "Signature" {
			line("Chữ ký / Signature", signatureLine(n, ", trong edXMLEnvelope / in edXMLEnvelope"))
		}
	}
	for _, n := range p.Extra {
		if n.Name.Local == "Signature" {
			line("Chữ ký / Signature", signatureLine(n, ", ở gốc edXML / at the edXML root"))
		}
	}
	for i, a := range p.Attachments {
		desc := fmt.Sprintf("%s (%s, %d B", a.AttachmentName, a.ContentType, a.Size)
		if a.Zip {
			desc += ", zip"
		}
		if a.SHA256 != "" {
			desc += ", sha256 " + a.SHA256[:16] + "…"
		}
		line(fmt.Sprintf("Tệp đính kèm / Attachment %d", i+1), desc+")")
	}
	return b.String()
}

func labelled(list, code string) string {
	if code == "" {
		return ""
	}
	if l := CodeLabel(list, code); l != "" {
		return code + " (" + l + ")"
	}
	return code + " (?)"
}

// signatureLine describes a Signature element found at where.
func signatureLine(n *Node, where string) string {
	sig := "có / present" + where
	if n.Name.Space != DSigNS {
		sig += " (không thuộc xmldsig / not in the xmldsig namespace)"
	}
	return sig
}
