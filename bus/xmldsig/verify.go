package xmldsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Policy says what a route or a connected system demands of signatures.
type Policy int

const (
	// Require refuses documents without a valid signature; placeholders
	// and missing signatures are errors.
	Require Policy = iota
	// VerifyIfPresent verifies a real signature and refuses the document
	// when it fails; a missing signature is fine and a placeholder is a
	// warning.
	VerifyIfPresent
	// Ignore never verifies; a placeholder is still reported as a warning.
	Ignore
)

func (p Policy) String() string {
	switch p {
	case Require:
		return "require"
	case VerifyIfPresent:
		return "verify_if_present"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ParsePolicy maps the names used in route files and system settings
// ("require", "verify_if_present", "ignore") to a Policy.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{Require, VerifyIfPresent, Ignore} {
		if s == p.String() {
			return p, nil
		}
	}
	return Require, fmt.Errorf("unknown signature policy %q (want require, verify_if_present or ignore)", s)
}

// Verifier checks enveloped XML signatures against a trust model. The zero
// value trusts nothing: Roots must be set. A Verifier is safe for
// concurrent use once configured.
type Verifier struct {
	// Roots are the trusted CAs (or pinned self-signed signer
	// certificates). Nil refuses every signature: the system pool is never
	// used.
	Roots *x509.CertPool
	// Intermediates are used to build chains in addition to the
	// certificates the signer put into KeyInfo.
	Intermediates *x509.CertPool
	// CRLs are checked for every certificate of the chain but the root.
	// A CRL counts only when its signature verifies with the issuer.
	CRLs []*x509.RevocationList
	// Now is the time certificates and CRLs are checked at; nil is
	// time.Now.
	Now func() time.Time
	// MaxBytes bounds the document size; zero is DefaultMaxBytes.
	MaxBytes int64
	// IDAttributes are the root attributes a Reference URI="#id" may name;
	// nil is Id, ID, id.
	IDAttributes []string
	// RejectSHA1 refuses SHA-1 signatures and digests instead of warning.
	RejectSHA1 bool
	// Limits bounds the document's shape before the DOM is built
	// (xmldsig.too_complex); zero fields take xmlscan.Defaults.
	Limits xmlscan.Limits
}

// Result describes a verified signature.
type Result struct {
	// Cert is the signer's certificate, Chain the verified chain from it
	// to a root (Chain[0] == Cert).
	Cert  *x509.Certificate
	Chain []*x509.Certificate
	// Algorithm is the short name ("rsa-sha256"); SignatureMethod,
	// DigestMethod and C14NMethod are the algorithm URIs of the signature.
	Algorithm       string
	SignatureMethod string
	DigestMethod    string
	C14NMethod      string
	// ReferenceURI is "" or "#<id of the root>".
	ReferenceURI string
	Warnings     []Warning

	// What Signed returns: the DOM path's verified element (signed), or
	// what the stream path digested (covered; it keeps a reference to the
	// document, so a Result held keeps the document in memory).
	signed  []byte
	covered *covered
}

// Accepted algorithm URIs.
var (
	signatureMethods = map[string]string{
		dsig.RSASHA1SignatureMethod:     "rsa-sha1",
		dsig.RSASHA256SignatureMethod:   "rsa-sha256",
		dsig.RSASHA384SignatureMethod:   "rsa-sha384",
		dsig.RSASHA512SignatureMethod:   "rsa-sha512",
		dsig.ECDSASHA256SignatureMethod: "ecdsa-sha256",
		dsig.ECDSASHA384SignatureMethod: "ecdsa-sha384",
		dsig.ECDSASHA512SignatureMethod: "ecdsa-sha512",
	}
	digestMethods = map[string]string{
		"http://www.w3.org/2000/09/xmldsig#sha1":        "sha1",
		"http://www.w3.org/2001/04/xmlenc#sha256":       "sha256",
		"http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
		"http://www.w3.org/2001/04/xmlenc#sha512":       "sha512",
	}
	c14nMethods = map[string]bool{
		string(dsig.CanonicalXML10ExclusiveAlgorithmId):             true,
		string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId): true,
		string(dsig.CanonicalXML10RecAlgorithmId):                   true,
		string(dsig.CanonicalXML10WithCommentsAlgorithmId):          true,
		string(dsig.CanonicalXML11AlgorithmId):                      true,
		string(dsig.CanonicalXML11WithCommentsAlgorithmId):          true,
	}
)

