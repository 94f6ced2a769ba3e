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

	"github.com/tuyenquang/lgsp/test/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixturesDir holds our own edXML packets, written from the specification
// to cover the variants real traffic carries (testdata/packets/README.md
// lists them). The official national-axis samples are a second, external
// corpus read only when LGSP_EXTERNAL_EDXML_SAMPLES names their folder
// (testenv.ExternalEdXMLSamples): they carry no licence, so they are not in
// the repository.
const fixturesDir = "testdata/packets"

// fixtures returns the fixture files, sorted.
func fixtures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixturesDir, "*.edxml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixturesDir, err)
	}
	sort.Strings(files)
	return files
}

// fixture returns the path of one fixture.
func fixture(name string) string { return filepath.Join(fixturesDir, name) }

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

// packetWant is what a parse of one corpus file must show.
type packetWant struct {
	kind     Kind
	business BusinessDocType
	status   string
	atts     int
	to       int
}

// fixtureWant lists every fixture; a file without an entry fails the test,
// so a new fixture cannot go unchecked.
var fixtureWant = map[string]packetWant{
	"doc_new.edxml":                   {KindDocument, DocNew, "", 1, 1},
	"doc_update.edxml":                {KindDocument, DocUpdate, "", 1, 3},
	"doc_revoke.edxml":                {KindDocument, DocRevoke, "", 1, 2},
	"doc_replace.edxml":               {KindDocument, DocReplace, "", 2, 2},
	"doc_business_first.edxml":        {KindDocument, DocNew, "", 1, 1},
	"doc_ddmmyyyy.edxml":              {KindDocument, DocNew, "", 1, 1},
	"doc_empty_signer.edxml":          {KindDocument, DocNew, "", 1, 1},
	"doc_gateway_minimal.edxml":       {KindDocument, DocNew, "", 1, 1},
	"status_01_arrived.edxml":         {KindStatus, DocNew, "01", 0, 0},
	"status_02_rejected.edxml":        {KindStatus, DocNew, "02", 0, 0},
	"status_03_accepted.edxml":        {KindStatus, DocNew, "03", 0, 0},
	"status_04_assigned.edxml":        {KindStatus, DocNew, "04", 0, 0},
	"status_05_processing.edxml":      {KindStatus, DocNew, "05", 0, 0},
	"status_06_finished.edxml":        {KindStatus, DocNew, "06", 0, 0},
	"status_13_takeback.edxml":        {KindStatus, DocNew, "13", 0, 0},
	"status_15_change_accepted.edxml": {KindStatus, DocNew, "15", 0, 0},
	"status_16_change_refused.edxml":  {KindStatus, DocNew, "16", 0, 0},
}

// fixtureFindings are the validation findings a fixture is written to
// raise (code and path suffix); every other fixture must have none but the
// identifier warning on dotted, non-legacy codes.
var fixtureFindings = map[string][]struct {
	code IssueCode
	path string
}{
	"doc_ddmmyyyy.edxml":        {{CodeDate, "PromulgationInfo/PromulgationDate"}, {CodeDate, "MessageHeader/DueDate"}},
	"doc_gateway_minimal.edxml": {{CodeDocumentId, "MessageHeader/DocumentId"}, {CodeIdentifier, "From/OrganId"}, {CodeRequired, "TraceHeader/OrganId"}},
	// Real producers send SignerInfo with every child empty; whether that
	// is an error or a warning, it is reported at SignerInfo.
	"doc_empty_signer.edxml": {{"", "SignerInfo"}},
	// Placeholder signatures outside the XML-DSig namespace are flagged.
	"doc_new.edxml":     {{CodeSignature, "edXMLHeader/Signature"}},
	"doc_replace.edxml": {{CodeSignature, "edXMLHeader/Signature"}},
}

func TestFixturesParse(t *testing.T) {
	for _, f := range fixtures(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p, err := parseFile(t, f, nil)
			if name == "doc_broken.edxml" {
				assertBroken(t, name, err, 18)
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			w, ok := fixtureWant[name]
			if !ok {
				t.Fatalf("no expectation for %s: add it to fixtureWant", name)
			}
			checkPacket(t, p, w)
			if got := len(p.Envelope.Header.MessageHeader.To); got != w.to {
				t.Errorf("%d recipients, want %d", got, w.to)
			}
			checkFindings(t, name, Validate(p))
		})
	}
}

func checkPacket(t *testing.T, p *Packet, w packetWant) {
	t.Helper()
	if p.Kind() != w.kind || p.Business() != w.business || p.Envelope.Header.MessageHeader.StatusCode != w.status || len(p.Attachments) != w.atts {
		t.Errorf("kind=%v business=%v status=%q atts=%d; want %+v", p.Kind(), p.Business(), p.Envelope.Header.MessageHeader.StatusCode, len(p.Attachments), w)
	}
	for _, a := range p.Attachments {
		if !a.Zip || a.Size == 0 || len(a.SHA256) != 64 {
			t.Errorf("attachment %+v: want a non-empty ZIP with a hash", a)
		}
	}
}

