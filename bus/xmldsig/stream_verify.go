package xmldsig

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // digestHashes: crypto.Hash.New needs the implementations linked
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// This file is Verify without a DOM of the document (issue #13). Two
// passes of the byte scanner (stream_scan.go) read the document in memory:
//
//  1. collect: well-formedness as the digest pass checks it, every
//     element named Signature, the root's attributes, and the byte range
//     of the ds:Signature with the namespace bindings in scope at its start;
//  2. digest: the canonical form of the root without the signature, as
//     the Reference's canonicalisation asks, straight into the hash,
//     counting on the way the elements that carry the referenced id.
//
// Only the ds:Signature becomes a tree (with its ancestors' bindings
// declared on it): the shape, algorithm, transform, reference and
// certificate checks run on it as on the DOM path, and goxmldsig's exported
// canonicalisers write its SignedInfo as goxmldsig's Validate does; the
// signature value is checked over those bytes with the verified leaf's key.
//
// Whatever the streamer does not handle goes to the DOM path (errFallback):
// a document the scanner refuses (it is stricter than encoding/xml), a
// signature that is the root element, a Reference without a
// canonicalisation transform, or whose canonicalisation transform holds
// anything but exclusive C14N's InclusiveNamespaces.

// excC14NNamespace is the namespace of exclusive C14N's
// InclusiveNamespaces element.
const excC14NNamespace = "http://www.w3.org/2001/10/xml-exc-c14n#"

// errFallback sends a document to the DOM path.
var errFallback = errors.New("xmldsig: the DOM path decides")

// collected is what the collection pass records.
type collected struct {
	rootAttrs []xml.Attr // as written, namespace declarations included
	// dsigs counts the ds:Signature elements outside any ds:Signature;
	// the first spans doc[sigStart:sigEnd], at depth sigDepth (0 is the
	// root), with the bindings sigNS of its ancestors.
	dsigs            int
	sigStart, sigEnd int
	sigDepth         int
	sigNS            map[string]string
	sigXML           map[string]string // xml:* attributes in scope (nearest wins)
	// others counts the elements named Signature in another namespace
	// outside any ds:Signature; the first is otherName in otherNS.
	others    int
	otherName xml.Name
	otherNS   string
}

func (col *collected) signature(c *canon) {
	if col.dsigs++; col.dsigs > 1 {
		return
	}
	col.sigStart, col.sigDepth = c.tagStart, len(c.stack)
	col.sigNS, col.sigXML = map[string]string{}, map[string]string{}
	for _, s := range c.stack {
		for p, u := range s.decl {
			col.sigNS[p] = u
		}
		for _, a := range s.xmlAttrs {
			col.sigXML[a.Name.Local] = a.Value
		}
	}
}

func (col *collected) other(n xml.Name, ns string) {
	if col.others++; col.others == 1 {
		col.otherName, col.otherNS = n, ns
	}
}

// collect is the collection pass over doc (BOM trimmed).
func collect(doc []byte) (*collected, error) {
	col := &collected{}
	c := newCanon(io.Discard, streamMethod{})
	c.col = col
	s := &scanner{doc: doc}
	if err := s.run(c); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if col.dsigs > 0 && col.sigEnd <= col.sigStart {
		return nil, scanErr("signature not closed")
	}
	return col, nil
}

