package edxml

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts can be validated,
// inspected, built and parsed again. Small limits keep memory bounded.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"status_01_arrived.edxml", "status_13_takeback.edxml", "doc_broken.edxml", "doc_gateway_minimal.edxml", "doc_business_first.edxml"} {
		b, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(buildBytes(f, newDocument(DocUpdate)))
	f.Add(buildBytes(f, newDocument(DocReplace)))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><edXML xmlns="` + NS + `"/>`))
	f.Add([]byte(`<edXML xmlns="` + NS + `"><edXMLEnvelope/><AttachmentEncoded><Attachment><ContentTransferEncoded>QU&#13;JD<![CDATA[RA==]]></ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>`))
	opts := &Options{MaxDepth: 32, MaxHeaderBytes: 1 << 20, MaxTextBytes: 64 << 10, MaxAttachmentBytes: 1 << 20, MaxAttachments: 16,
		Sink: func(m AttachmentMeta, r io.Reader) error { _, err := io.CopyN(io.Discard, r, 1<<10); return err }}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(bytes.NewReader(in), opts)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		_ = Validate(p)
		_ = Inspect(p)
		for _, a := range p.Attachments {
			a.Open = content("x")
		}
		var buf bytes.Buffer
		if err := Build(&buf, p); err != nil {
			t.Fatalf("build of a parsed packet: %v", err)
		}
		if _, err := Parse(&buf, nil); err != nil {
			t.Fatalf("re-parse of our own output: %v\n%s", err, buf.String())
		}
	})
}