// placeholderPrefix is the start of the static SignatureValue that every
// VPCP SDK sample and the Bkav builder carry (docs/xmldsig.md, placeholders).
const placeholderPrefix = "GbVb8n9+qFxz466Ag0sbpVdLPs2R0+9JBekp12Uy"

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxBytes() int64 {
	if v.MaxBytes > 0 {
		return v.MaxBytes
	}
	return DefaultMaxBytes
}

// Verify checks the enveloped signature of doc under the Require policy.
// Warnings are in Result.Warnings.
func (v *Verifier) Verify(doc []byte) (*Result, error) {
	res, _, err := v.Check(doc, Require)
	return res, err
}

// VerifyReader is Verify for a stream: it reads at most MaxBytes+1 bytes
// and refuses a longer document with xmldsig.too_large without reading on.
// The document is held once: in a buffer of the announced size when r
// knows it (a file, a bytes or strings reader), and Verify reads that
// buffer in place.
func (v *Verifier) VerifyReader(r io.Reader) (*Result, error) {
	doc, err := readLimited(r, v.maxBytes())
	if err != nil {
		return nil, err
	}
	return v.Verify(doc)
}

// Check applies policy p to doc. It returns a Result only when a signature
// was verified; warnings (placeholders under a lenient policy, SHA-1, CRL
// findings) come back in both Result.Warnings and the slice. Oversized,
// DTD-carrying and malformed documents are errors under every policy.
//
// Check streams (stream_verify.go): it builds a tree of the ds:Signature
// only and digests the document with the streaming canonicaliser. What
// the streamer does not handle goes to the DOM path (checkDOM), which
// decides as before.
func (v *Verifier) Check(doc []byte, p Policy) (*Result, []Warning, error) {
	if int64(len(doc)) > v.maxBytes() {
		return nil, nil, newErr(CodeTooLarge, fmt.Sprintf("document exceeds %d bytes", v.maxBytes()), nil)
	}
	doc = trimBOM(doc)
	if err := precheck(doc, v.Limits); err != nil {
		return nil, nil, err
	}
	res, warns, err := v.checkStream(doc, p)
	if errors.Is(err, errFallback) {
		return v.checkDOM(doc, p)
	}
	return res, warns, err
}

// checkDOM is Check on a DOM of the whole document (BOM trimmed, precheck
// passed): the path for what the streamer does not handle.
func (v *Verifier) checkDOM(doc []byte, p Policy) (*Result, []Warning, error) {
	d, err := parseDoc(doc)
	if err != nil {
		return nil, nil, err
	}
	root := d.Root()
	sigs := findSignatures(root)
	var sigEl *etree.Element
	if len(sigs.dsig) == 1 {
		sigEl = sigs.dsig[0]
	}
	var other *etree.Element
	if len(sigs.other) > 0 {
		other = sigs.other[0]
	}
	verify, warns, err := decide(p, len(sigs.dsig), other, sigEl)
	if !verify {
		return nil, warns, err
	}
	res, err := v.verify(root, sigEl)
	if err != nil {
		return nil, nil, err
	}
	return res, res.Warnings, nil
}

// decide applies policy p to what a document carries: nds ds:Signature
// elements (sig is the one when nds is 1), and other, the first element
// named Signature in another namespace (or nil). verify says whether sig
// is to be verified; otherwise warns and err are Check's answer.
func decide(p Policy, nds int, other, sig *etree.Element) (verify bool, warns []Warning, err error) {
	var placeholder string
	switch {
	case nds == 0 && other != nil:
		placeholder = fmt.Sprintf("element %s is not an XML-DSig signature (namespace %s)", clip(other.FullTag()), safeURI(other.NamespaceURI()))
	case nds == 1:
		placeholder = placeholderReason(sig)
	case nds > 1 && p != Ignore:
		return false, nil, newErr(CodeWrapped, fmt.Sprintf("document holds %d signatures, exactly one is accepted", nds), nil)
	}
	switch {
	case placeholder != "":
		if p == Require || (p != VerifyIfPresent && p != Ignore) {
			return false, nil, newErr(CodePlaceholder, placeholder, nil)
		}
		return false, []Warning{{Code: CodePlaceholder, Msg: placeholder}}, nil
	case nds != 1:
		if p == VerifyIfPresent || p == Ignore {
			return false, nil, nil
		}
		return false, nil, newErr(CodeNoSignature, "document is not signed", nil)
	case p == Ignore:
		return false, nil, nil
	}
	return true, nil, nil
}

