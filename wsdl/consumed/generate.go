package consumed

// Types of the consumed WSDLs, one line per WSDL: fixgen checks the WSDL
// and its schemas offline (a remote schema needs a local copy, given with
// -schema-dir), runs gowsdl v0.5.0 (pinned as a tool in go.mod) on them,
// fixes its output into gen/<pkg>/<pkg>.go (each element tagged with its
// namespace, qualified or not; required elements without omitempty; no
// type-level XMLName but on message elements) and writes gen/<pkg>/doc.go.
// The runtime that calls them is adapters/soap, not gowsdl's;
// gen/<pkg>/register.go registers each operation (soapout.Register).
//
//go:generate go run ../internal/fixgen -wsdl qlvb-vnpt.wsdl -pkg qlvbvnpt -d gen
//go:generate go run ../internal/fixgen -wsdl qlvb-viettel.wsdl -pkg qlvbviettel -d gen
//go:generate go run ../internal/fixgen -wsdl ngsp-danhmuc.wsdl -pkg ngspdanhmuc -d gen
//go:generate go run ../internal/fixgen -wsdl dossier-jaxws.wsdl -pkg dossierjaxws -d gen -schema-dir schemas
//go:generate go run ../internal/fixgen -wsdl hoadon-asmx.wsdl -pkg hoadonasmx -d gen
