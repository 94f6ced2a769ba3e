package edxml

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// TestFixturesCoverVariants keeps the fixture corpus honest: it must hold
// every variant real traffic carries (testdata/packets/README.md), so that
// the tests built on it stand for the official samples they replace. A
// fixture deleted or rewritten so that a variant disappears fails here.
func TestFixturesCoverVariants(t *testing.T) {
	seen := map[string]bool{}
	statuses, business := map[string]bool{}, map[string]bool{}
	for _, f := range fixtures(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("\r\n")) {
			seen["CRLF line ends"] = true
		} else {
			seen["LF line ends"] = true
		}
		p, err := Parse(bytes.NewReader(raw), nil)
		if err != nil {
			if CodeOf(err) == CodeSyntax {
				seen["a packet that is not well-formed"] = true
			}
			continue
		}
		mh := p.Envelope.Header.MessageHeader
		if p.Kind() == KindStatus {
			statuses[mh.StatusCode] = true
			if mh.From != nil && mh.ResponseFor != nil && len(mh.ResponseFor) == 1 && mh.From.OrganId == mh.ResponseFor[0].OrganId {
				seen["a status sent by the document's sender (take-back)"] = true
			}
			continue
		}
		business[string(p.Business())] = true
		variantsOfDocument(p, raw, seen)
	}
	for _, want := range []string{
		"CRLF line ends", "LF line ends", "a packet that is not well-formed",
		"a status sent by the document's sender (take-back)",
		"zipped attachment", "two attachments", "three recipients",
		"placeholder Signature outside the XML-DSig namespace", "XML-DSig Signature with a truncated certificate",
		"XML-DSig Signature with empty values", "dd/MM/yyyy date", "SignerInfo with every child empty",
		"Bussiness before TraceHeader", "gateway-made minimal packet",
	} {
		if !seen[want] {
			t.Errorf("no fixture has: %s", want)
		}
	}
	for code := range stdRules.CodeLists["StatusCode"] {
		if !statuses[code] {
			t.Errorf("no status fixture with code %s", code)
		}
	}
	for code := range stdRules.CodeLists["BussinessDocType"] {
		if !business[code] {
			t.Errorf("no document fixture of business type %s", code)
		}
	}
}

// variantsOfDocument records which variants one document fixture shows.
func variantsOfDocument(p *Packet, raw []byte, seen map[string]bool) {
	mh := p.Envelope.Header.MessageHeader
	for _, a := range p.Attachments {
		seen["zipped attachment"] = seen["zipped attachment"] || a.Zip
	}
	seen["two attachments"] = seen["two attachments"] || len(p.Attachments) == 2
	seen["three recipients"] = seen["three recipients"] || len(mh.To) == 3
	if sig := p.Envelope.Header.Signature; sig != nil {
		switch {
		case sig.Name.Space != DSigNS:
			seen["placeholder Signature outside the XML-DSig namespace"] = true
		case bytes.Contains(raw, []byte("<SignatureValue />")):
			seen["XML-DSig Signature with empty values"] = true
		case bytes.Contains(raw, []byte("<X509Certificate>MIIDdzCCAl</X509Certificate>")):
			seen["XML-DSig Signature with a truncated certificate"] = true
		}
	}
	if slices.ContainsFunc(Validate(p), func(i Issue) bool { return i.Code == CodeDate && i.Severity == SeverityWarning }) {
		seen["dd/MM/yyyy date"] = true
	}
	if s := mh.SignerInfo; bytes.Contains(raw, []byte("<edXML:SignerInfo>")) && (s == nil || s.Competence+s.Position+s.FullName == "") {
		seen["SignerInfo with every child empty"] = true
	}
	if b, th := bytes.Index(raw, []byte("Bussiness>")), bytes.Index(raw, []byte("TraceHeader>")); b >= 0 && b < th {
		seen["Bussiness before TraceHeader"] = true
	}
	if p.Envelope.Header.Signature == nil && p.Envelope.Header.TraceHeaderList != nil && p.Envelope.Header.TraceHeaderList.Bussiness == nil && mh.DueDate.Raw == "" && mh.ToPlaces == nil {
		seen["gateway-made minimal packet"] = true
	}
}