// signatureTree parses the ds:Signature alone and declares on it the
// bindings its ancestors put in scope (those it does not redeclare), so
// that every namespace lookup in it, SignedInfo's canonicalisation
// included, sees what it sees in the document.
func (col *collected) signatureTree(doc []byte) (*etree.Element, error) {
	d := etree.NewDocument()
	d.ReadSettings = etree.ReadSettings{CharsetReader: utf8Only, MaxDepth: maxDepth}
	if err := d.ReadFromBytes(doc[col.sigStart:col.sigEnd]); err != nil {
		return nil, err
	}
	sig := d.Root()
	if sig == nil || len(d.Child) != 1 {
		return nil, scanErr("signature subtree")
	}
	declared := map[string]bool{}
	for _, a := range sig.Attr {
		switch {
		case a.Space == "xmlns":
			declared[a.Key] = true
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		}
	}
	prefixes := make([]string, 0, len(col.sigNS))
	for p := range col.sigNS {
		if !declared[p] && p != "xml" { // the xml prefix is bound without a declaration
			prefixes = append(prefixes, p)
		}
	}
	slices.Sort(prefixes)
	for _, p := range prefixes {
		if p == "" {
			sig.CreateAttr("xmlns", col.sigNS[p])
		} else {
			sig.CreateAttr("xmlns:"+p, col.sigNS[p])
		}
	}
	// The xml:* attributes of the ancestors, which inclusive C14N of
	// SignedInfo inherits (canonicalSignedInfo); no others are rendered.
	keys := make([]string, 0, len(col.sigXML))
	for k := range col.sigXML {
		if sig.SelectAttr("xml:"+k) == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		sig.CreateAttr(inheritedPrefix+k, col.sigXML[k])
	}
	if sig.Tag != "Signature" || sig.NamespaceURI() != dsig.Namespace {
		return nil, scanErr("signature subtree")
	}
	return sig, nil
}

// rootAttrValue is etree's root.SelectAttrValue(key, ""): the value of the
// first attribute named key under any prefix.
func (col *collected) rootAttrValue(key string) string {
	for _, a := range col.rootAttrs {
		if a.Name.Local == key {
			return a.Value
		}
	}
	return ""
}

// checkStream is Check on the streaming path (doc BOM-trimmed, precheck
// passed). errFallback sends the document to checkDOM.
func (v *Verifier) checkStream(doc []byte, p Policy) (*Result, []Warning, error) {
	col, err := collect(doc)
	if err != nil {
		return nil, nil, errFallback
	}
	var sig, other *etree.Element
	nds := col.dsigs
	if col.dsigs > 0 {
		if col.sigDepth == 0 {
			return nil, nil, errFallback
		}
		if sig, err = col.signatureTree(doc); err != nil {
			return nil, nil, errFallback
		}
		// Signatures inside the signature count as on the DOM path.
		nds += len(findSignatures(sig).dsig) - 1
	}
	if col.others > 0 {
		// decide names the first one only when there is no ds:Signature,
		// so it is never one inside a ds:Signature.
		other = etree.NewElement(col.otherName.Local)
		other.Space = col.otherName.Space
		if col.otherNS != "" {
			if other.Space == "" {
				other.CreateAttr("xmlns", col.otherNS)
			} else {
				other.CreateAttr("xmlns:"+other.Space, col.otherNS)
			}
		}
	}
	if nds != 1 {
		sig = nil
	}
	verify, warns, err := decide(p, nds, other, sig)
	if !verify {
		return nil, warns, err
	}
	res, err := v.verifyStream(doc, col, sig)
	if err != nil {
		return nil, nil, err
	}
	return res, res.Warnings, nil
}

// covered is what the stream path digested: the document and the
// canonicalisation, and the digest it matched.
type covered struct {
	doc    []byte
	method streamMethod
	hash   crypto.Hash
	digest []byte
}

var digestHashes = map[string]crypto.Hash{
	"http://www.w3.org/2000/09/xmldsig#sha1":        crypto.SHA1,
	"http://www.w3.org/2001/04/xmlenc#sha256":       crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#sha384": crypto.SHA384,
	"http://www.w3.org/2001/04/xmlenc#sha512":       crypto.SHA512,
}

// x509Algorithms maps the accepted signature methods as goxmldsig does.
var x509Algorithms = map[string]x509.SignatureAlgorithm{
	dsig.RSASHA1SignatureMethod:     x509.SHA1WithRSA,
	dsig.RSASHA256SignatureMethod:   x509.SHA256WithRSA,
	dsig.RSASHA384SignatureMethod:   x509.SHA384WithRSA,
	dsig.RSASHA512SignatureMethod:   x509.SHA512WithRSA,
	dsig.ECDSASHA256SignatureMethod: x509.ECDSAWithSHA256,
	dsig.ECDSASHA384SignatureMethod: x509.ECDSAWithSHA384,
	dsig.ECDSASHA512SignatureMethod: x509.ECDSAWithSHA512,
}

