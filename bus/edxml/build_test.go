package edxml

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/test/testenv"
)

var promulgated = time.Date(2025, 3, 14, 0, 0, 0, 0, VN)

func org(id, name string) Organization {
	return Organization{OrganId: id, OrganName: name, OrganizationInCharge: name}
}

func content(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

// newDocument returns a document packet of the given business type with
// the conditional parts that type needs.
func newDocument(bt BusinessDocType) *Packet {
	from := org("000.00.00.H60", "UBND tỉnh Tuyên Quang")
	p := &Packet{}
	mh := &p.Envelope.Header.MessageHeader
	mh.From = &from
	mh.To = []Organization{org("000.00.01.H60", "Văn phòng UBND tỉnh"), org("H60.DN.001", "Sở Khoa học và Công nghệ")}
	mh.Code = &Code{CodeNumber: "123", CodeNotation: "UBND-VP"}
	mh.DocumentId = ComposeDocumentId(from.OrganId, promulgated, "123", "UBND-VP")
	mh.PromulgationInfo = &PromulgationInfo{Place: "Tuyên Quang", PromulgationDate: NewDate(promulgated)}
	mh.DocumentType = &DocumentType{Type: "1", TypeDetail: "0", TypeName: "Công văn"}
	mh.Subject = "V/v thử nghiệm liên thông <edXML> & ký tự đặc biệt"
	mh.SignerInfo = &SignerInfo{Competence: "KT. CHỦ TỊCH", Position: "Phó Chủ tịch", FullName: "Nguyễn Văn A"}
	mh.DueDate = NewDate(promulgated.AddDate(0, 0, 10))
	mh.OtherInfo = &OtherInfo{Priority: "1", PageAmount: "2", PromulgationAmount: "3", Appendixes: &Appendixes{Appendix: []string{"Phụ lục I"}}}
	mh.SteeringType = "0"
	mh.ToPlaces = &Places{Place: []string{"Như trên", "Lưu: VT"}}
	p.Envelope.Header.TraceHeaderList = &TraceHeaderList{
		TraceHeader: []TraceHeader{{OrganId: from.OrganId, Timestamp: NewDateTime(promulgated.Add(9 * time.Hour))}},
		Bussiness:   &Bussiness{BussinessDocType: string(bt), BussinessDocReason: CodeLabel("BussinessDocType", string(bt)), Paper: "0"},
	}
	bs := p.Envelope.Header.TraceHeaderList.Bussiness
	switch bt {
	case DocRevoke:
		mh.ResponseFor = []ResponseFor{{OrganId: from.OrganId, Code: "100/UBND-VP", PromulgationDate: NewDate(promulgated.AddDate(0, -1, 0)), DocumentId: "000.00.00.H60,2025/02/14,100/UBND-VP"}}
	case DocUpdate:
		bs.DocumentId = "000.00.00.H60,2025/02/14,100/UBND-VP"
		bs.BussinessDocumentInfo = &BussinessDocumentInfo{DocumentInfo: "1", DocumentReceiver: "1", ReceiverList: &ReceiverList{Receiver: []Receiver{{OrganId: "000.00.01.H60", ReceiverType: "0"}}}}
	case DocReplace:
		bs.ReplacementInfoList = &ReplacementInfoList{ReplacementInfo: []ReplacementInfo{{DocumentId: "000.00.00.H60,2025/02/14,100/UBND-VP", OrganIdList: &OrganIdList{OrganId: []string{"000.00.01.H60"}}}}}
	}
	p.Envelope.Body = &Body{Manifest: &Manifest{Attrs: nil, Reference: []Reference{
		{ContentId: "cid:1", ContentType: "text/plain", AttachmentName: "noi-dung.txt", Description: "Nội dung"},
	}}}
	p.Attachments = []*Attachment{{ContentId: "cid:1", AttachmentName: "noi-dung.txt", ContentType: "text/plain", Open: content("Xin chào Tuyên Quang\n")}}
	return p
}

func buildBytes(t testing.TB, p *Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// generated returns every kind of packet we emit, by name.
func generated(t testing.TB) map[string]*Packet {
	out := map[string]*Packet{}
	for _, bt := range []BusinessDocType{DocNew, DocRevoke, DocUpdate, DocReplace} {
		out["document-"+string(bt)] = newDocument(bt)
	}
	doc := newDocument(DocNew)
	for code := range stdRules.CodeLists["StatusCode"] {
		st, err := StatusFor(doc, StatusCode(code), org("000.00.01.H60", "Văn phòng UBND tỉnh"), promulgated.Add(30*time.Hour), "Mô tả "+code)
		if err != nil {
			t.Fatal(err)
		}
		st.Envelope.Header.MessageHeader.StaffInfo = &StaffInfo{Staff: "Trần Thị B", Department: "Văn thư"}
		out["status-"+code] = st
	}
	return out
}

func TestGeneratedPacketsValidate(t *testing.T) {
	for name, p := range generated(t) {
		t.Run(name, func(t *testing.T) {
			raw := buildBytes(t, p)
			q, err := Parse(bytes.NewReader(raw), nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			for _, i := range Validate(q) {
				if i.Severity == SeverityError || i.Code != CodeIdentifier {
					t.Errorf("unexpected issue: %v", i)
				}
			}
			if q.Kind() != p.Kind() || q.Business() != p.Business() {
				t.Errorf("kind/business changed: %v/%v", q.Kind(), q.Business())
			}
		})
	}
}

func TestStatusFor(t *testing.T) {
	doc := newDocument(DocNew)
	at := time.Date(2025, 3, 15, 8, 30, 5, 0, VN)
	st, err := StatusFor(doc, StatusAccepted, org("000.00.01.H60", "VP"), at, "Đã vào sổ")
	if err != nil {
		t.Fatal(err)
	}
	rf := st.Envelope.Header.MessageHeader.ResponseFor[0]
	if rf.OrganId != "000.00.00.H60" || rf.Code != "123/UBND-VP" || rf.PromulgationDate.String() != "2025/03/14" || rf.DocumentId != "000.00.00.H60,2025/03/14,123/UBND-VP" {
		t.Errorf("ResponseFor = %+v", rf)
	}
	if st.Kind() != KindStatus || st.Envelope.Header.MessageHeader.Timestamp.String() != "2025/03/15 08:30:05" {
		t.Errorf("status packet: kind %v timestamp %s", st.Kind(), st.Envelope.Header.MessageHeader.Timestamp)
	}
	if _, err := StatusFor(st, StatusAccepted, Organization{}, at, ""); err == nil {
		t.Error("StatusFor a status packet: want an error")
	}
}

// xmllint runs the real libxml2 validator; the test fails (never skips)
// when xmllint is missing: test/run.sh installs libxml2-utils.
func xmllint(t *testing.T, file string) (bool, string) {
	t.Helper()
	bin := testenv.RequireTool(t, "xmllint")
	xsd, err := filepath.Abs("../../xsd/edxml.xsd")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", xsd, file).CombinedOutput()
	return err == nil, string(out)
}

func TestXSDGenerated(t *testing.T) {
	dir := t.TempDir()
	for name, p := range generated(t) {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, name+".edxml")
			if err := os.WriteFile(f, buildBytes(t, p), 0o600); err != nil {
				t.Fatal(err)
			}
			if ok, out := xmllint(t, f); !ok {
				t.Fatalf("xmllint rejected our packet:\n%s", out)
			}
		})
	}
}

