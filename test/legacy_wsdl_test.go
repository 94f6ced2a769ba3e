package test

// Issue 17: real-world-shaped legacy WSDLs (wsdl/consumed/dossier-jaxws.wsdl,
// JAX-WS RI style: unqualified schema imported remotely, a qualified
// imported schema, extension base, dates, enumeration, xsd:any, reserved
// words; wsdl/consumed/hoadon-asmx.wsdl, .NET ASMX style: ArrayOfInt,
// dateTime, SOAP 1.1 and 1.2 bindings, errors answered as "ERR:n") pushed
// to by a node, each request checked on the wire by a server that
// validates the body element against the WSDL's own schemas with xmllint.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
	"github.com/tuyenquang/lgsp/test/testenv"
)

const (
	pushJAX      = "000.00.31.H60" // JAX-WS RI dossier service
	pushASMX     = "000.00.32.H60" // .NET ASMX e-invoice service, SOAP 1.2 (the binding's default)
	pushASMX11   = "000.00.33.H60" // the same, SOAP 1.1 by the route
	pushCrash    = "000.00.34.H60" // a binding whose request panics
	jaxSchema    = "../wsdl/consumed/gen/dossierjaxws/schemas/127.0.0.1_8080_dossier_DossierService_xsd_1.xsd"
	asmxWSDL     = "../wsdl/consumed/gen/hoadonasmx/hoadon-asmx.wsdl"
	asmxSchemaNS = `xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://hoadon.example.vn/"`
)

// crashArmed makes the crash-test binding's request panic (lint builds one
// at load time, before the test arms it).
var crashArmed atomic.Bool

func init() {
	soapout.Register("crash-test/Boom", soapout.Binding{
		Action: "urn:boom",
		NewRequest: func() any {
			if crashArmed.Load() {
				var m map[string]int
				m["boom"]++ // a nil map write: a run-time panic of a bad generated type
			}
			return &struct {
				XMLName xml.Name `xml:"urn:boom Boom"`
				A       string   `xml:"urn:boom A,omitempty"`
			}{}
		},
	})
}

// validating is a legacy SOAP endpoint that validates the body element of
// every request against an XSD with xmllint (offline) and answers answer.
type validating struct {
	t      *testing.T
	xsd    string
	answer func(body []byte) string // the answer's body element

	mu     sync.Mutex
	bodies [][]byte
	errs   []string
	ctypes []string
}

func (v *validating) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	body, ns, err := bodyElement(data)
	verr := ""
	if err != nil {
		verr = err.Error()
	} else {
		verr = xmllintValidate(v.t, v.xsd, body)
	}
	v.mu.Lock()
	v.bodies = append(v.bodies, body)
	v.errs = append(v.errs, verr)
	v.ctypes = append(v.ctypes, r.Header.Get("Content-Type"))
	v.mu.Unlock()
	if verr != "" {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `<s:Envelope xmlns:s="%s"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>schema validation failed</faultstring></s:Fault></s:Body></s:Envelope>`, ns)
		return
	}
	ct := "text/xml; charset=utf-8"
	if ns == soap.V12.Namespace() {
		ct = "application/soap+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="%s"><s:Body>%s</s:Body></s:Envelope>`, ns, v.answer(body))
}

func (v *validating) received() (bodies [][]byte, errs, ctypes []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][]byte(nil), v.bodies...), append([]string(nil), v.errs...), append([]string(nil), v.ctypes...)
}

// bodyElement cuts the first element of the SOAP Body out of an envelope;
// our client writes it with its own namespace declarations.
func bodyElement(env []byte) ([]byte, string, error) {
	d := xml.NewDecoder(bytes.NewReader(env))
	var envNS string
	inBody := false
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, envNS, fmt.Errorf("no body element: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local == "Envelope":
			envNS = se.Name.Space
		case se.Name.Local == "Body" && se.Name.Space == envNS:
			inBody = true
		case inBody:
			if err := d.Skip(); err != nil {
				return nil, envNS, err
			}
			return env[off:d.InputOffset()], envNS, nil
		}
	}
}

// xmllintValidate validates doc against xsd, offline; "" when valid.
func xmllintValidate(t *testing.T, xsd string, doc []byte) string {
	f := filepath.Join(t.TempDir(), "body.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		return err.Error()
	}
	out, err := exec.Command(testenv.RequireTool(t, "xmllint"), "--noout", "--nonet", "--schema", xsd, f).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return ""
}