// referenceMethod is the streamer's method for the one Reference (whose
// transforms checkTransforms accepted); ok is false for what the streamer
// does not handle.
func referenceMethod(ref *etree.Element) (streamMethod, bool) {
	for _, t := range dsChildren(ref, "Transforms")[0].ChildElements() {
		alg := t.SelectAttrValue("Algorithm", "")
		if !c14nMethods[alg] {
			continue
		}
		prefixList := ""
		switch ch := t.ChildElements(); {
		case len(ch) == 0:
		case len(ch) == 1 && ch[0].Tag == "InclusiveNamespaces" && ch[0].NamespaceURI() == excC14NNamespace &&
			strings.Contains(alg, "exc-c14n") && len(ch[0].ChildElements()) == 0:
			prefixList = ch[0].SelectAttrValue("PrefixList", "")
		default:
			return streamMethod{}, false // anything else: the DOM path
		}
		return streamMethodFor(alg, prefixList)
	}
	return streamMethod{}, false // no canonicalisation: goxmldsig's own serialisation
}

// verifyStream checks the one signature sig of doc in the order verify
// does, so that a document with several faults gets the same code.
func (v *Verifier) verifyStream(doc []byte, col *collected, sig *etree.Element) (*Result, error) {
	res, ref, err := v.checkSignedInfo(sig)
	if err != nil {
		return nil, err
	}
	m, ok := referenceMethod(ref)
	if !ok {
		return nil, errFallback
	}
	id, err := referenceID(ref)
	if err != nil {
		return nil, err
	}
	hash := digestHashes[res.DigestMethod]
	h := hash.New()
	c := newCanon(h, m)
	if id != "" {
		c.id, c.idAttrs = id, v.idAttrs()
	}
	if err := (&scanner{doc: doc}).run(c); err != nil {
		return nil, errFallback
	}
	if err := c.finish(); err != nil {
		return nil, errFallback
	}
	if id != "" {
		rootAttr := ""
		for _, a := range v.idAttrs() {
			if col.rootAttrValue(a) == id {
				rootAttr = a
				break
			}
		}
		if err := judgeReference(id, rootAttr, c.holders); err != nil {
			return nil, err
		}
	}
	res.ReferenceURI = ref.SelectAttrValue("URI", "")

	chain, warns, err := v.checkCertificates(sig)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warns...)
	res.Cert, res.Chain = chain[0], chain

	// What goxmldsig's Validate checks beyond the above, in its order:
	// the signature's shape, the signature value over the canonical
	// SignedInfo, then the digest.
	if err := shapeAsGoxmldsig(sig); err != nil {
		return nil, err
	}
	canonical, err := canonicalSignedInfo(sig, res.C14NMethod)
	if err != nil {
		return nil, mapValidateError(err)
	}
	sv, _ := one(sig, "SignatureValue")
	value, err := base64.StdEncoding.DecodeString(charData(sv))
	if err != nil {
		return nil, newErr(CodeTampered, "signature does not match the document", err)
	}
	if err := chain[0].CheckSignature(x509Algorithms[res.SignatureMethod], canonical, value); err != nil {
		return nil, newErr(CodeTampered, "signature does not match the document", err)
	}
	// goxmldsig reads the DigestValue by local name, the last one wins.
	dvText := ""
	for _, e := range ref.ChildElements() {
		if e.Tag == "DigestValue" {
			dvText = charData(e)
		}
	}
	want, err := base64.StdEncoding.DecodeString(dvText)
	if err != nil {
		return nil, newErr(CodeMalformed, "signature could not be checked", err)
	}
	got := h.Sum(nil)
	if !bytes.Equal(got, want) {
		return nil, newErr(CodeTampered, "signature does not match the document", errors.New("digest mismatch"))
	}
	res.covered = &covered{doc: doc, method: m, hash: hash, digest: got}
	return res, nil
}

// shapeAsGoxmldsig is goxmldsig's validateShape: one SignedInfo, one
// SignatureValue and at most one KeyInfo child, by local name.
func shapeAsGoxmldsig(sig *etree.Element) error {
	n := map[string]int{}
	for _, c := range sig.ChildElements() {
		n[c.Tag]++
	}
	if n["SignedInfo"] != 1 || n["KeyInfo"] > 1 || n["SignatureValue"] != 1 {
		return mapValidateError(dsig.ErrInvalidSignature)
	}
	return nil
}