// placeholderReason says why sig is a placeholder, or "" when it looks like
// a real signature (which may still fail verification).
func placeholderReason(sig *etree.Element) string {
	sv := dsChildren(sig, "SignatureValue")
	if len(sv) == 1 {
		val := strings.Join(strings.Fields(sv[0].Text()), "")
		switch {
		case val == "":
			return "SignatureValue is empty"
		case strings.HasPrefix(val, placeholderPrefix):
			return "SignatureValue is the static placeholder of the national axis SDK samples"
		}
	}
	for _, si := range dsChildren(sig, "SignedInfo") {
		for _, ref := range dsChildren(si, "Reference") {
			for _, dv := range dsChildren(ref, "DigestValue") {
				if strings.TrimSpace(dv.Text()) == "" {
					return "DigestValue is empty"
				}
			}
		}
	}
	for _, ki := range dsChildren(sig, "KeyInfo") {
		for _, xd := range dsChildren(ki, "X509Data") {
			for _, xc := range dsChildren(xd, "X509Certificate") {
				if _, err := parseCertText(xc.Text()); err != nil {
					return "X509Certificate is truncated or not a certificate"
				}
			}
		}
	}
	return ""
}

// dsChildren returns the child elements of e named tag in the XML-DSig
// namespace.
func dsChildren(e *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == dsig.Namespace {
			out = append(out, c)
		}
	}
	return out
}

func parseCertText(s string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// one returns the only child of e named tag, or a malformed error.
func one(e *etree.Element, tag string) (*etree.Element, error) {
	c := dsChildren(e, tag)
	if len(c) != 1 {
		return nil, newErr(CodeMalformed, fmt.Sprintf("%s has %d %s elements, want 1", e.Tag, len(c), tag), nil)
	}
	return c[0], nil
}

// checkSignedInfo checks the shape of sig, its algorithms and the
// transforms of its one Reference, which it returns.
func (v *Verifier) checkSignedInfo(sig *etree.Element) (*Result, *etree.Element, error) {
	res := &Result{}
	if len(dsChildren(sig, "KeyInfo")) > 1 {
		return nil, nil, newErr(CodeMalformed, "Signature has more than one KeyInfo", nil)
	}
	if _, err := one(sig, "SignatureValue"); err != nil {
		return nil, nil, err
	}
	si, err := one(sig, "SignedInfo")
	if err != nil {
		return nil, nil, err
	}
	cm, err := one(si, "CanonicalizationMethod")
	if err != nil {
		return nil, nil, err
	}
	res.C14NMethod = cm.SelectAttrValue("Algorithm", "")
	if !c14nMethods[res.C14NMethod] {
		return nil, nil, newErr(CodeAlgorithm, fmt.Sprintf("canonicalization %s is not accepted", safeURI(res.C14NMethod)), nil)
	}
	sm, err := one(si, "SignatureMethod")
	if err != nil {
		return nil, nil, err
	}
	res.SignatureMethod = sm.SelectAttrValue("Algorithm", "")
	name, ok := signatureMethods[res.SignatureMethod]
	if !ok {
		return nil, nil, newErr(CodeAlgorithm, fmt.Sprintf("signature method %s is not accepted", safeURI(res.SignatureMethod)), nil)
	}
	res.Algorithm = name
	ref, err := one(si, "Reference")
	if err != nil {
		return nil, nil, err
	}
	dm, err := one(ref, "DigestMethod")
	if err != nil {
		return nil, nil, err
	}
	res.DigestMethod = dm.SelectAttrValue("Algorithm", "")
	digest, ok := digestMethods[res.DigestMethod]
	if !ok {
		return nil, nil, newErr(CodeAlgorithm, fmt.Sprintf("digest method %s is not accepted", safeURI(res.DigestMethod)), nil)
	}
	if strings.HasSuffix(name, "sha1") || digest == "sha1" {
		if v.RejectSHA1 {
			return nil, nil, newErr(CodeAlgorithm, "SHA-1 signatures are not accepted", nil)
		}
		res.Warnings = append(res.Warnings, Warning{Code: WarnSHA1, Msg: "signature uses SHA-1; ask the sender for RSA-SHA256"})
	}
	if err := checkTransforms(ref); err != nil {
		return nil, nil, err
	}
	return res, ref, nil
}

// verify checks the one signature sig under root. It does everything
// goxmldsig does not (shape, algorithms, reference target, chain, CRLs)
// first, then lets goxmldsig check digest and signature value with the
// verified leaf as its only trusted certificate.
func (v *Verifier) verify(root, sig *etree.Element) (*Result, error) {
	res, ref, err := v.checkSignedInfo(sig)
	if err != nil {
		return nil, err
	}
	idAttr, err := v.checkReference(root, ref)
	if err != nil {
		return nil, err
	}
	res.ReferenceURI = ref.SelectAttrValue("URI", "")

	chain, warns, err := v.checkCertificates(sig)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warns...)
	res.Cert, res.Chain = chain[0], chain

	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{chain[0]}})
	vctx.IdAttribute = idAttr
	vctx.Clock = dsig.NewFakeClockAt(v.now())
	verified, err := vctx.Validate(withoutComments(root))
	if err != nil {
		return nil, mapValidateError(err)
	}
	out := etree.NewDocument()
	out.SetRoot(verified)
	if res.signed, err = out.WriteToBytes(); err != nil {
		return nil, newErr(CodeMalformed, "writing verified element", err)
	}
	return res, nil
}

