package xmldsig

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"software.sslmate.com/src/go-pkcs12"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Algorithm is the signature algorithm; it names the digest too, which is
// always the same hash.
type Algorithm int

const (
	RSASHA256 Algorithm = iota // rsa-sha256 with a sha256 digest, the default
	RSASHA1                    // rsa-sha1 with a sha1 digest, for legacy peers only
)

func (a Algorithm) String() string {
	switch a {
	case RSASHA256:
		return "rsa-sha256"
	case RSASHA1:
		return "rsa-sha1"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// C14N is the canonicalization used for SignedInfo and for the reference.
type C14N int

const (
	Exclusive C14N = iota // http://www.w3.org/2001/10/xml-exc-c14n#, the default
	Inclusive             // http://www.w3.org/TR/2001/REC-xml-c14n-20010315 (C14N 1.0)
	// The #WithComments forms name the same canonicalizations with comments
	// kept. Over our references (URI="" or "#id") they digest exactly what
	// the forms without comments digest, because dereferencing such a
	// reference drops comments (XML-DSig 1.0 §4.3.3.3); they exist so peers
	// that insist on these URIs can be served.
	ExclusiveWithComments // http://www.w3.org/2001/10/xml-exc-c14n#WithComments
	InclusiveWithComments // http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments
)

func (c C14N) String() string {
	switch c {
	case Exclusive:
		return "exc-c14n"
	case Inclusive:
		return "c14n"
	case ExclusiveWithComments:
		return "exc-c14n#WithComments"
	case InclusiveWithComments:
		return "c14n#WithComments"
	}
	return fmt.Sprintf("C14N(%d)", int(c))
}

// SignOptions chooses how a Signer signs. The zero value is RSA-SHA256 with
// exclusive C14N.
type SignOptions struct {
	Algorithm Algorithm
	C14N      C14N
	// IDAttribute names the root attribute the Reference points at
	// (URI="#value"). Empty means "Id", then "ID", when the root has one;
	// without such an attribute the Reference is URI="".
	IDAttribute string
	// Password opens a PKCS#12 (.p12/.pfx) key file; PEM files ignore it.
	Password string
}

// Signer signs documents with one RSA key and its certificate chain. It is
// safe for concurrent use.
type Signer struct {
	// Limits bounds the shape of the documents it signs (xmldsig.too_complex);
	// zero fields take xmlscan.Defaults.
	Limits xmlscan.Limits

	key   *rsa.PrivateKey
	chain []*x509.Certificate // leaf first
	opts  SignOptions
}

// LoadSigner reads an RSA private key and the signer's certificate (plus
// any intermediates) from PEM files, or from one PKCS#12 (.p12/.pfx) file
// opened with opts.Password — the form Vietnamese CAs hand out with their
// certificates. PEM: both paths may name the same file; certPEMPath may be
// empty when keyPEMPath holds the certificates too; keys may be PKCS#1 or
// unencrypted PKCS#8. PKCS#12: certPEMPath may add intermediates.
func LoadSigner(keyPEMPath, certPEMPath string, opts SignOptions) (*Signer, error) {
	if raw, ok, err := readPKCS12(keyPEMPath); err != nil {
		return nil, err
	} else if ok {
		key, leaf, cas, err := pkcs12.DecodeChain(raw, opts.Password)
		if err != nil {
			return nil, newErr(CodeKey, "opening PKCS#12 file "+keyPEMPath+" (wrong password?)", err)
		}
		certs := append([]*x509.Certificate{leaf}, cas...)
		if certPEMPath != "" {
			blocks, err := readPEMFile(certPEMPath)
			if err != nil {
				return nil, err
			}
			for _, b := range blocks {
				if b.Type == "CERTIFICATE" {
					c, err := x509.ParseCertificate(b.Bytes)
					if err != nil {
						return nil, newErr(CodeKey, "parsing certificate", err)
					}
					certs = append(certs, c)
				}
			}
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, newErr(CodeKey, "PKCS#12 file holds no usable private key", nil)
		}
		return NewSigner(signer, certs, opts)
	}
	var blocks []*pem.Block
	paths := []string{keyPEMPath}
	if certPEMPath != "" && certPEMPath != keyPEMPath {
		paths = append(paths, certPEMPath)
	}
	for _, p := range paths {
		b, err := readPEMFile(p)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b...)
	}
	var key *rsa.PrivateKey
	var certs []*x509.Certificate
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, newErr(CodeKey, "parsing certificate", err)
			}
			certs = append(certs, c)
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			if key != nil {
				return nil, newErr(CodeKey, "more than one private key", nil)
			}
			k, err := parseKey(b)
			if err != nil {
				return nil, err
			}
			key = k
		case "ENCRYPTED PRIVATE KEY":
			return nil, newErr(CodeKey, "encrypted private keys are not supported; decrypt with `openssl pkey -in enc.pem -out key.pem`", nil)
		case "EC PRIVATE KEY":
			return nil, newErr(CodeAlgorithm, "only RSA keys can sign", nil)
		}
	}
	if key == nil {
		return nil, newErr(CodeKey, "no private key found in "+keyPEMPath, nil)
	}
	return NewSigner(key, certs, opts)
}