// canonicalSignedInfo writes the SignedInfo of sig as goxmldsig's Validate
// does: detached with the namespaces in scope, then canonicalised with the
// CanonicalizationMethod (exclusive without a prefix list; C14N 1.0 as
// 1.1, which goxmldsig does too and which agree on a detached element).
func canonicalSignedInfo(sig *etree.Element, method string) ([]byte, error) {
	si, err := one(sig, "SignedInfo")
	if err != nil {
		return nil, err
	}
	ctx, err := etreeutils.NSBuildParentContext(si)
	if err != nil {
		return nil, err
	}
	detached, err := etreeutils.NSDetatch(ctx, si)
	if err != nil {
		return nil, err
	}
	// C14N never renders a declaration of the xml prefix (goxmldsig's
	// inclusive canonicaliser does; xmlsec1 does not).
	stack := []*etree.Element{detached}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e.RemoveAttr("xmlns:xml")
		stack = append(stack, e.ChildElements()...)
	}
	// Inclusive C14N of a subset renders on its apex the xml:* attributes
	// in scope from its ancestors (C14N 1.0 §2.4; 1.1 inherits xml:lang
	// and xml:space only), which goxmldsig does not; xmlsec1 does.
	inclusive := !strings.Contains(method, "exc-c14n")
	v11 := strings.Contains(method, "xml-c14n11")
	inherited := map[string]string{}
	for e := si.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			k := strings.TrimPrefix(a.Key, inheritedPrefix)
			if a.Space != "xml" && !(a.Space == "" && k != a.Key) {
				continue
			}
			if _, seen := inherited[k]; !seen {
				inherited[k] = a.Value
			}
		}
	}
	for k, val := range inherited {
		if !inclusive || (v11 && k != "lang" && k != "space") || si.SelectAttr("xml:"+k) != nil {
			continue
		}
		detached.CreateAttr("xml:"+k, val)
	}
	var c dsig.Canonicalizer
	switch dsig.AlgorithmID(method) {
	case dsig.CanonicalXML10ExclusiveAlgorithmId:
		c = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	case dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId:
		c = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")
	case dsig.CanonicalXML11AlgorithmId, dsig.CanonicalXML10RecAlgorithmId:
		c = dsig.MakeC14N11Canonicalizer()
	case dsig.CanonicalXML11WithCommentsAlgorithmId, dsig.CanonicalXML10WithCommentsAlgorithmId:
		c = dsig.MakeC14N11WithCommentsCanonicalizer()
	default:
		return nil, fmt.Errorf("invalid CanonicalizationMethod on Signature: %s", method)
	}
	return c.Canonicalize(detached)
}

// inheritedPrefix marks, on the Signature tree's root, the xml:*
// attributes of its ancestors in the document: not attributes of the
// Signature (no check sees them), only what its SignedInfo inherits.
const inheritedPrefix = "lgsp-inherited-xml-"

// charData is the character data directly in e (as encoding/xml's
// ",chardata" collects it for goxmldsig).
func charData(e *etree.Element) string {
	var b strings.Builder
	for _, t := range e.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}

// Signed returns the content the signature covers, the only content a
// caller may act on (never the input document: that is the defence
// against signature wrapping). On the streaming path it is the canonical
// form of the root element without the signature and without comments:
// exactly the bytes whose digest the Reference carries, written again
// from the document and digested again on the way, so that a document
// changed after Verify yields an error, not other content. It is produced
// only when asked for (it is as large as the document). On the DOM path it
// is the element goxmldsig returned, written out.
func (r *Result) Signed() ([]byte, error) {
	if r.covered == nil {
		return r.signed, nil
	}
	cv := r.covered
	var buf bytes.Buffer
	buf.Grow(len(cv.doc))
	h := cv.hash.New()
	c := newCanon(io.MultiWriter(&buf, h), cv.method)
	if err := (&scanner{doc: cv.doc}).run(c); err != nil {
		return nil, newErr(CodeTampered, "document changed after it was verified", err)
	}
	if err := c.finish(); err != nil {
		return nil, newErr(CodeTampered, "document changed after it was verified", err)
	}
	if !bytes.Equal(h.Sum(nil), cv.digest) {
		return nil, newErr(CodeTampered, "document changed after it was verified", nil)
	}
	return buf.Bytes(), nil
}
