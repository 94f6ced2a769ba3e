package test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/tuyenquang/lgsp/adapters/soapout" // registers the pushes: section and its check
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
	_ "github.com/tuyenquang/lgsp/wsdl/consumed" // registers the consumed operations
)

// TestRouteCheckUnregisteredOperation: a push naming a SOAP operation that
// no generated package registers is refused when the routes load (start-up,
// reload, `lgsp routes lint`) with its position, not found dead at the
// first delivery; a registered one loads.
func TestRouteCheckUnregisteredOperation(t *testing.T) {
	dir := t.TempDir()
	push := func(op string) string {
		return `pushes:
  - system: 000.00.05.H60
    wsdl: consumed/qlvb-vnpt.wsdl
    operation: ` + op + `
    endpoint: http://127.0.0.1:9/qlvb
    version: "1.1"
    mapping: {MaGoiTin: exchange_id, MaDinhDanhGui: source, MaDinhDanhNhan: recipient, TrichYeu: title, DoKhan: priority, LoaiDuLieu: const:edoc, NoiDungEdXML: content, SoKyHieu: "edxml:MessageHeader/Code/CodeNotation"}
`
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "day.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(push("KhongCo"))
	_, err := service.LoadRoutes(dir)
	var ps route.Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("LoadRoutes = %v, want one problem", err)
	}
	if p := ps[0]; !strings.HasSuffix(p.File, "day.yaml") || p.Line != 2 || !strings.Contains(p.Msg, `"qlvb-vnpt/KhongCo" is not registered`) {
		t.Fatalf("problem = %s", p)
	}
	write(push("NhanVanBan"))
	if _, err := service.LoadRoutes(dir); err != nil {
		t.Fatalf("a registered operation was refused: %v", err)
	}
}

// TestRouteCheckMappingTypes: `lgsp routes lint` (service.LoadRoutes)
// checks a push's mapping and answer rule against the generated types of
// a real-world-shaped JAX-WS WSDL, each problem at its position: a path
// that does not resolve, a value that cannot be set (text into a
// dateTime, a constant that is not a date), raw XML, an answer field that
// does not exist, and the required elements left unmapped. Values are
// never quoted.
func TestRouteCheckMappingTypes(t *testing.T) {
	dir := t.TempDir()
	src := `pushes:
  - system: 000.00.31.H60
    wsdl: consumed/dossier-jaxws.wsdl
    operation: pushDocument
    endpoint: http://127.0.0.1:9/dossier
    mapping:
      Arg0.Code: exchange_id
      Arg0.Titel: title
      Arg0.ReceivedAt: title
      Arg0.DueDate: const:31/12/2026
      Arg0.Extra.InnerXML: title
    answer: {success: {field: Result, equals: "0"}}
`
	if err := os.WriteFile(filepath.Join(dir, "jax.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := service.LoadRoutes(dir)
	var ps route.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("LoadRoutes = %v", err)
	}
	got := ps.Error()
	for _, want := range []string{
		"jax.yaml:8:7: push to 000.00.31.H60: mapping: Arg0.Titel: dossierjaxws.OssDocument has no field Titel (fields: ",
		"jax.yaml:9:7: push to 000.00.31.H60: mapping: Arg0.ReceivedAt: title is text and cannot go into soap.XSDDateTime",
		"jax.yaml:10:7: push to 000.00.31.H60: mapping: Arg0.DueDate: the constant cannot go into soap.XSDDate",
		"jax.yaml:11:7: push to 000.00.31.H60: mapping: Arg0.Extra.InnerXML holds raw XML (xsd:any)",
		"jax.yaml:2:5: push to 000.00.31.H60: mapping: required element(s) of PushDocument not mapped: Arg0.Title, Arg0.Status, Arg0.Range_, Arg0.Agency (an empty",
		"jax.yaml:12:23: push to 000.00.31.H60: answer: Result: dossierjaxws.PushDocumentResponse has no field Result",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "31/12/2026") {
		t.Errorf("a value is quoted:\n%s", got)
	}
}
