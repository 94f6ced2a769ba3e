package edxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// samplesDir holds the official VPCP SDK sample packets. They are
// third-party reference data that we may test with but not redistribute, so
// they are not in the repository: they live in the shared reference folder
// beside every checkout (../shared from the repository root, in CI too), or
// wherever LGSP_SHARED_DIR points.
var samplesDir = func() string {
	root := os.Getenv("LGSP_SHARED_DIR")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared")
	}
	return filepath.Join(root, "ref", "edxml", "samples", "vpcp-sdkvxp-example")
}()

// samples returns the official sample files.
func samples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.edxml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", samplesDir, err)
	}
	sort.Strings(files)
	return files
}

func parseFile(t testing.TB, path string, o *Options) (*Packet, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, o)
}

// normalize drops what legitimately differs between a parse and a re-parse:
// positions, parse findings, spool bookkeeping.
func normalize(p *Packet) *Packet {
	c := *p
	c.pos, c.issues, c.spool = nil, nil, nil
	atts := make([]*Attachment, len(p.Attachments))
	for i, a := range p.Attachments {
		ca := *a
		ca.pos, ca.leafPos, ca.SpoolPath, ca.Open = Pos{}, nil, "", nil
		atts[i] = &ca
	}
	c.Attachments = atts
	zeroPos(reflect.ValueOf(&c).Elem(), map[*Node]bool{})
	return &c
}

func zeroPos(v reflect.Value, seen map[*Node]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if n, ok := v.Interface().(*Node); ok {
			if seen[n] {
				return
			}
			seen[n] = true
			n.Pos = Pos{}
		}
		zeroPos(v.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				zeroPos(v.Field(i), seen)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			zeroPos(v.Index(i), seen)
		}
	}
}

func TestSamplesParse(t *testing.T) {
	want := map[string]struct {
		kind     Kind
		business BusinessDocType
		status   string
		atts     int
	}{
		"edoc_new.edxml":                    {KindDocument, DocNew, "", 1},
		"edoc_revocation.edxml":             {KindDocument, DocRevoke, "", 1},
		"edoc_update.edxml":                 {KindDocument, DocUpdate, "", 1},
		"edoc_replacement.edxml":            {KindDocument, DocReplace, "", 1},
		"status.edxml":                      {KindStatus, DocNew, "01", 0},
		"status_inbox_ 01.edxml":            {KindStatus, DocNew, "01", 0},
		"status_rejection_02.edxml":         {KindStatus, DocNew, "02", 0},
		"status_acceptance_03.edxml":        {KindStatus, DocNew, "03", 0},
		"status_assignment_04.edxml":        {KindStatus, DocNew, "04", 0},
		"status_processing_05.edxml":        {KindStatus, DocNew, "05", 0},
		"status_finish_06.edxml":            {KindStatus, DocNew, "06", 0},
		"status_cancellation_13.edxml":      {KindStatus, DocNew, "13", 0},
		"status_change-acceptance_15.edxml": {KindStatus, DocNew, "15", 0},
		"status_change-rejection_16.edxml":  {KindStatus, DocNew, "16", 0},
	}
	for _, f := range samples(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p, err := parseFile(t, f, nil)
			if name == "edoc.edxml" {
				assertBrokenSample(t, err)
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			if p.Kind() != w.kind || p.Business() != w.business || p.Envelope.Header.MessageHeader.StatusCode != w.status || len(p.Attachments) != w.atts {
				t.Errorf("kind=%v business=%v status=%q atts=%d; want %+v", p.Kind(), p.Business(), p.Envelope.Header.MessageHeader.StatusCode, len(p.Attachments), w)
			}
			for _, a := range p.Attachments {
				if !a.Zip || a.Size == 0 || len(a.SHA256) != 64 {
					t.Errorf("attachment %+v: want a non-empty ZIP with a hash", a)
				}
			}
			if HasErrors(Validate(p)) {
				t.Errorf("sample has validation errors:\n%s", issuesText(Validate(p)))
			}
		})
	}
}

// assertBrokenSample: edoc.edxml has a nested <From> closed by
// </MessageHeader> (line 76 in the file).
func assertBrokenSample(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("edoc.edxml: want *Error, got %v", err)
	}
	if e.Code != CodeSyntax || e.Line == 0 || e.Col == 0 || !strings.Contains(e.Path, "MessageHeader") {
		t.Fatalf("edoc.edxml: want edxml.syntax with line:col and path, got %v", e)
	}
	t.Logf("edoc.edxml (expected failure): %v", e)
}

func issuesText(is []Issue) string {
	var b strings.Builder
	for _, i := range is {
		b.WriteString(i.String() + "\n")
	}
	return b.String()
}

