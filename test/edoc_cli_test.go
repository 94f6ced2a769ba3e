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
	for _, want := range []string{"88/UBND-KGVX", "000.00.00.H60 — UBND tỉnh Tuyên Quang", "cong-van.pdf (application/pdf"} {
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
