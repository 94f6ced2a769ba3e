package edxml

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Packet)
		code   IssueCode
		sev    Severity
		path   string
	}{
		{"missing From/OrganId", func(p *Packet) { p.Envelope.Header.MessageHeader.From.OrganId = "" }, CodeRequired, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId"},
		{"To without OrganId", func(p *Packet) { p.Envelope.Header.MessageHeader.To[1].OrganId = "" }, CodeRequired, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]/OrganId"},
		{"no Subject", func(p *Packet) { p.Envelope.Header.MessageHeader.Subject = "" }, CodeRequired, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject"},
		{"priority off list", func(p *Packet) { p.Envelope.Header.MessageHeader.OtherInfo.Priority = "7" }, CodeCodeList, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/OtherInfo/Priority"},
		{"business type off list", func(p *Packet) { p.Envelope.Header.TraceHeaderList.Bussiness.BussinessDocType = "5" }, CodeCodeList, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/BussinessDocType"},
		{"legacy identifier ok, dotted warns", func(p *Packet) {}, CodeIdentifier, SeverityWarning, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]/OrganId"},
		{"bad identifier", func(p *Packet) { p.Envelope.Header.MessageHeader.From.OrganId = "UBND tỉnh" }, CodeIdentifier, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId"},
		{"identifier too long", func(p *Packet) { p.Envelope.Header.MessageHeader.From.OrganId = strings.Repeat("A.", 20) + "B" }, CodeIdentifier, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId"},
		{"unparsable date", func(p *Packet) { p.Envelope.Header.MessageHeader.DueDate = Date{Raw: "sắp tới"} }, CodeDate, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/DueDate"},
		{"revoke without ResponseFor", func(p *Packet) { p.Envelope.Header.TraceHeaderList.Bussiness.BussinessDocType = "1" }, CodeConditional, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/ResponseFor"},
		{"update without info", func(p *Packet) { p.Envelope.Header.TraceHeaderList.Bussiness.BussinessDocType = "2" }, CodeConditional, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/BussinessDocumentInfo"},
		{"replace without list", func(p *Packet) { p.Envelope.Header.TraceHeaderList.Bussiness.BussinessDocType = "3" }, CodeConditional, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList/Bussiness/ReplacementInfoList/ReplacementInfo/DocumentId"},
		{"reference without attachment", func(p *Packet) { p.Attachments[0].ContentId = "cid:2" }, CodeReference, SeverityError, "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference/ContentId"},
		{"page amount not int", func(p *Packet) { p.Envelope.Header.MessageHeader.OtherInfo.PageAmount = "hai" }, CodeFormat, SeverityError, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/OtherInfo/PageAmount"},
		{"DocumentId not composed", func(p *Packet) { p.Envelope.Header.MessageHeader.DocumentId = "9fbfbad2-f1f8-4256-a2eb-50fb1061cddb" }, CodeDocumentId, SeverityWarning, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/DocumentId"},
		{"status code in a document", func(p *Packet) { p.Envelope.Header.MessageHeader.StatusCode = "01" }, CodeForbidden, SeverityError, "/edXML/edXMLEnvelope/edXMLBody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newDocument(DocNew)
			tt.mutate(p)
			// Round-trip through the wire so issues carry line:col.
			q, err := Parse(bytes.NewReader(buildBytes(t, p)), nil)
			if err != nil {
				t.Fatal(err)
			}
			issues := Validate(q)
			for _, i := range issues {
				if i.Code == tt.code && i.Severity == tt.sev && i.Path == tt.path {
					if i.Line == 0 {
						t.Errorf("issue without position: %v", i)
					}
					return
				}
			}
			t.Fatalf("want %s %s at %s; got:\n%s", tt.sev, tt.code, tt.path, issuesText(issues))
		})
	}
}

func TestValidateStatusPacket(t *testing.T) {
	st, _ := StatusFor(newDocument(DocNew), "99", org("000.00.01.H60", "VP"), time.Now(), "")
	got := map[IssueCode]bool{}
	for _, i := range Validate(st) {
		got[i.Code] = true
	}
	for _, want := range []IssueCode{CodeCodeList, CodeRequired} { // 99; empty Description
		if !got[want] {
			t.Errorf("want %s among %v", want, got)
		}
	}
}

// TestRulesAsData shows that an amendment is a rules file change: adding a
// status code and making SteeringType required needs no code.
func TestRulesAsData(t *testing.T) {
	amended := strings.Replace(string(defaultRules), `"16": "Từ chối cập nhật, lấy lại / update or take-back refused"`, `"16": "x", "17": "mã mới / new code"`, 1)
	amended = strings.Replace(amended, `"/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject",`, `"/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject", "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Content",`, 1)
	rs, err := LoadRules(strings.NewReader(amended))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := StatusFor(newDocument(DocNew), "17", org("000.00.01.H60", "VP"), time.Now(), "ok")
	if is := rs.Validate(st); HasErrors(is) {
		t.Errorf("amended rules reject code 17: %s", issuesText(is))
	}
	if is := Validate(st); !HasErrors(is) {
		t.Error("default rules accept code 17")
	}
	if is := rs.Validate(newDocument(DocNew)); !strings.Contains(issuesText(is), "MessageHeader/Content") {
		t.Errorf("amended required path not applied: %s", issuesText(is))
	}
	if _, err := LoadRules(strings.NewReader(`{"kinds":{}, "bogus": 1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestInspectGolden(t *testing.T) {
	for _, name := range []string{"doc_update.edxml", "status_02_rejected.edxml"} {
		t.Run(name, func(t *testing.T) {
			p, err := parseFile(t, fixture(name), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := Inspect(p)
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".edxml")+".inspect.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("Inspect differs from %s:\n%s", golden, got)
			}
		})
	}
}

func TestExtractAttachments(t *testing.T) {
	// A packet with a ZIP-wrapped attachment, as VNPT producers send it.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("../../evil/3f2a.txt")
	_, _ = w.Write([]byte("nội dung văn bản"))
	_ = zw.Close()
	p := newDocument(DocNew)
	p.Attachments[0].AttachmentName = "../cong-van.doc"
	p.Attachments[0].ContentType = "application/zip"
	zipped := zbuf.String()
	p.Attachments[0].Open = content(zipped)
	dir := t.TempDir()
	q, files, err := ExtractAttachments(bytes.NewReader(buildBytes(t, p)), dir, ExtractLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !q.Attachments[0].Zip {
		t.Fatalf("files = %+v", files)
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, dir+string(os.PathSeparator)) {
			t.Errorf("%s escapes %s", f.Path, dir)
		}
	}
	got, _ := os.ReadFile(files[1].Path)
	if string(got) != "nội dung văn bản" || filepath.Base(files[0].Path) != "01-cong-van.doc" {
		t.Errorf("extracted %q to %s", got, files[1].Path)
	}
	// The fixture's attachment is a ZIP with one entry, as VNPT producers send.
	f, _ := os.Open(fixture("doc_new.edxml"))
	defer f.Close()
	_, files, err = ExtractAttachments(f, t.TempDir(), ExtractLimits{})
	if err != nil || len(files) != 2 || files[1].Size == 0 {
		t.Fatalf("fixture extract: %+v, %v", files, err)
	}
	// Zip bomb guard.
	err = UnwrapZip(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()), 4, func(h *zip.FileHeader, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), ErrZipTooLarge.Error()) {
		t.Errorf("limit not enforced: %v", err)
	}
}