// NewSigner returns a Signer for key and certs. One of certs must carry
// key's public key; it goes first into KeyInfo, the others (intermediates)
// follow in the given order.
func NewSigner(key crypto.Signer, certs []*x509.Certificate, opts SignOptions) (*Signer, error) {
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, newErr(CodeAlgorithm, fmt.Sprintf("only RSA keys can sign, got %T", key), nil)
	}
	if opts.Algorithm != RSASHA256 && opts.Algorithm != RSASHA1 {
		return nil, newErr(CodeAlgorithm, "unknown signature algorithm "+opts.Algorithm.String(), nil)
	}
	if opts.C14N < Exclusive || opts.C14N > InclusiveWithComments {
		return nil, newErr(CodeAlgorithm, "unknown canonicalization "+opts.C14N.String(), nil)
	}
	leaf := -1
	for i, c := range certs {
		if pk, ok := c.PublicKey.(*rsa.PublicKey); ok && pk.Equal(&rk.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, newErr(CodeKey, "no certificate matches the private key", nil)
	}
	chain := []*x509.Certificate{certs[leaf]}
	for i, c := range certs {
		if i != leaf {
			chain = append(chain, c)
		}
	}
	return &Signer{key: rk, chain: chain, opts: opts}, nil
}

// Certificate returns the signer's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.chain[0] }

// Sign returns doc with an enveloped ds:Signature appended as the last
// child of its root. Everything else in doc is kept as it was. A document
// that already holds a ds:Signature is refused, because verifiers accept
// exactly one.
func (s *Signer) Sign(doc []byte) ([]byte, error) {
	d, err := parse(doc, s.Limits)
	if err != nil {
		return nil, err
	}
	root := d.Root()
	if sigs := findSignatures(root); len(sigs.dsig) > 0 {
		return nil, newErr(CodeMalformed, "document is already signed", nil)
	}
	ders := make([][]byte, len(s.chain))
	for i, c := range s.chain {
		ders[i] = c.Raw
	}
	ctx, err := dsig.NewSigningContext(s.key, ders)
	if err != nil {
		return nil, newErr(CodeKey, "creating signing context", err)
	}
	method := dsig.RSASHA256SignatureMethod
	if s.opts.Algorithm == RSASHA1 {
		method = dsig.RSASHA1SignatureMethod
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, newErr(CodeAlgorithm, "setting signature method", err)
	}
	switch s.opts.C14N {
	case Inclusive:
		ctx.Canonicalizer = dsig.MakeC14N10RecCanonicalizer()
	case ExclusiveWithComments:
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")
	case InclusiveWithComments:
		ctx.Canonicalizer = dsig.MakeC14N10WithCommentsCanonicalizer()
	default:
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	}
	ctx.IdAttribute = s.opts.IDAttribute
	if ctx.IdAttribute == "" {
		ctx.IdAttribute = "Id"
		if root.SelectAttr("Id") == nil && root.SelectAttr("ID") != nil {
			ctx.IdAttribute = "ID"
		}
	}
	// The exclusive canonicalizer rewrites the element it is given (drops
	// unused namespace declarations, sorts attributes), so it gets a copy:
	// the digest is the same, and the output keeps the document as written.
	// The copy has no comments: our reference (URI="" or "#id") does not
	// cover them, even under a #WithComments canonicalization.
	signed := root.Copy()
	stripComments(signed)
	sig, err := ctx.ConstructSignature(signed, true)
	if err != nil {
		return nil, newErr(CodeMalformed, "signing document", err)
	}
	root.AddChild(sig)
	// Write CR in text, and TAB, LF and CR in attribute values, as
	// character references (the C14N escapes): etree's default writes them
	// raw, and a parser then reads a raw CR as LF and raw TAB/LF in an
	// attribute as a space, so the digest no longer matched (xmlsec1
	// refused signed documents holding &#13;, &#9; or &#10; there).
	d.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	out, err := d.WriteToBytes()
	if err != nil {
		return nil, newErr(CodeMalformed, "writing signed document", err)
	}
	return out, nil
}

// readPKCS12 returns the bytes of path if it is a PKCS#12 file (by its
// extension or its content).
func readPKCS12(path string) ([]byte, bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false, newErr(CodeKey, "reading key or certificate file", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".p12" || ext == ".pfx" || isPKCS12(raw) {
		return raw, true, nil
	}
	return nil, false, nil
}

// readPEMFile returns the PEM blocks of path.
func readPEMFile(path string) ([]*pem.Block, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, newErr(CodeKey, "reading key or certificate file", err)
	}
	var blocks []*pem.Block
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return nil, newErr(CodeKey, path+" holds no PEM block", nil)
	}
	return blocks, nil
}

// isPKCS12 reports whether der looks like a PFX: SEQUENCE { INTEGER 3,
// ContentInfo, [MacData] } (RFC 7292 §4).
func isPKCS12(der []byte) bool {
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  asn1.RawValue `asn1:"optional"`
	}
	der = bytes.TrimSpace(der)
	_, err := asn1.Unmarshal(der, &pfx)
	return err == nil && pfx.Version == 3
}

func parseKey(b *pem.Block) (*rsa.PrivateKey, error) {
	if b.Type == "RSA PRIVATE KEY" {
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, newErr(CodeKey, "parsing PKCS#1 private key", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, newErr(CodeKey, "parsing PKCS#8 private key", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, newErr(CodeAlgorithm, fmt.Sprintf("only RSA keys can sign, got %T", k), nil)
	}
	return rk, nil
}

// signatures is what findSignatures collects under a root.
type signatures struct {
	dsig  []*etree.Element // Signature elements in the XML-DSig namespace
	other []*etree.Element // elements named Signature in any other namespace
}

// findSignatures walks the tree iteratively (the tree depth is bounded by
// the parser anyway) and collects every element with local name Signature.
func findSignatures(root *etree.Element) signatures {
	var s signatures
	stack := []*etree.Element{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e.Tag == "Signature" {
			if e.NamespaceURI() == dsig.Namespace {
				s.dsig = append(s.dsig, e)
			} else {
				s.other = append(s.other, e)
			}
		}
		ch := e.ChildElements()
		for i := len(ch) - 1; i >= 0; i-- {
			stack = append(stack, ch[i])
		}
	}
	return s
}
