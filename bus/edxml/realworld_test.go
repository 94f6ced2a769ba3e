package edxml

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// signerInfoRe matches the SignerInfo element of a built packet.
var signerInfoRe = regexp.MustCompile(`(?s)<SignerInfo>.*?</SignerInfo>`)

// TestEmptySignerInfoChildrenWarn: SDK-made packets often carry SignerInfo
// with every child empty, and the specification says to treat empty
// elements as absent. So an empty or missing signer is a warning
// edxml.required (SignerInfo, or SignerInfo/FullName when other children
// are filled), never an error; the packet is accepted.
func TestEmptySignerInfoChildrenWarn(t *testing.T) {
	const fullName = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/SignerInfo/FullName"
	const signerInfo = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/SignerInfo"
	wire := buildBytes(t, newDocument(DocNew))
	if !signerInfoRe.Match(wire) {
		t.Fatalf("built packet has no SignerInfo:\n%s", wire)
	}
	for _, tc := range []struct {
		name, signerInfo, wantPath string
	}{
		{"empty children", "<SignerInfo><Competence></Competence><Position></Position><FullName></FullName></SignerInfo>", signerInfo},
		{"self-closed children", "<SignerInfo>\n  <Competence/>\n  <Position/>\n  <FullName/>\n</SignerInfo>", signerInfo},
		{"only FullName empty", "<SignerInfo><Competence>KT. CHỦ TỊCH</Competence><FullName> </FullName></SignerInfo>", fullName},
		{"no SignerInfo at all", "", signerInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := signerInfoRe.ReplaceAll(wire, []byte(tc.signerInfo))
			p, err := Parse(bytes.NewReader(doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			issues := Validate(p)
			if HasErrors(issues) {
				t.Fatalf("packet refused:\n%s", issuesText(issues))
			}
			for _, i := range issues {
				if i.Code == CodeRequired && i.Path == tc.wantPath && i.Severity == SeverityWarning && i.Line > 0 {
					return
				}
			}
			t.Fatalf("want warning %s at %s with a position; got:\n%s", CodeRequired, tc.wantPath, issuesText(issues))
		})
	}
}

// TestInspectShowsEverySignature: `lgsp edoc sign` puts the signature at
// the root; Inspect shows it there, as it shows one in edXMLHeader.
func TestInspectShowsEverySignature(t *testing.T) {
	wire := string(buildBytes(t, newDocument(DocNew)))
	const ds = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>`
	const placeholder = `<Signature><SignatureValue>x</SignatureValue></Signature>`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"root", strings.Replace(wire, "</edXML>", ds+"</edXML>", 1), "có / present, ở gốc edXML / at the edXML root\n"},
		{"envelope", strings.Replace(wire, "</edXMLEnvelope>", ds+"</edXMLEnvelope>", 1), "có / present, trong edXMLEnvelope / in edXMLEnvelope\n"},
		{"header placeholder", strings.Replace(wire, "</edXMLHeader>", placeholder+"</edXMLHeader>", 1), "có / present (không thuộc xmldsig / not in the xmldsig namespace)\n"},
		{"none", wire, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.doc == wire && tc.want != "" {
				t.Fatal("the signature was not inserted")
			}
			p, err := Parse(strings.NewReader(tc.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := Inspect(p)
			lines := regexp.MustCompile(`(?m)^Chữ ký / Signature:\s+(.*\n)`).FindAllStringSubmatch(got, -1)
			switch {
			case tc.want == "" && len(lines) != 0:
				t.Fatalf("Inspect shows a signature in an unsigned packet:\n%s", got)
			case tc.want != "" && (len(lines) != 1 || lines[0][1] != tc.want):
				t.Fatalf("Inspect signature lines = %q, want one %q:\n%s", lines, tc.want, got)
			}
		})
	}
}
