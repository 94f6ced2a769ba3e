package transform

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/edxml"
)

// FuzzPacketFromJSON feeds arbitrary exchange payloads to the JSON →
// edXML mapping: it never panics, and what it accepts builds into a packet
// that parses again.
//
//	go test ./bus/transform -run '^$' -fuzz FuzzPacketFromJSON -fuzztime 60s
func FuzzPacketFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"code":{"number":"12","notation":"UBND-VP"},"subject":"Công văn","files":[{"name":"a.pdf","media_type":"application/pdf","content_base64":"JVBERi0="}]}`,
		`{"files":[{"name":"x","content_base64":"!!"}]}`, `{}`, `[]`, `{"to":[{"organ_id":1}]}`, `{"promulgation":{"date":"32/13/2026"}}`,
	} {
		f.Add(s)
	}
	meta := Meta{Source: "000.00.00.H60", Recipients: []string{"000.00.01.H60"}, Title: "Thử", Now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, js string) {
		p, err := PacketFromJSON(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(js)), nil }, meta)
		if err != nil {
			return
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(edxml.Build(pw, p)) }()
		if _, err := edxml.Parse(pr, nil); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("accepted JSON built a packet that does not parse: %v", err)
		}
	})
}

// FuzzXMLMapping feeds arbitrary legacy XML bodies to a declarative
// mapping: it never panics.
func FuzzXMLMapping(f *testing.F) {
	x, err := CompileXMLMapping(map[string]string{"MessageHeader/Subject": "/CongVan/TrichYeu", "MessageHeader/Code/CodeNumber": "/CongVan/So", "MessageHeader/To/OrganId": "/CongVan/NoiNhan/Ma"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`<CongVan><So>12</So><TrichYeu>Về việc</TrichYeu></CongVan>`, `<a>`, `<!DOCTYPE x [<!ENTITY e "x">]><CongVan>&e;</CongVan>`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = x.Document(strings.NewReader(body))
	})
}