// asmxSchema writes the inline schema of the ASMX WSDL as an XSD.
func asmxSchema(t *testing.T) string {
	w, err := os.ReadFile(asmxWSDL)
	if err != nil {
		t.Fatal(err)
	}
	s := string(w)
	i, j := strings.Index(s, "<s:schema "), strings.Index(s, "</s:schema>")
	if i < 0 || j < 0 {
		t.Fatal("no inline schema in the ASMX WSDL")
	}
	xsd := "<s:schema " + asmxSchemaNS + " " + s[i+len("<s:schema "):j] + "</s:schema>"
	p := filepath.Join(t.TempDir(), "asmx.xsd")
	if err := os.WriteFile(p, []byte(xsd), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLegacyWSDLPushes(t *testing.T) {
	testenv.RequireTool(t, "xmllint")
	jax := &validating{t: t, xsd: jaxSchema, answer: func([]byte) string {
		// JAX-WS RI answers with a prefixed wrapper and an unqualified child.
		return `<ns2:pushDocumentResponse xmlns:ns2="http://ws.dossier.egov.example.vn/"><return>0</return></ns2:pushDocumentResponse>`
	}}
	asmx := &validating{t: t, xsd: asmxSchema(t), answer: func(body []byte) string {
		res := "OK:1/001;C26TAA;0000012"
		if bytes.Contains(body, []byte("ERR-PLEASE")) {
			res = "ERR:20"
		}
		return `<ImportInvResponse xmlns="http://hoadon.example.vn/"><ImportInvResult>` + res + `</ImportInvResult></ImportInvResponse>`
	}}
	jaxSrv, asmxSrv := httptest.NewServer(jax), httptest.NewServer(asmx)
	t.Cleanup(jaxSrv.Close)
	t.Cleanup(asmxSrv.Close)
	var crashCalls atomic.Int32
	crashSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { crashCalls.Add(1) }))
	t.Cleanup(crashSrv.Close)

	asmxMapping := `{XmlInvData: content, Username: const:lgsp, Convert: const:0, IssueDate: created_at,
      PatternIds.Int: priority, Serials.Astring: "edxml:Code/CodeNotation", InvType: const:VAT}
    answer:
      success: {field: ImportInvResult, prefix: "OK:"}
      refusal: {field: ImportInvResult, prefix: "ERR:"}`
	routes := fmt.Sprintf(`pushes:
  - system: %s
    description: JAX-WS RI dossier service (unqualified schema, extension base, dates)
    wsdl: consumed/dossier-jaxws.wsdl
    operation: pushDocument
    endpoint: %s/dossier/DossierService
    mapping:
      Arg0.Code: exchange_id
      Arg0.Type_: data_type
      Arg0.Title: title
      Arg0.ReceivedAt: created_at
      Arg0.DueDate: const:2026-12-31
      Arg0.OfficeHour: const:08:30:00
      Arg0.Status: const:NEW
      Arg0.Range_: priority
      Arg0.Agency.AgencyCode: source
      Arg0.Files[].FileName: attachment.name
      Arg0.Files[].Content: attachment.content
      Arg1: recipient
    answer: {success: {field: Return_, equals: "0"}}
  - system: %s
    description: .NET ASMX e-invoice service, the binding's SOAP 1.2
    wsdl: consumed/hoadon-asmx.wsdl
    operation: ImportInv
    endpoint: %s/PublishService.asmx
    mapping: %s
  - system: %s
    wsdl: consumed/hoadon-asmx.wsdl
    operation: ImportInv
    endpoint: %s/PublishService.asmx
    version: "1.1"
    mapping: %s
  - system: %s
    wsdl: consumed/crash-test.wsdl
    operation: Boom
    endpoint: %s/boom
    mapping: {A: title}
    retry: {initial: 100ms, max_attempts: 5}
`, pushJAX, jaxSrv.URL, pushASMX, asmxSrv.URL, asmxMapping, pushASMX11, asmxSrv.URL, asmxMapping, pushCrash, crashSrv.URL)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "legacy.yaml"), []byte(routes), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	n.system(t, pushSender, "Văn phòng UBND tỉnh")
	for _, c := range []string{pushJAX, pushASMX, pushASMX11, pushCrash} {
		n.system(t, c, "Hệ thống "+c)
		n.grant(t, "exchange", pushSender, c, "edoc")
	}
	packet := vxpsim.SamplePacket("000.00.20.H60", []string{pushJAX}, "Hồ sơ một cửa", []byte("%PDF-1.7 hồ sơ"))
	packet = bytes.Replace(bytes.Replace(packet, []byte("<Value>"), []byte("<ContentTransferEncoded>"), 1), []byte("</Value>"), []byte("</ContentTransferEncoded>"), 1)

	t.Run("JAX-WS RI: unqualified on the wire, valid against the WSDL", func(t *testing.T) {
		id := sendPacket(t, n, pushJAX, "Hồ sơ một cửa", "urgent", packet)
		eventually(t, "confirmed", func() (bool, error) { return recipientStatus(t, n, id, pushJAX) == store.RecipientConfirmed, nil })
		bodies, errs, _ := jax.received()
		if len(bodies) != 1 || errs[0] != "" {
			t.Fatalf("%d requests; validation: %v\n%s", len(bodies), errs, bodies)
		}
		b := string(bodies[0])
		for _, want := range []string{
			`<pushDocument xmlns="http://ws.dossier.egov.example.vn/"><arg0 xmlns=""><code>` + id + `</code><type>edoc</type><title>`,
			`<agency xmlns="http://common.egov.example.vn/"><agencyCode>` + pushSender + `</agencyCode></agency>`,
			`<dueDate>2026-12-31</dueDate><officeHour>08:30:00</officeHour><status>NEW</status><range>1</range>`,
			`<files><fileName>`, `</arg0><arg1 xmlns="">` + pushJAX + `</arg1></pushDocument>`,
		} {
			if !strings.Contains(b, want) {
				t.Errorf("on the wire: missing %s in\n%s", want, b)
			}
		}
	})

	t.Run("ASMX: SOAP 1.2 from the binding, ERR answer is dead at once", func(t *testing.T) {
		id := sendPacket(t, n, pushASMX, "Hóa đơn viện phí", "normal", packet)
		eventually(t, "confirmed", func() (bool, error) { return recipientStatus(t, n, id, pushASMX) == store.RecipientConfirmed, nil })
		bodies, errs, ctypes := asmx.received()
		if len(bodies) != 1 || errs[0] != "" || !strings.HasPrefix(ctypes[0], "application/soap+xml") {
			t.Fatalf("requests %d, validation %v, content types %v\n%s", len(bodies), errs, ctypes, bodies)
		}
		if b := string(bodies[0]); !strings.Contains(b, `<convert>0</convert><issueDate>`) || !strings.Contains(b, `<patternIds><int>0</int></patternIds>`) || !strings.Contains(b, "<invType>VAT</invType>") {
			t.Errorf("on the wire:\n%s", b)
		}

		refused := bytes.Replace(packet, []byte("Hồ sơ một cửa"), []byte("ERR-PLEASE"), 1)
		id = sendPacket(t, n, pushASMX11, "Hóa đơn lỗi", "normal", refused)
		eventually(t, "the refusal is recorded", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_push_failed")) == 1, nil })
		var d map[string]any
		_ = json.Unmarshal([]byte(ledgerEvents(t, n, id, "soap_push_failed")[0].Detail), &d)
		if d["answer"] != "ERR:20" || d["answer_field"] != "ImportInvResult" || d["attempt"].(float64) != 1 || d["code"] != "service.fault" {
			t.Fatalf("failure detail %v: a refused answer is final at the first attempt", d)
		}
		if item := deadPush(t, n, id); !strings.Contains(item["last_error"].(string), `"ERR:20"`) || strings.Contains(item["last_error"].(string), "ERR-PLEASE") {
			t.Fatalf("dead item %v: the answer's text, never the document", item)
		}
		if s := recipientStatus(t, n, id, pushASMX11); s == store.RecipientConfirmed {
			t.Fatal("a refused answer must not confirm the delivery")
		}
		_, errs, ctypes = asmx.received()
		if !strings.HasPrefix(ctypes[len(ctypes)-1], "text/xml") || errs[len(errs)-1] != "" {
			t.Fatalf("version \"1.1\" in the route: %v; validation %v", ctypes, errs)
		}
	})

	t.Run("a panicking push is that item's failure; the node survives", func(t *testing.T) {
		crashArmed.Store(true)
		defer crashArmed.Store(false)
		id := sendPacket(t, n, pushCrash, "Văn bản", "normal", packet)
		eventually(t, "the panic is recorded", func() (bool, error) { return len(ledgerEvents(t, n, id, "soap_push_failed")) == 1, nil })
		if item := deadPush(t, n, id); !strings.Contains(item["last_error"].(string), "panicked") || item["attempts"].(float64) != 1 {
			t.Fatalf("dead item %v", item)
		}
		if crashCalls.Load() != 0 {
			t.Fatal("the crashing push reached its endpoint")
		}
		// Still serving: another push goes through.
		id = sendPacket(t, n, pushJAX, "Hồ sơ sau sự cố", "normal", packet)
		eventually(t, "confirmed after the panic", func() (bool, error) { return recipientStatus(t, n, id, pushJAX) == store.RecipientConfirmed, nil })
	})
}
