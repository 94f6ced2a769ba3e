package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdocCLI runs `lgsp edoc` as an integrator would: build a packet from
// the JSON shape, validate it, sign it, verify it (and a tampered copy),
// inspect it and extract its attachments; and validate a broken packet.
func TestEdocCLI(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	writeTestPKI(t, filepath.Join(work, "keys"))
	if err := os.WriteFile(filepath.Join(work, "doc.json"), []byte(edocJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("lgsp %s: err %v, want ok=%v\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	run(true, "edoc", "build", "--source", "000.00.00.H60", "--to", "000.00.01.H60", "--title", "V/v thử nghiệm", "--importance", "urgent", "--out", "doc.edxml", "doc.json")
	if out := run(true, "edoc", "validate", "doc.edxml"); !strings.Contains(out, "doc.edxml: OK (document packet") {
		t.Errorf("validate: %s", out)
	}
	run(true, "edoc", "sign", "--key", "keys/key.pem", "--cert", "keys/cert.pem", "--out", "signed.edxml", "doc.edxml")
	if out := run(true, "edoc", "verify", "--roots", "keys/ca.pem", "signed.edxml"); !strings.Contains(out, "signed.edxml: OK, signed by CN=LGSP tỉnh Tuyên Quang (test)") {
		t.Errorf("verify: %s", out)
	}
	if out := run(true, "edoc", "validate", "signed.edxml"); !strings.Contains(out, "OK") {
		t.Errorf("validate signed: %s", out)
	}
	signed, err := os.ReadFile(filepath.Join(work, "signed.edxml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "tampered.edxml"), bytes.Replace(signed, []byte("Nguyễn Văn A"), []byte("Nguyễn Văn B"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(false, "edoc", "verify", "--roots", "keys/ca.pem", "tampered.edxml"); !strings.Contains(out, "xmldsig.tampered") {
		t.Errorf("verify tampered: %s", out)
	}
	if out := run(false, "edoc", "verify", "--roots", "keys/ca.pem", "doc.edxml"); !strings.Contains(out, "xmldsig.no_signature") {
		t.Errorf("verify unsigned: %s", out)
	}
	run(true, "edoc", "verify", "--roots", "keys/ca.pem", "--policy", "verify_if_present", "doc.edxml")
	out := run(true, "edoc", "inspect", "signed.edxml")
	for _, want := range []string{"88/UBND-KGVX", "000.00.00.H60 — UBND tỉnh Tuyên Quang", "cong-van.pdf (application/pdf",
		"Chữ ký / Signature:                  có / present, ở gốc edXML / at the edXML root\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	out = run(true, "edoc", "extract", "--out", "files", "signed.edxml")
	got, err := os.ReadFile(filepath.Join(work, "files", "01-cong-van.pdf"))
	if err != nil || string(got) != "%PDF-1.7\n%äü" {
		t.Errorf("extract: %q %v\n%s", got, err, out)
	}

	// A broken packet: every issue as file:line:col: severity code path: message.
	bad := bytes.Replace(signed, []byte("<CodeNotation>UBND-KGVX</CodeNotation>"), []byte("<CodeNotation></CodeNotation>"), 1)
	bad = bytes.Replace(bad, []byte("<Priority>1</Priority>"), []byte("<Priority>9</Priority>"), 1)
	if err := os.WriteFile(filepath.Join(work, "bad.edxml"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(false, "edoc", "validate", "bad.edxml")
	for _, want := range []string{
		"bad.edxml:", ": error edxml.required /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Code/CodeNotation: ",
		": error edxml.code_list /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/OtherInfo/Priority: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate bad lacks %q:\n%s", want, out)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "broken.edxml"), []byte("<edXML xmlns=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">\n  <edXMLEnvelope>\n</edXML>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(false, "edoc", "validate", "broken.edxml"); !strings.Contains(out, "broken.edxml:3:") || !strings.Contains(out, "edxml.syntax") {
		t.Errorf("validate broken: %s", out)
	}
}

// wildPacket is shaped like SDK-made traffic: the edXML: prefix, CRLF line
// ends, a comment, Bussiness before TraceHeader, dd/MM/yyyy dates, empty
// SignerInfo children, an unknown element and wrapped base64 with
// character references.
const wildPacket = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n" +
	"<edXML:edXML xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">\r\n" +
	"<edXML:edXMLEnvelope>\r\n<edXML:edXMLHeader>\r\n<edXML:MessageHeader>\r\n" +
	"<edXML:From><edXML:OrganId>000.00.15.H60</edXML:OrganId><edXML:OrganName>Sở Thông tin và Truyền thông</edXML:OrganName></edXML:From>\r\n" +
	"<!-- sinh bởi SDK -->\r\n" +
	"<edXML:To><edXML:OrganId>000.00.01.H60</edXML:OrganId><edXML:OrganName>Văn phòng UBND tỉnh</edXML:OrganName></edXML:To>\r\n" +
	"<edXML:DocumentId>000.00.15.H60,2026/03/02,125/STTTT-CĐS</edXML:DocumentId>\r\n" +
	"<edXML:Code><edXML:CodeNumber>125</edXML:CodeNumber><edXML:CodeNotation>STTTT-CĐS</edXML:CodeNotation></edXML:Code>\r\n" +
	"<edXML:PromulgationInfo><edXML:Place>Tuyên Quang</edXML:Place><edXML:PromulgationDate>02/03/2026</edXML:PromulgationDate></edXML:PromulgationInfo>\r\n" +
	"<edXML:DocumentType><edXML:Type>1</edXML:Type><edXML:TypeName>Công văn</edXML:TypeName></edXML:DocumentType>\r\n" +
	"<edXML:Subject>V/v chuẩn hoá gói tin</edXML:Subject>\r\n" +
	"<edXML:SignerInfo><edXML:Competence></edXML:Competence><edXML:Position></edXML:Position><edXML:FullName></edXML:FullName></edXML:SignerInfo>\r\n" +
	"<edXML:ApplicationType>QLVB</edXML:ApplicationType>\r\n" +
	"</edXML:MessageHeader>\r\n" +
	"<edXML:TraceHeaderList><edXML:Bussiness><edXML:BussinessDocType>0</edXML:BussinessDocType></edXML:Bussiness>" +
	"<edXML:TraceHeader><edXML:OrganId>000.00.15.H60</edXML:OrganId><edXML:Timestamp>02/03/2026 08:30:00</edXML:Timestamp></edXML:TraceHeader></edXML:TraceHeaderList>\r\n" +
	"</edXML:edXMLHeader>\r\n" +
	"<edXML:edXMLBody><edXML:edXMLManifest version=\"1.0\"><edXML:Reference><edXML:ContentId>cid:1</edXML:ContentId><edXML:ContentType>application/pdf</edXML:ContentType><edXML:AttachmentName>cv.pdf</edXML:AttachmentName></edXML:Reference></edXML:edXMLManifest></edXML:edXMLBody>\r\n" +
	"</edXML:edXMLEnvelope>\r\n" +
	"<edXML:AttachmentEncoded><edXML:Attachment><edXML:ContentId>cid:1</edXML:ContentId><edXML:AttachmentName>cv.pdf</edXML:AttachmentName><edXML:ContentType>application/pdf</edXML:ContentType>" +
	"<edXML:ContentTransferEncoded>JVBERi0xLjcK&#13;&#10;JcOkw7wK\r\nYmluYXJ5</edXML:ContentTransferEncoded></edXML:Attachment></edXML:AttachmentEncoded>\r\n" +
	"</edXML:edXML>\r\n"

// TestEdocNormalizeCLI: `lgsp edoc normalize` re-emits a parsed packet as
// we build packets; normalizing twice changes nothing more, the result
// validates, keeps what it must (unknown elements, attachment bytes) and
// drops what it may (comments, CR, non-canonical dates). A signed packet is
// normalized with a warning that its signature no longer verifies.
func TestEdocNormalizeCLI(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	writeTestPKI(t, filepath.Join(work, "keys"))
	if err := os.WriteFile(filepath.Join(work, "doc.json"), []byte(edocJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "wild.edxml"), []byte(wildPacket), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("lgsp %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
		}
		return o.String(), e.String()
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	run("edoc", "build", "--source", "000.00.00.H60", "--to", "000.00.01.H60", "--title", "V/v thử nghiệm", "--out", "doc.edxml", "doc.json")
	run("edoc", "sign", "--key", "keys/key.pem", "--cert", "keys/cert.pem", "--out", "signed.edxml", "doc.edxml")

	for _, name := range []string{"wild", "doc", "signed"} {
		t.Run(name, func(t *testing.T) {
			_, warn1 := run("edoc", "normalize", "--out", name+".n1.edxml", name+".edxml")
			n2, warn2 := run("edoc", "normalize", name+".n1.edxml") // to stdout
			n1 := read(name + ".n1.edxml")
			if n1 != n2 {
				t.Fatalf("normalize is not idempotent:\n--- once\n%s\n--- twice\n%s", n1, n2)
			}
			if out, _ := run("edoc", "validate", name+".n1.edxml"); !strings.Contains(out, name+".n1.edxml: OK (document packet") {
				t.Fatalf("normalized packet does not validate:\n%s", out)
			}
			if signed := name == "signed"; signed != strings.Contains(warn1, "will not verify after normalizing") || signed != strings.Contains(warn2, "will not verify") {
				t.Fatalf("signature warning (signed=%v): %q / %q", signed, warn1, warn2)
			}
			if strings.Contains(n1, "\r") || strings.Contains(n1, "<!--") {
				t.Fatalf("normalized packet keeps CR or comments:\n%s", n1)
			}
		})
	}
	wild := read("wild.n1.edxml")
	for _, want := range []string{
		`<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">`,
		"<PromulgationDate>2026/03/02</PromulgationDate>",
		"<Timestamp>2026/03/02 08:30:00</Timestamp>",
		"<ApplicationType>QLVB</ApplicationType>",
	} {
		if !strings.Contains(wild, want) {
			t.Errorf("normalized wild packet lacks %q:\n%s", want, wild)
		}
	}
	if out, _ := run("edoc", "validate", "wild.n1.edxml"); !strings.Contains(out, "warning edxml.required /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/SignerInfo") {
		t.Errorf("empty SignerInfo not reported as a warning:\n%s", out)
	}
	// The attachment bytes survive: extract both and compare.
	run("edoc", "extract", "--out", "x0", "wild.edxml")
	run("edoc", "extract", "--out", "x1", "wild.n1.edxml")
	if a, b := read("x0/01-cv.pdf"), read("x1/01-cv.pdf"); a != b || !strings.HasPrefix(a, "%PDF-1.7\n") {
		t.Errorf("attachment changed by normalize: %q vs %q", a, b)
	}
	// The signature is kept (at the root) but no longer verifies.
	if n := read("signed.n1.edxml"); !strings.Contains(n, "SignatureValue") {
		t.Errorf("normalize dropped the signature:\n%s", n)
	}
	cmd := exec.Command(bin, "edoc", "verify", "--roots", "keys/ca.pem", "signed.n1.edxml")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "xmldsig.") {
		t.Errorf("normalized signed packet still verifies, so the warning is wrong: %v\n%s", err, out)
	}
}

// TestEdocSignPKCS12CLI: `lgsp edoc sign` reads a password-protected
// PKCS#12 file directly, the password taken from the variable that
// --password-env names; a wrong password is xmldsig.key.
func TestEdocSignPKCS12CLI(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	writeTestPKI(t, filepath.Join(work, "keys"))
	if out, err := exec.Command("openssl", "pkcs12", "-export", "-inkey", filepath.Join(work, "keys/key.pem"), "-in", filepath.Join(work, "keys/cert.pem"),
		"-passout", "pass:mật-khẩu", "-out", filepath.Join(work, "keys/signer.p12")).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(work, "doc.xml"), []byte(`<r xmlns="urn:x"><t>Nguyễn Văn A</t></r>`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(env string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("P12_PASS=mật-khẩu", "edoc", "sign", "--key", "keys/signer.p12", "--password-env", "P12_PASS", "--out", "signed.xml", "doc.xml"); err != nil {
		t.Fatalf("sign with PKCS#12: %v\n%s", err, out)
	}
	if out, err := run("", "edoc", "verify", "--roots", "keys/ca.pem", "signed.xml"); err != nil || !strings.Contains(out, "OK, signed by CN=LGSP tỉnh Tuyên Quang (test)") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if out, err := run("P12_PASS=sai", "edoc", "sign", "--key", "keys/signer.p12", "--password-env", "P12_PASS", "doc.xml"); err == nil || !strings.Contains(out, "xmldsig.key") {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
	if out, err := run("", "edoc", "sign", "--key", "keys/signer.p12", "--password-env", "LGSP_TEST_UNSET_VAR", "doc.xml"); err == nil || !strings.Contains(out, "LGSP_TEST_UNSET_VAR is not set") {
		t.Fatalf("unset variable: %v\n%s", err, out)
	}
}
