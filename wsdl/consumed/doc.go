// Package consumed holds the WSDLs of legacy systems that LGSP calls (their
// own services, which LGSP pushes documents to or bridges REST callers to),
// the go:generate lines that turn them into Go types under gen/<pkg>/ with
// gowsdl, and, by importing every generated package, the registrations of
// their operations (soapout.Register) so that route files can name them.
//
// Adding a system: drop its WSDL here, add a go:generate line to
// generate.go, run `go generate ./wsdl/consumed/`, write gen/<pkg>/register.go
// with one soapout.Register line per operation, import the package below,
// and write a route (docs/soap-systems.md, "Adding a legacy system").
//
// gen/ngspdanhmuc (ngsp-danhmuc.wsdl, an NGSP legacy SOAP service) is not
// registered nor imported here on purpose: it needs the NGSP Bearer token,
// which routes do not send; adapters/ngsp.DanhMuc calls it
// (docs/gateways.md §3).
package consumed

import (
	_ "github.com/tuyenquang/lgsp/wsdl/consumed/gen/dossierjaxws" // registers dossier-jaxws/pushDocument (JAX-WS RI style)
	_ "github.com/tuyenquang/lgsp/wsdl/consumed/gen/hoadonasmx"   // registers hoadon-asmx/ImportInv (.NET ASMX style)
	_ "github.com/tuyenquang/lgsp/wsdl/consumed/gen/qlvbviettel"  // registers qlvb-viettel/ReceiveDocument
	_ "github.com/tuyenquang/lgsp/wsdl/consumed/gen/qlvbvnpt"     // registers qlvb-vnpt/NhanVanBan
)