// TestXSDFixtures: every well-formed fixture validates against the schema;
// the broken one is rejected by the XML parser itself.
func TestXSDFixtures(t *testing.T) { xsdCorpus(t, fixtures(t), "doc_broken.edxml") }

// TestXSDExternalSamples: the same over the official samples, when
// LGSP_EXTERNAL_EDXML_SAMPLES names their folder.
func TestXSDExternalSamples(t *testing.T) {
	xsdCorpus(t, testenv.ExternalEdXMLSamples(t), externalBroken)
}

func xsdCorpus(t *testing.T, files []string, broken string) {
	testenv.RequireTool(t, "xmllint") // once, before the subtests
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			ok, out := xmllint(t, f)
			if want := name != broken; ok != want {
				t.Fatalf("xmllint ok=%v, want %v:\n%s", ok, want, out)
			}
		})
	}
}

// TestXSDRejects makes sure the schema is not a rubber stamp.
func TestXSDRejects(t *testing.T) {
	good := string(buildBytes(t, generated(t)["status-03"]))
	doc := string(buildBytes(t, newDocument(DocNew)))
	tests := []struct{ name, in string }{
		{"unknown status code", strings.Replace(good, "<StatusCode>03</StatusCode>", "<StatusCode>99</StatusCode>", 1)},
		{"bad date", strings.Replace(good, "<Timestamp>2025/03", "<Timestamp>hôm qua 2025/03", 1)},
		{"no From", strings.Replace(strings.Replace(good, "<From>", "<Note xmlns=\"urn:x\">", 1), "</From>", "</Note>", 1)},
		{"bad priority", strings.Replace(doc, "<Priority>1</Priority>", "<Priority>9</Priority>", 1)},
		{"bad base64", strings.Replace(doc, "<ContentTransferEncoded>", "<ContentTransferEncoded>A===", 1)},
		{"unknown edXML element", strings.Replace(good, "<StatusCode>", "<Bogus>x</Bogus><StatusCode>", 1)},
		{"To without OrganId", strings.Replace(doc, "<OrganId>000.00.01.H60</OrganId>", "", 1)},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in == good || tt.in == doc {
				t.Fatal("test case did not change the packet")
			}
			f := filepath.Join(dir, itoa(i)+".edxml")
			if err := os.WriteFile(f, []byte(tt.in), 0o600); err != nil {
				t.Fatal(err)
			}
			if ok, out := xmllint(t, f); ok {
				t.Fatalf("xmllint accepted an invalid packet:\n%s", out)
			}
		})
	}
}

func TestBuildSanitisesText(t *testing.T) {
	p := newDocument(DocNew)
	p.Envelope.Header.MessageHeader.Subject = "a\x00b\x1fc\xffd"
	q, err := Parse(bytes.NewReader(buildBytes(t, p)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Envelope.Header.MessageHeader.Subject; got != "a\uFFFDb\uFFFDc\uFFFDd" {
		t.Errorf("Subject = %q", got)
	}
}