func TestSamplesRoundTrip(t *testing.T) {
	for _, f := range samples(t) {
		name := filepath.Base(f)
		if name == "edoc.edxml" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			p1, err := parseFile(t, f, &Options{SpoolDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer p1.Cleanup()
			var buf bytes.Buffer
			if err := Build(&buf, p1); err != nil {
				t.Fatal(err)
			}
			p2, err := Parse(bytes.NewReader(buf.Bytes()), &Options{SpoolDir: t.TempDir()})
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, head(buf.String()))
			}
			defer p2.Cleanup()
			if a, b := normalize(p1), normalize(p2); !reflect.DeepEqual(a, b) {
				var x, y bytes.Buffer
				_ = BuildTree(&x, a.Tree())
				_ = BuildTree(&y, b.Tree())
				t.Fatalf("round trip changed the packet:\n--- first\n%s\n--- second\n%s", x.String(), y.String())
			}
		})
	}
}

func head(s string) string {
	if len(s) > 3000 {
		return s[:3000]
	}
	return s
}

// TestRoundTripKeepsUnknown adds unknown elements (edXML namespace, foreign
// namespace, attributes, an unknown root child) and non-canonical dates to a
// sample and checks they survive Build → Parse.
func TestRoundTripKeepsUnknown(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(samplesDir, "status_rejection_02.edxml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = strings.Replace(s, "<edXML:StatusCode>", `<edXML:ApplicationType kind="x">QLVB</edXML:ApplicationType><x:Note xmlns:x="urn:example:x" x:lang="vi">ghi chú <x:b>đậm</x:b></x:Note><edXML:StatusCode>`, 1)
	s = strings.Replace(s, "2015/09/20 11:08:36", "20/09/2015 11:08:36", 1)
	s = strings.Replace(s, "</edXML:edXMLEnvelope>", "</edXML:edXMLEnvelope><Trailer>t</Trailer>", 1)
	p1, err := Parse(strings.NewReader(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	mh := p1.Envelope.Header.MessageHeader
	if len(mh.Extra) != 2 || mh.Extra[0].Name.Local != "ApplicationType" || mh.Extra[1].Name.Space != "urn:example:x" {
		t.Fatalf("unknown elements not kept: %+v", mh.Extra)
	}
	if len(p1.Extra) != 1 || p1.Extra[0].Name.Local != "Trailer" {
		t.Fatalf("unknown root child not kept: %+v", p1.Extra)
	}
	var buf bytes.Buffer
	if err := Build(&buf, p1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<Timestamp>2015/09/20 11:08:36</Timestamp>") {
		t.Errorf("date not written canonically:\n%s", buf.String())
	}
	p2, err := Parse(bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if a, b := normalize(p1), normalize(p2); !reflect.DeepEqual(a, b) {
		t.Fatalf("unknown content lost:\n%s", buf.String())
	}
	found := false
	for _, i := range Validate(p1) {
		if i.Code == CodeDate && i.Severity == SeverityWarning && i.Line > 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("non-canonical date not reported: %s", issuesText(Validate(p1)))
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		name, in, out string
		canonical, ok bool
	}{
		{"canonical date", "2019/01/16", "2019/01/16", true, true},
		{"canonical date-time", "2018/09/28 17:25:11", "2018/09/28 17:25:11", true, true},
		{"dd/MM/yyyy (Bkav)", "30/10/2020", "2020/10/30", false, true},
		{"dd/MM/yyyy time", "30/10/2020 08:01:02", "2020/10/30 08:01:02", false, true},
		{"ISO date", "2020-10-30", "2020/10/30", false, true},
		{"ISO T", "2020-10-30T08:01:02", "2020/10/30 08:01:02", false, true},
		{"short month", "2020/1/5", "2020/01/05", false, true},
		{"empty is absent", "  ", "", true, true},
		{"impossible day", "2014/02/30", "2014/02/30", false, false},
		{"garbage", "tomorrow", "tomorrow", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, canonical, err := ParseDate(tt.in)
			if (err == nil) != tt.ok || canonical != tt.canonical || d.String() != tt.out {
				t.Errorf("ParseDate(%q) = %q, %v, %v; want %q, %v, ok=%v", tt.in, d.String(), canonical, err, tt.out, tt.canonical, tt.ok)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const env = `<edXMLEnvelope><edXMLHeader><MessageHeader><StatusCode>01</StatusCode></MessageHeader></edXMLHeader></edXMLEnvelope>`
	deep := `<edXML xmlns="` + NS + `">` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</edXML>`
	tests := []struct {
		name string
		in   string
		opts *Options
		code IssueCode
	}{
		{"doctype refused", `<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY x "y">]><edXML xmlns="` + NS + `">` + env + `</edXML>`, nil, CodeDTD},
		{"wrong root", `<root/>`, nil, CodeRoot},
		{"wrong namespace", `<edXML xmlns="urn:other">` + env + `</edXML>`, nil, CodeRoot},
		{"no envelope", `<edXML xmlns="` + NS + `"/>`, nil, CodeRoot},
		{"empty input", ``, nil, CodeRoot},
		{"truncated", `<edXML xmlns="` + NS + `"><edXMLEnvelope>`, nil, CodeSyntax},
		{"mismatched tag", `<edXML xmlns="` + NS + `"><a></b></edXML>`, nil, CodeSyntax},
		{"undefined entity", `<edXML xmlns="` + NS + `"><a>&foo;</a></edXML>`, nil, CodeSyntax},
		{"two roots", `<edXML xmlns="` + NS + `">` + env + `</edXML><edXML xmlns="` + NS + `"/>`, nil, CodeSyntax},
		{"too deep", deep, &Options{MaxDepth: 50}, CodeTooComplex},
		{"text too long", `<edXML xmlns="` + NS + `"><a>` + strings.Repeat("x", 5000) + `</a></edXML>`, &Options{MaxTextBytes: 1000}, CodeLimit},
		{"header too big", `<edXML xmlns="` + NS + `">` + strings.Repeat("<a>x</a>", 1000) + `</edXML>`, &Options{MaxHeaderBytes: 2000}, CodeLimit},
		{"bad base64", `<edXML xmlns="` + NS + `">` + env + `<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId><ContentTransferEncoded>@@@@</ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>`, nil, CodeAttachment},
		{"element in base64", `<edXML xmlns="` + NS + `">` + env + `<AttachmentEncoded><Attachment><ContentTransferEncoded>QUJD<b/></ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>`, nil, CodeAttachment},
		{"eof in base64", `<edXML xmlns="` + NS + `">` + env + `<AttachmentEncoded><Attachment><ContentTransferEncoded>QUJD`, nil, CodeSyntax},
		{"attachment too big", `<edXML xmlns="` + NS + `">` + env + `<AttachmentEncoded><Attachment><ContentTransferEncoded>QUJDRA==</ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>`, &Options{MaxAttachmentBytes: 2}, CodeLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), tt.opts)
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("got %v (code %q); want code %q", err, got, tt.code)
			}
		})
	}
}

// TestAttachmentForms checks the base64 text variants real producers send:
// line breaks, character references for CR/LF, CDATA, comments, a missing
// "cid:" prefix and a self-closing element.
func TestAttachmentForms(t *testing.T) {
	const pre = `<edXML xmlns="` + NS + `"><edXMLEnvelope><edXMLHeader><MessageHeader/></edXMLHeader><edXMLBody><edXMLManifest><Reference><ContentId>cid:a</ContentId><AttachmentName>a.txt</AttachmentName><ContentType>text/plain</ContentType></Reference></edXMLManifest></edXMLBody></edXMLEnvelope><AttachmentEncoded><Attachment><ContentId>a</ContentId>`
	const post = `</Attachment></AttachmentEncoded></edXML>`
	tests := []struct {
		name, cte, want string
	}{
		{"one line", `<ContentTransferEncoded>aGVsbG8gd29ybGQ=</ContentTransferEncoded>`, "hello world"},
		{"wrapped", "<ContentTransferEncoded>\r\n  aGVsbG8g\r\n  d29ybGQ=\r\n</ContentTransferEncoded>", "hello world"},
		{"char refs", `<ContentTransferEncoded>aGVsbG8g&#13;&#10;d29ybGQ=</ContentTransferEncoded>`, "hello world"},
		{"cdata", `<ContentTransferEncoded>aGVs<![CDATA[bG8gd29y]]>bGQ=</ContentTransferEncoded>`, "hello world"},
		{"comment", `<ContentTransferEncoded>aGVsbG8g<!-- x -->d29ybGQ=</ContentTransferEncoded>`, "hello world"},
		{"self-closing", `<ContentTransferEncoded/>`, ""},
		{"prefixed", `<e:ContentTransferEncoded xmlns:e="` + NS + `">aGVsbG8gd29ybGQ=</e:ContentTransferEncoded>`, "hello world"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			var meta AttachmentMeta
			p, err := Parse(strings.NewReader(pre+tt.cte+post), &Options{Sink: func(m AttachmentMeta, r io.Reader) error {
				meta = m
				_, err := io.Copy(&got, r)
				return err
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want || p.Attachments[0].Size != int64(len(tt.want)) {
				t.Fatalf("got %q (size %d); want %q", got.String(), p.Attachments[0].Size, tt.want)
			}
			if meta.AttachmentName != "a.txt" || meta.ContentType != "text/plain" || meta.ContentId != "a" {
				t.Errorf("meta not completed from the manifest: %+v", meta)
			}
			if is := Validate(p); slices.ContainsFunc(is, func(i Issue) bool { return i.Code == CodeReference }) {
				t.Errorf("cid: prefix difference reported: %s", issuesText(is))
			}
		})
	}
}

// TestPositionsAfterAttachment checks that line numbers stay right after
// the parser read an attachment behind the decoder's back.
func TestPositionsAfterAttachment(t *testing.T) {
	in := `<edXML xmlns="` + NS + `"><edXMLEnvelope><edXMLHeader><MessageHeader/></edXMLHeader></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentTransferEncoded>
QUJD
QUJD
</ContentTransferEncoded></Attachment>
</AttachmentEncoded>
<x></y></edXML>`
	_, err := Parse(strings.NewReader(in), nil)
	var e *Error
	if !errors.As(err, &e) || e.Line != 7 {
		t.Fatalf("want a syntax error on line 7, got %v", err)
	}
}

var _ = xml.Name{}
