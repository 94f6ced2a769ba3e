package test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/tuyenquang/lgsp/adapters/soapout" // registers the SOAP operation check
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
