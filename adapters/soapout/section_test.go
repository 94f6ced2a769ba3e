package soapout_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// decodeOnly is a registry holding only the pushes: section, without its
// check against the SOAP bindings: these tests are about the schema.
func decodeOnly() *route.Sections {
	secs := route.NewSections()
	soap.RegisterBridgeField(secs)
	secs.RegisterGateway("ngsp") // registered by adapters/ngsp in a node
	sec := soapout.Section(func(string) (soap.Binding, bool) { return soap.Binding{}, false }, func() []string { return nil })
	sec.Check = nil
	secs.Register(sec)
	return secs
}

func TestPushesParse(t *testing.T) {
	dir := t.TempDir()
	src := `pushes:
  - system: 000.00.21.H60
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: NhanVanBan
    endpoint: http://qlvb.example.gov.vn/ws
    auth: {username_token: {user: lgsp, password_env: QLVB_PASSWORD, digest: true}}
    mapping: {MaGoiTin: exchange_id, SoKyHieu: "edxml:Code/CodeNumber", NoiDungEdXML: content}
  - system: 000.00.22.H60
    wsdl: consumed/qlvb-viettel.wsdl
    operation: ReceiveDocument
    endpoint: https://eoffice.example.gov.vn/doc
    version: "1.2"
    timeout: 20s
    schedule: "0 7 * * *"
    retry: {initial: 1s, max_attempts: 3}
    mapping: {Subject: title, "Attachment[].Data": attachment.content, Urgent: const:false}
    answer:
      success: {field: Accepted, equals: "true"}
      refusal: {field: DocumentId, prefix: "ERR:"}
services:
  - name: cau-noi
    owner: 000.00.21.H60
    endpoint: http://qlvb.example.gov.vn/ws
    scopes: [write]
    soap: {wsdl: consumed/qlvb-vnpt.wsdl, operation: NhanVanBan, mapping: {MaGoiTin: json:ma.so}}
`
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := route.LoadDirWith(dir, bus.DefaultSteps, decodeOnly())
	if err != nil {
		t.Fatal(err)
	}
	a, ok := soapout.PushTo(set, "000.00.21.H60")
	if !ok || a.Key() != "qlvb-vnpt/NhanVanBan" || a.Version != "" || a.Timeout != soapout.DefaultPushTimeout || a.Retry != bus.DefaultRetry ||
		a.Auth != (soap.Auth{User: "lgsp", PasswordEnv: "QLVB_PASSWORD", Digest: true}) || len(a.Mapping) != 3 || a.Mapping[1].Source != "edxml:Code/CodeNumber" {
		t.Fatalf("push a: %+v", a)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if !a.Plan(now).Equal(now) {
		t.Fatal("a push without schedule is due at once")
	}
	b, _ := soapout.PushTo(set, "000.00.22.H60")
	// 07:00 in Asia/Ho_Chi_Minh is 00:00 UTC.
	if b.Version != soap.Declared12 || b.Timeout != 20*time.Second || b.Retry.MaxAttempts != 3 || !b.Plan(now).Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("push b: %+v, plan %s", b, b.Plan(now))
	}
	if r := b.Answer; r.Success == nil || r.Success.Field != "Accepted" || r.Success.Equals != "true" || r.Refusal == nil || r.Refusal.Prefix != "ERR:" || a.Answer.Success != nil {
		t.Fatalf("answer rules: %+v / %+v", b.Answer, a.Answer)
	}
	if len(soapout.Pushes(set)) != 2 {
		t.Fatal(soapout.Pushes(set))
	}
	s, _ := set.Service("cau-noi")
	if br := soap.BridgeOf(s); br == nil || br.Key() != "qlvb-vnpt/NhanVanBan" || br.Mapping[0].Source != "json:ma.so" {
		t.Fatalf("bridge: %+v", br)
	}
}

