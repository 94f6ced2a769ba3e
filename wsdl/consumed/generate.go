package consumed

// Types of the consumed WSDLs: gowsdl v0.5.0 (pinned as a tool in go.mod)
// writes gen/<pkg>/<pkg>.go, then fixgen fixes that file in place (required
// elements lose omitempty, schemas must be qualified) and writes
// gen/<pkg>/doc.go. Keep the two lines of a WSDL together. The runtime that
// calls them is adapters/soap, not gowsdl's; gen/<pkg>/register.go
// registers each operation (soapout.Register).
//
//go:generate go tool gowsdl -d gen -p qlvbvnpt -o qlvbvnpt.go qlvb-vnpt.wsdl
//go:generate go run ../internal/fixgen -wsdl qlvb-vnpt.wsdl -file gen/qlvbvnpt/qlvbvnpt.go
//go:generate go tool gowsdl -d gen -p qlvbviettel -o qlvbviettel.go qlvb-viettel.wsdl
//go:generate go run ../internal/fixgen -wsdl qlvb-viettel.wsdl -file gen/qlvbviettel/qlvbviettel.go
//go:generate go tool gowsdl -d gen -p ngspdanhmuc -o ngspdanhmuc.go ngsp-danhmuc.wsdl
//go:generate go run ../internal/fixgen -wsdl ngsp-danhmuc.wsdl -file gen/ngspdanhmuc/ngspdanhmuc.go