// checkFindings: the fixture raises exactly the findings it is written for
// (fixtureFindings) and nothing else but identifier warnings.
func checkFindings(t *testing.T, name string, issues []Issue) {
	t.Helper()
	for _, want := range fixtureFindings[name] {
		if !slices.ContainsFunc(issues, func(i Issue) bool {
			return (want.code == "" || i.Code == want.code) && strings.Contains(i.Path, want.path)
		}) {
			t.Errorf("want a %q finding at …/%s; got:\n%s", want.code, want.path, issuesText(issues))
		}
	}
	for _, i := range issues {
		expected := slices.ContainsFunc(fixtureFindings[name], func(w struct {
			code IssueCode
			path string
		}) bool {
			return strings.Contains(i.Path, w.path)
		})
		if !expected && (i.Severity == SeverityError || i.Code != CodeIdentifier) {
			t.Errorf("unexpected finding: %v", i)
		}
	}
}

// externalWant is what the official samples (the external corpus) show.
var externalWant = map[string]packetWant{
	"edoc_new.edxml":                    {KindDocument, DocNew, "", 1, 1},
	"edoc_revocation.edxml":             {KindDocument, DocRevoke, "", 1, 3},
	"edoc_update.edxml":                 {KindDocument, DocUpdate, "", 1, 3},
	"edoc_replacement.edxml":            {KindDocument, DocReplace, "", 1, 3},
	"status.edxml":                      {KindStatus, DocNew, "01", 0, 0},
	"status_inbox_ 01.edxml":            {KindStatus, DocNew, "01", 0, 0},
	"status_rejection_02.edxml":         {KindStatus, DocNew, "02", 0, 0},
	"status_acceptance_03.edxml":        {KindStatus, DocNew, "03", 0, 0},
	"status_assignment_04.edxml":        {KindStatus, DocNew, "04", 0, 0},
	"status_processing_05.edxml":        {KindStatus, DocNew, "05", 0, 0},
	"status_finish_06.edxml":            {KindStatus, DocNew, "06", 0, 0},
	"status_cancellation_13.edxml":      {KindStatus, DocNew, "13", 0, 0},
	"status_change-acceptance_15.edxml": {KindStatus, DocNew, "15", 0, 0},
	"status_change-rejection_16.edxml":  {KindStatus, DocNew, "16", 0, 0},
}

// externalBroken is the official sample that is not well-formed: a nested
// <From> closed by </MessageHeader> (line 76 of the file).
const externalBroken = "edoc.edxml"

// TestExternalSamplesParse runs the official SDK samples when
// LGSP_EXTERNAL_EDXML_SAMPLES names their folder.
func TestExternalSamplesParse(t *testing.T) {
	for _, f := range testenv.ExternalEdXMLSamples(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p, err := parseFile(t, f, nil)
			if name == externalBroken {
				assertBroken(t, name, err, 0)
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			w, ok := externalWant[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			checkPacket(t, p, w)
			if HasErrors(Validate(p)) {
				t.Errorf("sample has validation errors:\n%s", issuesText(Validate(p)))
			}
		})
	}
}

// assertBroken: a packet that is not well-formed fails with edxml.syntax,
// a position and the path of the open element (at line, when line > 0).
func assertBroken(t *testing.T, name string, err error, line int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: want *Error, got %v", name, err)
	}
	if e.Code != CodeSyntax || e.Line == 0 || e.Col == 0 || !strings.Contains(e.Path, "MessageHeader") || (line > 0 && e.Line != line) {
		t.Fatalf("%s: want edxml.syntax with line:col and path, got %v", name, e)
	}
	t.Logf("%s (expected failure): %v", name, e)
}

func issuesText(is []Issue) string {
	var b strings.Builder
	for _, i := range is {
		b.WriteString(i.String() + "\n")
	}
	return b.String()
}

func TestFixturesRoundTrip(t *testing.T) { roundTrip(t, fixtures(t), "doc_broken.edxml") }

func TestExternalSamplesRoundTrip(t *testing.T) {
	roundTrip(t, testenv.ExternalEdXMLSamples(t), externalBroken)
}

// roundTrip: Build of a parsed packet parses back to the same packet.
func roundTrip(t *testing.T, files []string, broken string) {
	for _, f := range files {
		name := filepath.Base(f)
		if name == broken {
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
	raw, err := os.ReadFile(fixture("status_02_rejected.edxml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = strings.Replace(s, "<edXML:StatusCode>", `<edXML:ApplicationType kind="x">QLVB</edXML:ApplicationType><x:Note xmlns:x="urn:example:x" x:lang="vi">ghi chú <x:b>đậm</x:b></x:Note><edXML:StatusCode>`, 1)
	s = strings.Replace(s, "2025/03/15 10:11:00", "15/03/2025 10:11:00", 1)
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
	if !strings.Contains(buf.String(), "<Timestamp>2025/03/15 10:11:00</Timestamp>") {
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
