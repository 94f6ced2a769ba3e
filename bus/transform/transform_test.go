package transform

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/test/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = time.Date(2025, 3, 14, 9, 30, 0, 0, edxml.VN)

func init() { now = func() time.Time { return fixedNow } }

// build makes a step the way the route loader does: the routes folder is
// set first, then the configuration is decoded strictly.
func build(t *testing.T, kind, cfg, dir string) (bus.Step, error) {
	t.Helper()
	spec, ok := bus.DefaultSteps.Lookup(kind)
	if !ok {
		t.Fatalf("step %q is not registered", kind)
	}
	return spec.New(func(into any) error {
		if s, ok := into.(bus.RoutesDirSetter); ok {
			s.SetRoutesDir(dir)
		}
		d := yaml.NewDecoder(strings.NewReader(cfg))
		d.KnownFields(true)
		if err := d.Decode(into); err != nil && err != io.EOF {
			return err
		}
		return nil
	})
}

func mustBuild(t *testing.T, kind, cfg, dir string) bus.Step {
	t.Helper()
	s, err := build(t, kind, cfg, dir)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return s
}

// message returns a message whose payload is content; Replace swaps it and
// counts the opens (the JSON mapping re-reads its input per attachment).
func message(content []byte, mediaType string) *bus.Message {
	m := &bus.Message{ExchangeID: "ex_test", Source: "000.00.00.H60", Recipients: []string{"000.00.01.H60", "000.00.02.H60"},
		Title: "Công văn thử nghiệm", Importance: "urgent", DataType: "edoc-json", MediaType: mediaType, Size: int64(len(content))}
	m.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }
	m.Replace = func(_ context.Context, mt string, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		content = b
		m.MediaType, m.Size = mt, int64(len(b))
		return nil
	}
	return m
}

func payload(t *testing.T, m *bus.Message) []byte {
	t.Helper()
	rc, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bus/transform -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./bus/transform -update and review the diff):\n%s", path, got)
	}
}

// checkPacket parses and validates a produced packet with edxml and with
// the real xmllint against xsd/edxml.xsd; xmllint missing is a failure.
func checkPacket(t *testing.T, raw []byte) *edxml.Packet {
	t.Helper()
	p, err := edxml.Parse(bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	for _, i := range edxml.Validate(p) {
		if i.Severity == edxml.SeverityError {
			t.Errorf("validate: %v", i)
		}
	}
	xmllint(t, raw)
	return p
}

func xmllint(t *testing.T, raw []byte) {
	t.Helper()
	bin := testenv.RequireTool(t, "xmllint")
	f := filepath.Join(t.TempDir(), "packet.xml")
	if err := os.WriteFile(f, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", "../../xsd/edxml.xsd", f).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint rejected the packet: %v\n%s", err, out)
	}
}

func TestFromJSONGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/json/*.json")
	if len(files) == 0 {
		t.Fatal("no inputs in testdata/json")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			m := message(src, "application/json")
			if err := mustBuild(t, "edxml_from_json", "{}", ".").Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if m.MediaType != "application/xml" {
				t.Errorf("media type = %q", m.MediaType)
			}
			out := payload(t, m)
			golden(t, strings.TrimSuffix(in, ".json")+".edxml", out)
			p := checkPacket(t, out)
			var doc Document
			if err := jsonDecode(src, &doc); err != nil {
				t.Fatal(err)
			}
			if len(p.Attachments) != len(doc.Files) {
				t.Fatalf("%d attachments, want %d", len(p.Attachments), len(doc.Files))
			}
			for i, f := range doc.Files {
				raw, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(f.ContentBase64))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(raw)
				if a := p.Attachments[i]; a.SHA256 != hex.EncodeToString(sum[:]) || a.Size != int64(len(raw)) {
					t.Errorf("attachment %d: size %d sha %s, want %d %x", i, a.Size, a.SHA256, len(raw), sum)
				}
			}
			mh := p.Envelope.Header.MessageHeader
			if mh.From.OrganId != "000.00.00.H60" || len(mh.To) != 2 || mh.To[1].OrganId != "000.00.02.H60" {
				t.Errorf("From/To not from the exchange: %+v %+v", mh.From, mh.To)
			}
			if m.Labels["edxml.files"] == "" {
				t.Errorf("labels = %v", m.Labels)
			}
		})
	}
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestFromXMLGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/xml/*.xml")
	if len(files) == 0 {
		t.Fatal("no inputs in testdata/xml")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := os.ReadFile(strings.TrimSuffix(in, ".xml") + ".map.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m := message(src, "application/xml")
			if err := mustBuild(t, "edxml_from_xml", string(cfg), ".").Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			out := payload(t, m)
			golden(t, strings.TrimSuffix(in, ".xml")+".edxml", out)
			p := checkPacket(t, out)
			mh := p.Envelope.Header.MessageHeader
			if mh.Subject != "Báo cáo tình hình & kết quả" || mh.Code.String() != "45/UBND-TH" || mh.PromulgationInfo.PromulgationDate.String() != "2025/03/14" {
				t.Errorf("mapped fields: %q %q %v", mh.Subject, mh.Code, mh.PromulgationInfo)
			}
			if mh.To[0].OrganName != "Văn phòng UBND tỉnh" || len(mh.ToPlaces.Place) != 2 || mh.OtherInfo.Priority != "1" {
				t.Errorf("mapped repeated fields: %+v %+v %+v", mh.To, mh.ToPlaces, mh.OtherInfo)
			}
		})
	}
}

func TestFromJSONErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `<xml/>`, "expected an object"},
		{"trailing data", `{} {}`, "data after the object"},
		{"truncated", `{"subject": "x`, "ends too early"},
		{"unknown field", `{"subjekt": "x"}`, "an unknown field (7 characters, sha256:"},
		{"bad base64", `{"files":[{"name":"a","content_base64":"@@@@"}]}`, "files[0].content_base64: invalid base64"},
		{"bad escape", `{"files":[{"name":"a","content_base64":"QQ\"=="}]}`, `files[0].content_base64: unexpected escape \"`},
		{"second file bad", `{"files":[{"name":"a","content_base64":"QQ=="},{"name":"b","content_base64":"Q"}]}`, "files[1].content_base64"},
		{"no content", `{"files":[{"name":"a"}]}`, "files[0].content_base64 is required"},
		{"no name", `{"files":[{"content_base64":"QQ=="}]}`, "files[0].name is required"},
		{"to not a recipient", `{"to":[{"organ_id":"000.00.09.H60"}]}`, "to[0].organ_id (13 characters, sha256:ec02da2f) is not a recipient"},
		{"bad date", `{"promulgation":{"date":"14.03.2025"}}`, "promulgation.date: date"},
		{"bad number", `{"page_amount": true}`, "page_amount"},
		{"too deep", strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), "nested deeper"},
	}
	s := mustBuild(t, "edxml_from_json", "", ".")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Process(context.Background(), message([]byte(tt.in), "application/json"))
			if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Process = %v, want step failure containing %q", err, tt.want)
			}
		})
	}
}

// TestFromJSONStreams checks that a large file is streamed: the packet is
// right and the JSON is read again for the attachment.
func TestFromJSONStreams(t *testing.T) {
	raw := make([]byte, 3<<20+7)
	_, _ = rand.Read(raw)
	doc := `{"from":{"organ_name":"X"},"files":[{"name":"big.bin","content_base64":"` + base64.StdEncoding.EncodeToString(raw) + `"}]}`
	opens := 0
	open := func() (io.ReadCloser, error) { opens++; return io.NopCloser(strings.NewReader(doc)), nil }
	p, err := PacketFromJSON(open, Meta{Source: "000.00.00.H60", Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := edxml.Build(&out, p); err != nil {
		t.Fatal(err)
	}
	if opens != 2 {
		t.Errorf("the JSON was opened %d times, want 2 (scan, then stream the file)", opens)
	}
	q, err := edxml.Parse(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if a := q.Attachments[0]; a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("attachment sha %s, want %x", a.SHA256, sum)
	}
}

func TestValidateStep(t *testing.T) {
	good, err := os.ReadFile("testdata/json/cong-van.edxml")
	if err != nil {
		t.Fatal(err)
	}
	m := message(good, "application/xml")
	if err := mustBuild(t, "edxml_validate", "", ".").Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Labels["edxml.kind"] != "document" {
		t.Errorf("labels = %v", m.Labels)
	}
	// A dotted OrganId is accepted with a warning, recorded as labels.
	warn := bytes.Replace(good, []byte("<OrganId>000.00.02.H60</OrganId>"), []byte("<OrganId>H60.DN.001</OrganId>"), 1)
	m = message(warn, "application/xml")
	if err := mustBuild(t, "edxml_validate", "", ".").Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Labels["edxml.warnings"] == "" || !strings.Contains(fmt.Sprint(m.Labels), "edxml.identifier /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]/OrganId at 18:") {
		t.Errorf("warning labels = %v", m.Labels)
	}
	if err := mustBuild(t, "edxml_validate", "warnings_are_errors: true", ".").Process(context.Background(), message(warn, "")); bus.CodeOf(err) != bus.ErrStepFailed.Code {
		t.Errorf("warnings_are_errors: %v", err)
	}
	bad := bytes.Replace(good, []byte("<Subject>"), []byte("<Subject>\n"), 1)
	bad = bytes.Replace(bad, []byte("<CodeNotation>UBND-VP</CodeNotation>"), []byte("<CodeNotation></CodeNotation>"), 1)
	err = mustBuild(t, "edxml_validate", "", ".").Process(context.Background(), message(bad, ""))
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "edxml.required /edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Code/CodeNotation at ") {
		t.Errorf("missing notation: %v", err)
	}
	err = mustBuild(t, "edxml_validate", "", ".").Process(context.Background(), message([]byte("<edXML xmlns=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">\n  <edXMLEnvelope>\n</edXML>"), ""))
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "edxml.syntax") || !strings.Contains(err.Error(), " at 3:") {
		t.Errorf("syntax error: %v", err)
	}
	err = mustBuild(t, "edxml_validate", "kinds: [status]", ".").Process(context.Background(), message(good, ""))
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "a document packet is not accepted") {
		t.Errorf("kinds: %v", err)
	}
	err = mustBuild(t, "edxml_validate", "", ".").Process(context.Background(), &bus.Message{})
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "no content") {
		t.Errorf("no content: %v", err)
	}
}

// pki writes a test CA and a signing key and certificate issued by it into
// dir: ca.pem, key.pem, cert.pem.
func pki(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "LGSP Test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "UBND tỉnh Tuyên Quang (test)"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("cert.pem", "CERTIFICATE", leafDER)
	write("key.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	good, err := os.ReadFile("testdata/json/cong-van.edxml")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{
		`{key_file: key.pem, cert_file: cert.pem}`,
		`{key_file: key.pem, cert_file: cert.pem, algorithm: rsa-sha1, c14n: inclusive}`,
	} {
		t.Run(cfg, func(t *testing.T) {
			m := message(good, "application/xml")
			if err := mustBuild(t, "xmldsig_sign", cfg, dir).Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			signed := payload(t, m)
			if m.Labels["xmldsig.signed-by"] != "UBND tỉnh Tuyên Quang (test)" || m.MediaType != "application/xml" {
				t.Errorf("labels %v, media type %s", m.Labels, m.MediaType)
			}
			checkPacket(t, signed)
			m = message(signed, "application/xml")
			if err := mustBuild(t, "xmldsig_verify", "{roots: [ca.pem]}", dir).Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if m.Labels["xmldsig.status"] != "verified" || m.Labels["xmldsig.signer"] != "UBND tỉnh Tuyên Quang (test)" {
				t.Errorf("labels = %v", m.Labels)
			}
			tampered := bytes.Replace(signed, []byte("Nguyễn Văn A"), []byte("Nguyễn Văn B"), 1)
			err := mustBuild(t, "xmldsig_verify", "{roots: [ca.pem]}", dir).Process(context.Background(), message(tampered, ""))
			if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "xmldsig.tampered") {
				t.Errorf("tampered: %v", err)
			}
		})
	}
	abs := filepath.Join(dir, "ca.pem")
	err = mustBuild(t, "xmldsig_verify", "{roots: ["+abs+"]}", "/nonexistent").Process(context.Background(), message(good, ""))
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "xmldsig.no_signature") {
		t.Errorf("unsigned under require: %v", err)
	}
	m := message(good, "")
	if err := mustBuild(t, "xmldsig_verify", "{roots: [ca.pem], policy: verify_if_present}", dir).Process(context.Background(), m); err != nil || m.Labels["xmldsig.status"] != "unsigned" {
		t.Errorf("unsigned under verify_if_present: %v %v", err, m.Labels)
	}
	if err := mustBuild(t, "xmldsig_verify", "{policy: ignore}", dir).Process(context.Background(), message(good, "")); err != nil {
		t.Errorf("ignore: %v", err)
	}
}

func TestFactoryErrors(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	tests := []struct{ kind, cfg, want string }{
		{"edxml_validate", `kinds: [letter]`, `kinds: "letter" is not a packet kind`},
		{"edxml_validate", `strict: true`, "field strict not found"},
		{"edxml_from_json", `subject: x`, "field subject not found"},
		{"xmldsig_verify", `{}`, "roots: at least one PEM file"},
		{"xmldsig_verify", `{roots: [ca.pem], policy: maybe}`, `unknown signature policy "maybe"`},
		{"xmldsig_verify", `{roots: [missing.pem]}`, "missing.pem: no such file"},
		{"xmldsig_verify", `{roots: [key.pem]}`, "no PEM CERTIFICATE block"},
		{"xmldsig_verify", `{roots: [ca.pem], crl: [x]}`, "field crl not found"},
		{"xmldsig_sign", `{cert_file: cert.pem}`, "key_file is required"},
		{"xmldsig_sign", `{key_file: key.pem, cert_file: cert.pem, algorithm: ecdsa}`, `algorithm "ecdsa"`},
		{"xmldsig_sign", `{key_file: key.pem, cert_file: cert.pem, c14n: c14n11}`, `c14n "c14n11"`},
		{"xmldsig_sign", `{key_file: key.pem, cert_file: ca.pem}`, "xmldsig.key"},
		{"xmldsig_sign", `{key_file: nope.pem}`, "nope.pem"},
		{"xmldsig_sign", `{key_file: key.pem, password_env: LGSP_TEST_UNSET_VAR}`, "LGSP_TEST_UNSET_VAR is not set"},
		{"edxml_from_xml", `{}`, "map: at least one target is required"},
		{"edxml_from_xml", `map: {"MessageHeader/Subjekt": "/a/b"}`, `unknown edXML target "MessageHeader/Subjekt"`},
		{"edxml_from_xml", `map: {"MessageHeader/Subject": "a/b"}`, "must start with '/'"},
		{"edxml_from_xml", `map: {"MessageHeader/Subject": "/a[0]/b"}`, "index in \"a[0]\""},
		{"edxml_from_xml", `map: {"MessageHeader/Subject": "/a/@b/c"}`, "@attribute must be the last step"},
		{"edxml_from_xml", `{map: {"MessageHeader/Subject": "/a"}, set: {"MessageHeader/ToPlaces/Place": "x"}}`, "set: MessageHeader/ToPlaces/Place is repeated"},
		{"edxml_from_xml", `{map: {"MessageHeader/Subject": "/a"}, set: {"From/OrganId": "x"}}`, `set: unknown edXML target "From/OrganId"`},
		{"edxml_from_xml", `{map: {"MessageHeader/Subject": "/a"}, extra: 1}`, "field extra not found"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.cfg, func(t *testing.T) {
			_, err := build(t, tt.kind, tt.cfg, dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("factory error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFromXMLErrors(t *testing.T) {
	s := mustBuild(t, "edxml_from_xml", `map: {"MessageHeader/Subject": "/a/b"}`, ".")
	for in, want := range map[string]string{
		`<a><b>x</a>`: "XML body",
		`<!DOCTYPE a [<!ENTITY x "y">]><a><b>&x;</b></a>`: "DOCTYPE and entity declarations are refused",
		`{"json": true}`: "XML body",
	} {
		err := s.Process(context.Background(), message([]byte(in), ""))
		if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	m := message([]byte(`<a><b>  Trích yếu  </b><b>second</b></a>`), "")
	if err := s.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p, err := edxml.Parse(bytes.NewReader(payload(t, m)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Envelope.Header.MessageHeader.Subject; got != "Trích yếu" {
		t.Errorf("Subject = %q (first match, trimmed)", got)
	}
}

// TestSpecsDocumented checks that every step of this package has a summary
// and an example that builds (docs/routes.md is generated from them).
func TestSpecsDocumented(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	pki(t, filepath.Join(dir, "testdata"))
	for _, kind := range []string{"edxml_validate", "xmldsig_verify", "xmldsig_sign", "edxml_from_json", "edxml_from_xml"} {
		spec, ok := bus.DefaultSteps.Lookup(kind)
		if !ok {
			t.Fatalf("step %q is not registered", kind)
		}
		if spec.Summary == "" || !strings.HasSuffix(spec.Summary, ".") {
			t.Errorf("%s: summary %q is not a sentence", kind, spec.Summary)
		}
		var items []map[string]yaml.Node
		if err := yaml.Unmarshal([]byte(spec.Example), &items); err != nil || len(items) != 1 || len(items[0]) != 1 {
			t.Fatalf("%s: example %q is not a one-item step list: %v", kind, spec.Example, err)
		}
		cfg, ok := items[0][kind]
		if !ok {
			t.Fatalf("%s: example does not use the kind %q", kind, kind)
		}
		out, err := yaml.Marshal(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		if kind == "xmldsig_sign" { // the example names production paths
			text = strings.NewReplacer("/etc/lgsp/keys/sign-key.pem", "testdata/key.pem", "/etc/lgsp/keys/sign-cert.pem", "testdata/cert.pem").Replace(text)
		}
		if _, err := build(t, kind, text, dir); err != nil {
			t.Errorf("%s: example does not build: %v", kind, err)
		}
	}
}
