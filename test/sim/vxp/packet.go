package vxpsim

import (
	"encoding/base64"
	"fmt"
	"html"
	"strings"
)

// SamplePacket returns a small edXML document packet (QCVN 102, the shape
// of the SDK's edoc_new.edxml, unsigned) from organ from to the organs to,
// with one attachment holding attachment.
func SamplePacket(from string, to []string, subject string, attachment []byte) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>` + html.EscapeString(from) + `</edXML:OrganId>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName>
        </edXML:From>
`)
	for _, t := range to {
		fmt.Fprintf(&b, `        <edXML:To>
          <edXML:OrganId>%s</edXML:OrganId>
          <edXML:OrganName>Đơn vị nhận %s</edXML:OrganName>
        </edXML:To>
`, html.EscapeString(t), html.EscapeString(t))
	}
	b.WriteString(`        <edXML:DocumentId>` + html.EscapeString(from) + `,2026/03/14,7816/VPCP-TTĐT</edXML:DocumentId>
        <edXML:Code>
          <edXML:CodeNumber>7816</edXML:CodeNumber>
          <edXML:CodeNotation>VPCP-TTĐT</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Hà Nội</edXML:Place>
          <edXML:PromulgationDate>2026/03/14</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>` + html.EscapeString(subject) + `</edXML:Subject>
        <edXML:SignerInfo>
          <edXML:Competence>KT. BỘ TRƯỞNG, CHỦ NHIỆM</edXML:Competence>
          <edXML:Position>Phó Chủ nhiệm</edXML:Position>
          <edXML:FullName>Nguyễn Văn A</edXML:FullName>
        </edXML:SignerInfo>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>` + html.EscapeString(from) + `</edXML:OrganId>
          <edXML:Timestamp>2026/03/14 09:26:53</edXML:Timestamp>
        </edXML:TraceHeader>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="cid:att1">
          <edXML:ContentId>att1</edXML:ContentId>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:AttachmentName>congvan.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentId>att1</ContentId>
      <ContentType>application/pdf</ContentType>
      <Description>Công văn</Description>
      <Format>base64</Format>
      <AttachmentName>congvan.pdf</AttachmentName>
      <Value>` + base64.StdEncoding.EncodeToString(attachment) + `</Value>
    </Attachment>
  </AttachmentEncoded>
</edXML>
`)
	return []byte(b.String())
}
