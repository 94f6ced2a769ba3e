package wsdl

// Each WSDL: gowsdl writes the types into gen/<pkg>/<pkg>.go, then fixgen
// fixes that file in place and writes gen/<pkg>/doc.go. Keep the two lines
// of a WSDL together; generate_test.go reads these lines and runs them.

//go:generate go tool gowsdl -d gen -p lgspedoc -o lgspedoc.go lgsp-edoc.wsdl
//go:generate go run ./internal/fixgen -wsdl lgsp-edoc.wsdl -file gen/lgspedoc/lgspedoc.go
