package wsdl

// One line per WSDL: fixgen checks the WSDL and its schemas (offline: a
// remote schema needs a local copy, -schema-dir), runs gowsdl on them,
// fixes its output into gen/<pkg>/<pkg>.go and writes gen/<pkg>/doc.go.
// generate_test.go reads these lines, runs them and vets the result.

//go:generate go run ./internal/fixgen -wsdl lgsp-edoc.wsdl -pkg lgspedoc -d gen
