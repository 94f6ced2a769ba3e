// Command fixgen turns a WSDL into Go types with gowsdl (v0.5.0, pinned as
// a tool in go.mod) and fixes what gowsdl gets wrong, so that the types are
// exactly right on the wire and the package only holds types:
//
//	go run ./wsdl/internal/fixgen -wsdl X.wsdl -pkg p [-d gen] [-schema-dir dir]
//	go run ./wsdl/internal/fixgen -wsdl X.wsdl -file gen/p/p.go   (fix only)
//
// Before gowsdl runs it reads the WSDL and every schema it imports and
// refuses, with file:line and what to ask the vendor for:
//
//   - XML that is not well-formed (a stray closing tag in a schema);
//   - an rpc-style binding or operation (LGSP calls document/literal);
//   - a wsdl:import (one WSDL file is read);
//   - a remote xsd:import/include schemaLocation (http://…?xsd=1, what
//     JAX-WS publishes) without a local copy: fixgen never opens a network
//     connection. The message names the copy's file; with -schema-dir the
//     copy is used: the WSDL and its schemas are staged in a temporary
//     directory with the remote locations pointing at the copies, and
//     gowsdl runs on that (its proxy set to a closed loopback port, so a
//     missed fetch fails instead of leaving the machine).
//
// Then it fixes gowsdl's output:
//
//   - every element field's tag names the namespace its schema puts the
//     element in: the target namespace for qualified elements, none for
//     unqualified ones (elementFormDefault absent or "unqualified", the
//     JAX-WS default, or form=), the referenced element's for ref=, per
//     element and per schema, imported schemas included; adapters/soap
//     writes xmlns="" for tags without a namespace (the SOAPExactNamespaces
//     method marks the message types);
//   - type-level XMLNames are kept only on message part elements; gowsdl
//     puts one on every named complex type, which encoding/xml refuses at
//     marshal time when a field of another name uses the type;
//   - `omitempty` is stripped from required elements (minOccurs absent or
//     ≥ 1, outside an xsd:choice), required attributes and repeated
//     elements (encoding/xml applies it to each item; a required repeated
//     element gets the tag xsd:"required" instead, for route lint);
//   - unexported fields (.NET's ArrayOfInt item "int") are exported;
//   - the content of an xsd:any is kept as raw XML (InnerXML) instead of
//     being dropped;
//   - gowsdl's client code (the port interfaces and the structs and
//     methods built on github.com/hooklift/gowsdl/soap.Client) is removed;
//   - a `// Code generated … DO NOT EDIT.` header is added when there is
//     none and the result is gofmt'ed;
//   - doc.go is written next to the file: the package comment, the target
//     namespace, one Action<Operation> constant per operation and
//     `var WSDL []byte`, the (staged) WSDL embedded from a copy next to the
//     types, with its local schemas. -doc=false skips doc.go and the copy.
//
// Fields it cannot match to a schema element are left as generated and
// listed on stderr. The output depends only on its inputs, so regenerating
// gives the same bytes (wsdl/generate_test.go checks it and vets gen/).
package main
