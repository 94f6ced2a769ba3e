// Package transform holds the route steps that work on edXML packets
// (QCVN 102): edxml_validate, xmldsig_verify, xmldsig_sign, and the two
// mappings that turn what province systems send into an edXML document
// packet, edxml_from_json (the JSON document shape of docs/edxml.md) and
// edxml_from_xml (a legacy XML body with a declarative field mapping in the
// route file).
//
// Like package pipeline, each step is one file, steps_<kind>.go, with its
// configuration struct, its StepSpec (summary and example for
// docs/routes.md) and an init() that registers it in bus.DefaultSteps.
// Configurations are decoded strictly; file paths in them (keys,
// certificates, CRLs) are resolved against the folder of the route file
// (bus.RoutesDirSetter) unless absolute, and are read when the route is
// loaded, so a missing or bad file is a lint error.
//
// Bad content fails the step with bus.ErrStepFailed whose detail names the
// edXML issue code (edxml.required …) or the XML-DSig code (xmldsig.tampered
// …), the element path and line:col; warnings become message labels.
//
// The JSON mapping (PacketFromJSON) never holds an attachment in memory: a
// first pass over the JSON checks every files[].content_base64 value and
// records where it is, and edxml.Build later streams each value again,
// decoding it while it writes. No plaintext is spooled to disk (R2).
//
// transform imports only bus, bus/edxml, bus/xmldsig and the standard
// library. Import it for its side effect (`import _
// "github.com/tuyenquang/lgsp/bus/transform"`) wherever routes are loaded.
package transform