// withoutComments returns root without its comment nodes (a copy when it
// has any), except those inside the ds:Signature (Check has made sure
// there is one). Dereferencing URI="" or URI="#id" (the only references
// we accept) yields a node-set without comments (XML-DSig
// 1.0 §4.3.3.3); only the XPointer forms #xpointer(/) and #xpointer(id())
// keep them. A #WithComments canonicalization over such a reference
// therefore digests no comment, which goxmldsig does not know: it would
// canonicalize the comments and refuse what xmlsec1 accepts. Stripping
// them first makes both agree, and keeps comments (which the signature
// does not cover) out of Result.Signed. The signature itself is left as it
// is: its SignedInfo is canonicalized with its own method.
func withoutComments(root *etree.Element) *etree.Element {
	if !hasComment(root) {
		return root // goxmldsig copies it anyway; spare a third tree
	}
	c := root.Copy()
	stripComments(c)
	return c
}

// stripComments removes the comments under root, in place, except those
// inside a ds:Signature.
func stripComments(root *etree.Element) {
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e.Tag == "Signature" && e.NamespaceURI() == dsig.Namespace {
			continue
		}
		var kept []etree.Token
		comments := false
		for _, t := range e.Child {
			switch t := t.(type) {
			case *etree.Comment:
				comments = true
				continue
			case *etree.Element:
				stack = append(stack, t)
			}
			kept = append(kept, t)
		}
		if comments {
			replaceChildren(e, kept)
		}
	}
}

// hasComment reports whether a comment appears anywhere under root.
func hasComment(root *etree.Element) bool {
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range e.Child {
			switch t := t.(type) {
			case *etree.Comment:
				return true
			case *etree.Element:
				stack = append(stack, t)
			}
		}
	}
	return false
}

// replaceChildren makes kept the children of e in linear time (etree's
// RemoveChildAt renumbers the siblings after the one removed, so removing
// from the end is the only cheap way).
func replaceChildren(e *etree.Element, kept []etree.Token) {
	for i := len(e.Child) - 1; i >= 0; i-- {
		e.RemoveChildAt(i)
	}
	for _, t := range kept {
		e.AddChild(t)
	}
}

// checkTransforms accepts exactly the enveloped-signature transform and at
// most one canonicalization: nothing else (XPath, XSLT, base64) is run.
func checkTransforms(ref *etree.Element) error {
	ts := dsChildren(ref, "Transforms")
	if len(ts) != 1 {
		return newErr(CodeMalformed, "Reference needs one Transforms element with the enveloped-signature transform", nil)
	}
	enveloped, c14n := 0, 0
	for _, t := range ts[0].ChildElements() {
		alg := t.SelectAttrValue("Algorithm", "")
		switch {
		case t.Tag != "Transform" || t.NamespaceURI() != dsig.Namespace:
			return newErr(CodeMalformed, "unexpected element "+clip(t.FullTag())+" in Transforms", nil)
		case alg == string(dsig.EnvelopedSignatureAltorithmId):
			enveloped++
		case c14nMethods[alg]:
			c14n++
		default:
			return newErr(CodeAlgorithm, fmt.Sprintf("transform %s is not accepted", safeURI(alg)), nil)
		}
	}
	if enveloped != 1 || c14n > 1 {
		return newErr(CodeMalformed, "Transforms must hold the enveloped-signature transform once and at most one canonicalization", nil)
	}
	return nil
}

