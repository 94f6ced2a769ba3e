// Package xmldsig owns XML digital signatures (XML-DSig) of the documents
// that cross the bus, edXML packets first: signing a document with an
// enveloped signature, and verifying one against a real trust model.
//
// Signing (Signer) puts one ds:Signature as the last child of the document
// root. It references the root by its Id/ID attribute when it has one and
// with URI="" otherwise, uses RSA-SHA256 (RSA-SHA1 for legacy peers) and
// exclusive C14N (inclusive C14N 1.0 on request), and carries the signer's
// certificate chain in KeyInfo. Keys and certificates come from PEM files
// or from one PKCS#12 file (go-pkcs12: the standard library cannot read
// them). Comments are never signed: URI="" and URI="#id" exclude them even
// under a #WithComments canonicalization, in Sign and in Verify alike.
//
// Verifying (Verifier) refuses oversized input, DOCTYPE and ENTITY
// declarations and non-UTF-8 documents before it parses anything, finds the
// one enveloped signature, builds and checks the X.509 chain of the KeyInfo
// certificate against configured roots with x509.Verify (validity dates and
// optional CRLs included), and only then checks the signature value with
// that verified leaf's key. goxmldsig on its own compares the leaf against
// pinned certificates and does no chain validation. Verify streams
// (stream_verify.go): the document is digested by a byte scanner without a
// tree, only the ds:Signature becomes one; what the scanner does not handle
// goes to goxmldsig's Validate on a DOM, as before. The caller continues
// only with what the signature covers (Result.Signed), never with the
// input: that is the defence against signature wrapping. Policy decides, per route or per connected system,
// whether a signature is required, checked when present, or ignored; the
// placeholder signatures the national axis still carries (docs/xmldsig.md, placeholders)
// become warnings, not failures, unless a signature is required.
//
// Every error this package returns is an *Error with a stable code
// ("xmldsig.tampered", ...); the bus maps the codes into its catalogue.
// docs/xmldsig.md is the description for integrators.
//
// Package xmldsig may import only bus, the standard library,
// github.com/beevik/etree and github.com/russellhaering/goxmldsig (today it
// needs no bus import). It never imports adapters or other bus/<job>
// packages, so any of them can use it.
package xmldsig
