package transform

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/xmldsig"
)

// VerifyConfig configures the xmldsig_verify step. File paths are relative
// to the routes folder unless absolute.
type VerifyConfig struct {
	routesDir `yaml:"-"`
	// Roots are PEM files of trusted CA (or pinned signer) certificates;
	// required unless the policy is ignore.
	Roots []string `yaml:"roots"`
	// Intermediates are PEM files of intermediate CA certificates, used in
	// addition to those the signer puts into KeyInfo.
	Intermediates []string `yaml:"intermediates"`
	// CRLs are CRL files (PEM or DER).
	CRLs []string `yaml:"crls"`
	// Policy is require (default), verify_if_present or ignore.
	Policy string `yaml:"policy"`
	// RejectSHA1 refuses SHA-1 signatures instead of warning.
	RejectSHA1 bool `yaml:"reject_sha1"`
	// MaxBytes bounds the document; 0 is 32 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "xmldsig_verify",
		Summary: "Verifies the XML-DSig signature of the payload against the configured roots (chain, validity, CRLs) under a policy (require, verify_if_present, ignore); a refusal fails the step with the xmldsig code, and the signer is recorded as a label.",
		Example: `- xmldsig_verify: {roots: ["testdata/ca.pem"], policy: verify_if_present}`,
		New:     newVerify,
	})
}

// LoadVerifier builds a Verifier from PEM files of roots and intermediates
// and from CRL files (PEM or DER).
func LoadVerifier(roots, intermediates, crls []string) (*xmldsig.Verifier, error) {
	v := &xmldsig.Verifier{}
	if len(roots) > 0 {
		v.Roots = x509.NewCertPool()
		if err := addCerts(v.Roots, roots); err != nil {
			return nil, err
		}
	}
	if len(intermediates) > 0 {
		v.Intermediates = x509.NewCertPool()
		if err := addCerts(v.Intermediates, intermediates); err != nil {
			return nil, err
		}
	}
	for _, f := range crls {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ders := [][]byte{b}
		if strings.Contains(string(b), "-----BEGIN") {
			ders = nil
			for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
				if blk.Type == "X509 CRL" {
					ders = append(ders, blk.Bytes)
				}
			}
			if len(ders) == 0 {
				return nil, fmt.Errorf("%s: no X509 CRL block", f)
			}
		}
		for _, der := range ders {
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			v.CRLs = append(v.CRLs, crl)
		}
	}
	return v, nil
}

func addCerts(pool *x509.CertPool, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		n := 0
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return fmt.Errorf("%s: no PEM CERTIFICATE block", f)
		}
	}
	return nil
}

func newVerify(decode func(into any) error) (bus.Step, error) {
	var c VerifyConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	if c.Policy == "" {
		c.Policy = xmldsig.Require.String()
	}
	pol, err := xmldsig.ParsePolicy(c.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %v", err)
	}
	if len(c.Roots) == 0 && pol != xmldsig.Ignore {
		return nil, errors.New("roots: at least one PEM file of trusted certificates is required (the system CA store is never used)")
	}
	if c.MaxBytes < 0 {
		return nil, fmt.Errorf("max_bytes must not be negative, got %d", c.MaxBytes)
	}
	v, err := LoadVerifier(c.paths(c.Roots), c.paths(c.Intermediates), c.paths(c.CRLs))
	if err != nil {
		return nil, err
	}
	v.RejectSHA1, v.MaxBytes = c.RejectSHA1, c.MaxBytes
	max := c.MaxBytes
	if max == 0 {
		max = xmldsig.DefaultMaxBytes
	}
	const step = "xmldsig_verify"
	return bus.StepFunc(func(_ context.Context, m *bus.Message) error {
		if err := needContent(step, m, false); err != nil {
			return err
		}
		doc, err := readAll(step, m, max)
		if err != nil {
			return err
		}
		res, warns, err := v.Check(doc, pol)
		if err != nil {
			return contentFailure(step, err)
		}
		switch {
		case res != nil:
			m.Label("xmldsig.status", "verified")
			m.Label("xmldsig.signer", signerName(res.Cert))
			m.Label("xmldsig.algorithm", res.Algorithm)
		case pol == xmldsig.Ignore:
			m.Label("xmldsig.status", "not-checked")
		default:
			m.Label("xmldsig.status", "unsigned")
		}
		if len(warns) > 0 {
			codes := make([]string, len(warns))
			for i, w := range warns {
				codes[i] = w.Code
			}
			m.Label("xmldsig.warnings", strings.Join(codes, ","))
		}
		return nil
	}), nil
}

func signerName(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}