// checkReference makes sure the one Reference points at the root: URI=""
// or "#<id>" where the root carries that id and no other element does.
// It returns the name of the root's id attribute for goxmldsig.
func (v *Verifier) checkReference(root, ref *etree.Element) (string, error) {
	attrs := v.idAttrs()
	id, err := referenceID(ref)
	if err != nil || id == "" {
		return attrs[0], err
	}
	rootAttr := ""
	for _, a := range attrs {
		if root.SelectAttrValue(a, "") == id {
			rootAttr = a
			break
		}
	}
	holders := 0
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, a := range e.Attr {
			if a.Value == id && a.Space == "" && contains(attrs, a.Key) {
				holders++
				break
			}
		}
		stack = append(stack, e.ChildElements()...)
	}
	return rootAttr, judgeReference(id, rootAttr, holders)
}

func (v *Verifier) idAttrs() []string {
	if len(v.IDAttributes) == 0 {
		return []string{"Id", "ID", "id"}
	}
	return v.IDAttributes
}

// referenceID returns the id the one Reference names ("" for URI="") or
// refuses a URI that is neither "" nor "#<id>".
func referenceID(ref *etree.Element) (string, error) {
	uri := ref.SelectAttr("URI")
	if uri == nil {
		return "", newErr(CodeWrapped, "Reference has no URI; it must reference the document root", nil)
	}
	if uri.Value == "" {
		return "", nil
	}
	if !strings.HasPrefix(uri.Value, "#") || len(uri.Value) == 1 || strings.HasPrefix(uri.Value, "#xpointer(") {
		return "", newErr(CodeAlgorithm, fmt.Sprintf("reference URI %s is not accepted; use \"\" or \"#<id of the root>\"", valueRef(uri.Value)), nil)
	}
	return uri.Value[1:], nil
}

// judgeReference refuses a reference to id unless the root carries it (in
// its attribute rootAttr) and no other element does (holders counts the
// elements carrying it, the root included).
func judgeReference(id, rootAttr string, holders int) error {
	switch {
	case rootAttr == "" && holders > 0:
		return newErr(CodeWrapped, fmt.Sprintf("signature references element with id %s, which is not the document root", valueRef(id)), nil)
	case rootAttr == "":
		return newErr(CodeWrapped, fmt.Sprintf("reference to id %s matches no element", valueRef(id)), nil)
	case holders > 1:
		return newErr(CodeWrapped, fmt.Sprintf("id %s is used by %d elements", valueRef(id), holders), nil)
	}
	return nil
}

// valueRef names a value taken from the document without quoting it: its
// length and the start of its SHA-256, enough to match it against the
// sender's copy.
func valueRef(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("[%d bytes, sha256 %x…]", len(s), sum[:4])
}

// safeURI quotes an algorithm or namespace URI when it looks like one
// (short, URI characters only: these identify algorithms, they are not
// document content) and refers to anything else by valueRef.
func safeURI(s string) string {
	if len(s) > 100 {
		return valueRef(s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":/#._-", r)) {
			return valueRef(s)
		}
	}
	return strconv.Quote(s)
}

