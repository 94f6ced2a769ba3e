// Command fixgen post-processes a Go file that `go tool gowsdl` (v0.5.0)
// generated from a WSDL, so that the types are correct on the wire and the
// file only holds types:
//
//	go run ./wsdl/internal/fixgen -wsdl X.wsdl -file gen/pkg/file.go
//
// It reads every schema of the WSDL (inline, and local xsd:import /
// xsd:include files, which must sit next to it: remote schemaLocations are
// refused) and
//
//   - fails, naming the schema, when one is not elementFormDefault="qualified"
//     (gowsdl serialises unqualified schemas wrongly, docs/soap.md);
//   - strips `omitempty` from the xml tag of every required element
//     (minOccurs absent or ≥ 1, outside an xsd:choice) and required
//     attribute (use="required"), and keeps it on optional ones: gowsdl puts
//     it everywhere, so zero-valued required ints and bools vanish and strict
//     peers such as zeep refuse the message;
//   - removes gowsdl's client code (the port interfaces and the structs and
//     methods built on github.com/hooklift/gowsdl/soap.Client): LGSP calls
//     and serves SOAP with adapters/soap, never with gowsdl's runtime;
//   - adds a `// Code generated … DO NOT EDIT.` header when there is none and
//     gofmt's the result;
//   - writes doc.go next to the file: the package comment, the target
//     namespace, one Action<Operation> constant per operation (gowsdl
//     loses the soapAction of SOAP 1.2 bindings; both bindings of our WSDLs
//     use the same actions) and `var WSDL []byte`, the WSDL embedded from a
//     copy that fixgen puts next to the types (with its local schemas), so
//     a server publishes exactly what its types were generated from.
//     -doc=false skips doc.go and the copy.
//
// Fields it cannot match to a schema element are left as generated and
// listed on stderr. The output depends only on its inputs, so regenerating
// gives the same bytes (wsdl/generate_test.go checks it).
package main
