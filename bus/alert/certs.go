package alert

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Cert is one certificate the cert_expiring rule watches on this node.
type Cert struct {
	// Source names where it is configured ("tls.cert_file",
	// "outbound_tls.ca_files[0]" …) and, past the first, its place in
	// the bundle ("#2"): the alert's subject, bounded by the config.
	Source   string
	Subject  string // the certificate's subject name
	NotAfter time.Time
}

// CertsOf returns the certificates of parsed DER blocks, labelled source.
func CertsOf(source string, ders ...[]byte) []Cert {
	var out []Cert
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		s := source
		if i > 0 {
			s = fmt.Sprintf("%s#%d", source, i+1)
		}
		out = append(out, Cert{Source: s, Subject: c.Subject.String(), NotAfter: c.NotAfter})
	}
	return out
}

// PEMFileCerts returns the certificates of a PEM file (read each round, so
// a renewed file resolves the alert without a restart). A file that cannot
// be read gives none: the component that uses it reports that.
func PEMFileCerts(source, path string) []Cert {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var ders [][]byte
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
	return CertsOf(source, ders...)
}

// expiringCerts checks the node's own certificate files (local rule).
func (e *Engine) expiringCerts(now time.Time) []cond {
	if e.Certs == nil {
		return nil
	}
	limit := now.Add(time.Duration(e.Cfg.Rules.CertExpiryDays) * 24 * time.Hour)
	var out []cond
	for _, c := range e.Certs() {
		if c.NotAfter.After(limit) {
			continue
		}
		at := c.NotAfter.UTC().Format(time.RFC3339)
		out = append(out, cond{Rule: RuleCertExpiring, Subject: e.Node + "/" + c.Source,
			VI: fmt.Sprintf("Chứng thư số %s (%s) của nút %s hết hạn lúc %s", c.Source, c.Subject, e.Node, at),
			EN: fmt.Sprintf("Certificate %s (%s) of node %s expires at %s", c.Source, c.Subject, e.Node, at)})
	}
	return out
}

// keyCertExpiry returns the end of validity of a public key registered as
// a certificate (zero for a bare public key).
func keyCertExpiry(k store.Key) time.Time {
	if k.Kind != store.KeyPublic {
		return time.Time{}
	}
	b, _ := pem.Decode(k.PublicKey)
	if b == nil || b.Type != "CERTIFICATE" {
		return time.Time{}
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return time.Time{}
	}
	return c.NotAfter
}

// expiringKeyCerts checks the active keys registered as certificates
// (shared rule).
func (e *Engine) expiringKeyCerts(ctx context.Context, now time.Time) ([]cond, error) {
	systems, err := e.Store.ListSystems(ctx)
	if err != nil {
		return nil, err
	}
	limit := now.Add(time.Duration(e.Cfg.Rules.CertExpiryDays) * 24 * time.Hour)
	var out []cond
	for _, s := range systems {
		keys, err := e.Store.ListKeys(ctx, s.Code)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			end := keyCertExpiry(k)
			if k.Status != store.KeyActive || end.IsZero() || end.After(limit) {
				continue
			}
			at := end.UTC().Format(time.RFC3339)
			out = append(out, cond{Rule: RuleKeyCertExpiring, Subject: k.AccessKey,
				VI: fmt.Sprintf("Chứng thư số của khóa %s (hệ thống %s) hết hạn lúc %s", k.AccessKey, s.Code, at),
				EN: fmt.Sprintf("The certificate of key %s (system %s) expires at %s", k.AccessKey, s.Code, at)})
		}
	}
	return out, nil
}