// clip bounds a name quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkCertificates builds and verifies the chain of the KeyInfo
// certificate (the first X509Certificate is the signer's) and checks CRLs.
func (v *Verifier) checkCertificates(sig *etree.Element) ([]*x509.Certificate, []Warning, error) {
	ki := dsChildren(sig, "KeyInfo")
	if len(ki) != 1 {
		return nil, nil, newErr(CodeUntrustedCert, "signature carries no KeyInfo certificate", nil)
	}
	xd := dsChildren(ki[0], "X509Data")
	if len(xd) != 1 {
		return nil, nil, newErr(CodeUntrustedCert, fmt.Sprintf("KeyInfo has %d X509Data elements, want 1", len(xd)), nil)
	}
	var certs []*x509.Certificate
	for _, xc := range dsChildren(xd[0], "X509Certificate") {
		c, err := parseCertText(xc.Text())
		if err != nil {
			return nil, nil, newErr(CodeMalformed, "parsing KeyInfo certificate", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, newErr(CodeUntrustedCert, "signature carries no KeyInfo certificate", nil)
	}
	leaf := certs[0]
	if v.Roots == nil {
		return nil, nil, newErr(CodeUntrustedCert, "no trusted roots are configured", nil)
	}
	now := v.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, nil, newErr(CodeExpiredCert, fmt.Sprintf("signer certificate %q is valid from %s to %s", leaf.Subject.CommonName,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)), nil)
	}
	var warns []Warning
	switch pk := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if bits := pk.N.BitLen(); bits < 1024 {
			return nil, nil, newErr(CodeAlgorithm, fmt.Sprintf("RSA key of %d bits is too short", bits), nil)
		} else if bits < 2048 {
			warns = append(warns, Warning{Code: WarnWeakKey, Msg: fmt.Sprintf("signer's RSA key has %d bits", bits)})
		}
	case *ecdsa.PublicKey:
	default:
		return nil, nil, newErr(CodeAlgorithm, fmt.Sprintf("signer key type %T is not accepted", pk), nil)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, nil, newErr(CodeUntrustedCert, "signer certificate is not for digital signatures (key usage)", nil)
	}
	inter := x509.NewCertPool()
	if v.Intermediates != nil {
		inter = v.Intermediates.Clone()
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, nil, newErr(CodeExpiredCert, "a certificate of the signer's chain is outside its validity period", err)
		}
		return nil, nil, newErr(CodeUntrustedCert, fmt.Sprintf("signer certificate %q does not chain to a trusted root", leaf.Subject.CommonName), err)
	}
	chain := chains[0]
	w, err := v.checkRevocation(chain, now)
	if err != nil {
		return nil, nil, err
	}
	return chain, append(warns, w...), nil
}

// checkRevocation looks every certificate of chain but the root up in the
// CRLs issued by its issuer. A CRL whose signature does not verify with the
// issuer is ignored with a warning.
func (v *Verifier) checkRevocation(chain []*x509.Certificate, now time.Time) ([]Warning, error) {
	if len(v.CRLs) == 0 {
		return nil, nil
	}
	var warns []Warning
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		covered := false
		for _, crl := range v.CRLs {
			if !bytes.Equal(crl.RawIssuer, cert.RawIssuer) {
				continue
			}
			if err := crl.CheckSignatureFrom(issuer); err != nil {
				warns = append(warns, Warning{Code: WarnCRLInvalid, Msg: fmt.Sprintf("CRL of %q does not verify with the issuer and was ignored: %v", issuer.Subject.CommonName, err)})
				continue
			}
			covered = true
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				warns = append(warns, Warning{Code: WarnCRLStale, Msg: fmt.Sprintf("CRL of %q was due for update at %s", issuer.Subject.CommonName, crl.NextUpdate.UTC().Format(time.RFC3339))})
			}
			for _, rc := range crl.RevokedCertificateEntries {
				if rc.SerialNumber != nil && rc.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					return nil, newErr(CodeRevokedCert, fmt.Sprintf("certificate %q (serial %s) was revoked at %s", cert.Subject.CommonName,
						cert.SerialNumber.Text(16), rc.RevocationTime.UTC().Format(time.RFC3339)), nil)
				}
			}
		}
		if i == 0 && !covered {
			warns = append(warns, Warning{Code: WarnNoCRL, Msg: fmt.Sprintf("no CRL of %q is configured", issuer.Subject.CommonName)})
		}
	}
	return warns, nil
}

// mapValidateError gives goxmldsig's untyped errors a code. Everything it
// can refuse besides the digest and the signature value was checked before.
func mapValidateError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, etreeutils.ErrTraversalLimit):
		return newErr(CodeTooComplex, "more elements than goxmldsig canonicalizes (about 1000)", err)
	case errors.Is(err, dsig.ErrMissingSignature):
		return newErr(CodeWrapped, "no signature references the document root", err)
	case strings.Contains(msg, "Could not verify certificate against trusted certs"):
		return newErr(CodeUntrustedCert, "signing certificate is not the verified one", err)
	case strings.Contains(msg, "Cert is not valid at this time"):
		return newErr(CodeExpiredCert, "signer certificate is outside its validity period", err)
	case errors.Is(err, rsa.ErrVerification), strings.Contains(msg, "Signature could not be verified"),
		strings.Contains(msg, "verification"), strings.Contains(msg, "Could not decode signature"):
		return newErr(CodeTampered, "signature does not match the document", err)
	}
	return newErr(CodeMalformed, "signature could not be checked", err)
}
