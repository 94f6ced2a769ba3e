// Package wsdl holds the WSDLs LGSP publishes and consumes, and the
// go:generate lines (generate.go) that turn them into Go types under gen/:
// `go tool gowsdl` (v0.5.0, pinned in go.mod) writes the types, then
// wsdl/internal/fixgen fixes them (omitempty only on optional elements,
// qualified schemas only, no gowsdl client code, a DO NOT EDIT header, a
// doc.go with the target namespace and SOAP actions).
//
// Published: lgsp-edoc.wsdl, the document-exchange service for QLVB systems
// (adapters/qlvb, types in gen/lgspedoc). Consumed WSDLs live in consumed/.
//
// Run `go generate ./wsdl/...` after editing a WSDL and commit the result;
// generate_test.go fails when the committed code differs from a fresh
// generation. docs/soap-systems.md explains how to add a WSDL.
package wsdl