func TestPushesLint(t *testing.T) {
	src := `pushes:
  - system: 000.00.21.H60
    wsdl: ../qlvb.wsdl
    operation: "Nhan Van Ban"
    endpoint: ftp://x
    version: "2.0"
    timeout: 60s
    auth: {username_token: {user: a, password_env: "mật khẩu"}}
    mapping: {TrichYeu: titel, "Attachment[].Data": attachment.content, Name: attachment.name}
    schedule: "0 0 30 2 *"
  - system: 000.00.21.H60
    wsdl: consumed/a.wsdl
    operation: Op
    endpoint: http://x
  - system: "bad code!"
    wsdl: consumed/b.wsdl
    operation: Op
    endpoint: http://x
    mapping: {A: content}
    answer: {success: {field: R, prefix: "OK", equals: "x"}, refusal: {field: "R[].X", present: false}}
services:
  - name: cau-noi
    owner: 000.00.21.H60
    endpoint: http://x
    scopes: [write]
    soap: {wsdl: consumed/a.wsdl, operation: Op, mapping: {A: title}}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := route.LoadDirWith(dir, bus.DefaultSteps, decodeOnly())
	var probs route.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("LoadDirWith = %v, want problems", err)
	}
	got := probs.Error()
	for _, want := range []string{
		`p.yaml:3:11: wsdl: "../qlvb.wsdl" must name a file in wsdl/consumed`,
		`p.yaml:4:16: operation: "Nhan Van Ban" is not an operation name`,
		`p.yaml:5:15: endpoint:`,
		`p.yaml:6:14: version: "2.0": expected "1.1" or "1.2"`,
		`p.yaml:7:14: timeout: 60s exceeds the maximum of 30s`,
		`p.yaml:8:52: password_env: "mật khẩu" must be the name of an environment variable`,
		`p.yaml:9:25: mapping: TrichYeu: unknown source "titel" (did you mean "title"?)`,
		`p.yaml:9:79: mapping: Name: attachment.name is a value of one attachment`,
		`p.yaml:10:15: schedule:`,
		`p.yaml:11:5: push: missing field "mapping"`,
		`p.yaml:15:13: system: "bad code!" is not an identifier code`,
		`p.yaml:26:63: mapping: A: unknown source "title"; a bridged service maps json:<path> or const:<text>`,
		`p.yaml:11:13: system 000.00.21.H60 already has a push`,
		`p.yaml:20:23: success: give exactly one of equals:, prefix: or present: true`,
		`p.yaml:20:79: field: "R[].X" is not a field of the generated answer type`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

// FuzzPushesSection feeds arbitrary bytes to the route file parser with
// the pushes: section and the soap: block of services registered: it must never panic, every problem has
// the file and a message, and a file read without a problem gives pushes
// with a system, an operation key and a mapping.
func FuzzPushesSection(f *testing.F) {
	f.Add([]byte("pushes:\n  - system: 000.00.21.H60\n    wsdl: consumed/qlvb-vnpt.wsdl\n    operation: NhanVanBan\n    endpoint: http://x\n    mapping: {A: title, \"B[].C\": attachment.name}\n    retry: {max_attempts: 3, jitter: 0.1}\n    answer: {success: {field: R, prefix: OK}}\n"))
	f.Add([]byte("pushes: &a [*a]\n"))
	f.Add([]byte("services:\n  - name: b\n    owner: 000.00.21.H60\n    endpoint: http://x\n    scopes: [write]\n    soap: {wsdl: consumed/a.wsdl, operation: Op, version: \"1.2\", auth: {username_token: {user: u, password_env: P}}, mapping: {A: json:a.b}}\n    gateway: ngsp\n"))
	f.Add([]byte("pushes:\n  - {system: 1, answer: {success: {field: [x]}}, mapping: {\"\": \"\"}}\n"))
	secs := decodeOnly()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, parts, ps := route.ParseFileWith("f.yaml", data, bus.DefaultSteps, secs)
		for _, p := range ps {
			if p.File != "f.yaml" || p.Msg == "" {
				t.Fatalf("malformed problem %#v", p)
			}
		}
		if len(ps) > 0 {
			return
		}
		list, _ := parts[soapout.SectionName].([]*soapout.Push)
		for _, p := range list {
			if p.System == "" || p.Key() == "/" || len(p.Mapping) == 0 {
				t.Fatalf("push accepted incomplete: %+v", p)
			}
		}
	})
}

// TestBridgeBlock: the soap: block of services is declared by adapters/soap
// (route.ServiceField), not by bus/route: without it a soap: block is an
// unknown field; with it the block is read, and a bridge that also names a
// gateway is refused at the gateway's position.
func TestBridgeBlock(t *testing.T) {
	src := "services:\n  - name: b\n    owner: 000.00.21.H60\n    endpoint: http://x\n    scopes: [write]\n    soap: {wsdl: consumed/a.wsdl, operation: Op}\n"
	_, _, _, ps := route.ParseFileWith("g.yaml", []byte(src), bus.DefaultSteps, route.NewSections())
	if len(ps) != 1 || ps[0].String() != `g.yaml:6:5: unknown field "soap" (known: description, endpoint, gateway, headers, max_bytes, max_inflight, name, owner, retry, scopes, timeout)` {
		t.Fatalf("without the field: %v", ps)
	}
	_, svcs, _, ps := route.ParseFileWith("g.yaml", []byte(src), bus.DefaultSteps, decodeOnly())
	if len(ps) != 0 || soap.BridgeOf(svcs[0]) == nil || soap.BridgeOf(svcs[0]).Key() != "a/Op" {
		t.Fatalf("with the field: %v %+v", ps, svcs)
	}
	_, _, _, ps = route.ParseFileWith("g.yaml", []byte(src+"    gateway: ngsp\n"), bus.DefaultSteps, decodeOnly())
	if len(ps) != 1 || ps[0].String() != "g.yaml:7:14: gateway: a SOAP bridge service cannot call through a gateway" {
		t.Fatalf("bridge with a gateway: %v", ps)
	}
}
