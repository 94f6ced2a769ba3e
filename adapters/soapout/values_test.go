package soapout

import (
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/store"
)

type item struct {
	Name string
	Data []byte
}

type request struct {
	XMLName xml.Name `xml:"urn:t Req"`
	ID      string
	Level   int32
	Urgent  bool
	Body    []byte
	Number  *string
	Items   []*item
	Created string
}

const packet = `<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
  <edXMLEnvelope><edXMLHeader><MessageHeader>
    <From><OrganId>000.00.20.H60</OrganId><OrganName>Sở Nội vụ</OrganName></From>
    <Code><CodeNumber>12</CodeNumber><CodeNotation>SNV-VP</CodeNotation></Code>
    <Subject>Tờ trình</Subject>
  </MessageHeader></edXMLHeader><edXMLBody/></edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment><ContentId>a1</ContentId><AttachmentName>to-trinh.pdf</AttachmentName><ContentType>application/pdf</ContentType><ContentTransferEncoded>` + "JVBERi0=" + `</ContentTransferEncoded></Attachment>
  </AttachmentEncoded>
</edXML>`

func TestPushMap(t *testing.T) {
	b := Binding{NewRequest: func() any { return new(request) }}
	created := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	doc := &Doc{Exchange: store.Exchange{ID: "ex-1", Importance: "very-urgent", CreatedAt: created}, Recipient: "000.00.21.H60", Content: []byte(packet)}
	maps := []soap.FieldMap{
		{Field: "ID", Source: "exchange_id"}, {Field: "Level", Source: "priority"}, {Field: "Urgent", Source: "urgent"},
		{Field: "Body", Source: "content"}, {Field: "Number", Source: "edxml:Code/CodeNumber"}, {Field: "Created", Source: "created_at"},
		{Field: "Items[].Name", Source: "attachment.name"}, {Field: "Items[].Data", Source: "attachment.content"},
	}
	v, err := Map(b, maps, doc)
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*request)
	body, _ := base64.StdEncoding.DecodeString(string(r.Body))
	if r.ID != "ex-1" || r.Level != 2 || !r.Urgent || string(body) != packet || r.Number == nil || *r.Number != "12" || r.Created != "2026-03-01T02:00:00Z" {
		t.Fatalf("%+v", r)
	}
	if len(r.Items) != 1 || r.Items[0].Name != "to-trinh.pdf" || string(r.Items[0].Data) != "JVBERi0=" {
		t.Fatalf("items %+v", r.Items)
	}
	out, _ := xml.Marshal(r)
	if !strings.Contains(string(out), "<Data>JVBERi0=</Data>") {
		t.Fatalf("base64Binary must be written as base64 text: %s", out)
	}

	// Errors name the field and its line.
	_, err = Map(b, []soap.FieldMap{{Field: "Level", Source: "title", Line: 7}}, &Doc{Exchange: store.Exchange{Title: "không phải số"}})
	if err == nil || !strings.Contains(err.Error(), "Level (line 7)") {
		t.Fatalf("error %v", err)
	}
	_, err = Map(b, []soap.FieldMap{{Field: "Nope", Source: "title"}}, doc)
	if err == nil || !strings.Contains(err.Error(), "has no field Nope") {
		t.Fatalf("error %v", err)
	}
	_, err = Map(b, []soap.FieldMap{{Field: "ID", Source: "edxml:Subject"}}, &Doc{Content: []byte("not xml")})
	if err == nil || !strings.Contains(err.Error(), "not an edXML packet") {
		t.Fatalf("error %v", err)
	}
}
