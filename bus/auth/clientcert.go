package auth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Mutual TLS for connected systems (as X-Road does): a system bound to
// client certificates (store.System.ClientCerts) is accepted only over a
// TLS connection that presented a matching certificate, on top of its
// signature, token or key. The check sits in KeyStanding, which every
// authentication path calls (signature, bearer token, legacy token, SOAP
// UsernameToken, VXP), so no path can skip it.
//
// The TLS handshake proves the client holds the certificate's private
// key; the server asks for a certificate without verifying it
// (tls.RequestClientCert), and the binding decides: by fingerprint, the
// exact certificate; by CA and subject, a certificate chaining to that CA
// for client authentication, with that subject, in its validity period.

type connTLSKey struct{}

// WithConnTLS returns ctx carrying the TLS state of the request's
// connection (nil: plain HTTP). The service sets it on every request.
func WithConnTLS(ctx context.Context, cs *tls.ConnectionState) context.Context {
	if cs == nil {
		return ctx
	}
	return context.WithValue(ctx, connTLSKey{}, cs)
}

func connTLS(ctx context.Context) *tls.ConnectionState {
	cs, _ := ctx.Value(connTLSKey{}).(*tls.ConnectionState)
	return cs
}

// CertFingerprint returns the lower-case hex SHA-256 of a DER certificate.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// CheckClientCert refuses, with auth.client_cert, a request of a system
// bound to client certificates that did not arrive over TLS presenting one
// of them. A system with no binding passes.
func CheckClientCert(ctx context.Context, sys store.System, now time.Time) error {
	if len(sys.ClientCerts) == 0 {
		return nil
	}
	cs := connTLS(ctx)
	if cs == nil {
		return bus.ErrAuthClientCert.New("system %s is bound to client certificates: send its requests over HTTPS with its certificate", sys.Code)
	}
	if len(cs.PeerCertificates) == 0 {
		return bus.ErrAuthClientCert.New("system %s is bound to client certificates: the TLS connection presented none", sys.Code)
	}
	leaf := cs.PeerCertificates[0]
	for _, b := range sys.ClientCerts {
		if matchBinding(b, leaf, cs.PeerCertificates[1:], now) {
			return nil
		}
	}
	return bus.ErrAuthClientCert.New("system %s: the client certificate presented (sha256 %s) matches none of its bindings", sys.Code, CertFingerprint(leaf.Raw))
}

func matchBinding(b store.ClientCert, leaf *x509.Certificate, chain []*x509.Certificate, now time.Time) bool {
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return false
	}
	if b.SHA256 != "" {
		return b.SHA256 == CertFingerprint(leaf.Raw)
	}
	ca, err := parseCA(b.CA)
	if err != nil || leaf.Subject.String() != b.Subject {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// parseCA reads one PEM CA certificate.
func parseCA(p string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(p))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if !c.IsCA {
		return nil, fmt.Errorf("certificate of %s is not a CA certificate", c.Subject)
	}
	return c, nil
}

// ClientCertStore is what binding client certificates needs of the store.
type ClientCertStore interface {
	SetClientCerts(ctx context.Context, code string, certs []store.ClientCert, events ...store.KeyEvent) error
}

// NewFingerprintBinding binds one certificate (PEM, or its SHA-256 in hex,
// colons allowed) to a system.
func NewFingerprintBinding(certOrSHA256, description string) (store.ClientCert, error) {
	s := strings.TrimSpace(certOrSHA256)
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		c, err := x509.ParseCertificate(blk.Bytes)
		if blk.Type != "CERTIFICATE" || err != nil {
			return store.ClientCert{}, bus.ErrBadRequest.New("the PEM block is not an X.509 certificate")
		}
		return store.ClientCert{SHA256: CertFingerprint(c.Raw), Subject: c.Subject.String(), Description: description}, nil
	}
	h := strings.ToLower(strings.ReplaceAll(s, ":", ""))
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return store.ClientCert{}, bus.ErrBadRequest.New("a fingerprint is the SHA-256 of the certificate: 64 hex digits")
	}
	return store.ClientCert{SHA256: h, Description: description}, nil
}

// NewCABinding binds every certificate that the CA (PEM) issued with
// exactly subject (RFC 2253, e.g. "CN=qlvb.tuyenquang.gov.vn,O=Sở Nội vụ,C=VN").
func NewCABinding(caPEM, subject, description string) (store.ClientCert, error) {
	ca, err := parseCA(caPEM)
	if err != nil {
		return store.ClientCert{}, bus.ErrBadRequest.New("ca: %v", err)
	}
	if strings.TrimSpace(subject) == "" {
		return store.ClientCert{}, bus.ErrBadRequest.New("a CA binding needs the subject the certificates must have")
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	return store.ClientCert{CA: string(out), Subject: strings.TrimSpace(subject), Description: description}, nil
}

// BindClientCert adds a binding to a system (audited); from then on the
// system's requests must present a matching client certificate over TLS.
// Adding a binding that exists returns the one in force.
func (r *Registry) BindClientCert(ctx context.Context, code string, b store.ClientCert) (store.ClientCert, error) {
	defer r.changed()
	cs, sys, err := r.clientCertStore(ctx, code)
	if err != nil {
		return b, err
	}
	for _, o := range sys.ClientCerts {
		if o.SHA256 == b.SHA256 && o.CA == b.CA && o.Subject == b.Subject {
			return o, nil
		}
	}
	b.ID, b.AddedAt = bus.NewID("cc"), r.now().UTC()
	certs := append(slices.Clone(sys.ClientCerts), b)
	ev := store.KeyEvent{At: b.AddedAt, System: sys.Code, Action: store.KeyEventClientCert, Actor: ActorOf(ctx), Detail: "bound " + bindingDetail(b)}
	return b, cs.SetClientCerts(ctx, sys.Code, certs, ev)
}

// UnbindClientCert removes a binding (audited); bus.ErrNotFound if the
// system has none with that id. With no binding left, the system is no
// longer held to mutual TLS.
func (r *Registry) UnbindClientCert(ctx context.Context, code, id string) error {
	defer r.changed()
	cs, sys, err := r.clientCertStore(ctx, code)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sys.ClientCerts, func(c store.ClientCert) bool { return c.ID == id })
	if i < 0 {
		return bus.ErrNotFound.New("system %s has no client-certificate binding %s", sys.Code, id)
	}
	b := sys.ClientCerts[i]
	certs := slices.Delete(slices.Clone(sys.ClientCerts), i, i+1)
	ev := store.KeyEvent{At: r.now().UTC(), System: sys.Code, Action: store.KeyEventClientCert, Actor: ActorOf(ctx), Detail: "unbound " + bindingDetail(b)}
	return cs.SetClientCerts(ctx, sys.Code, certs, ev)
}

func (r *Registry) clientCertStore(ctx context.Context, code string) (ClientCertStore, store.System, error) {
	cs, ok := r.Audit.(ClientCertStore)
	if !ok {
		return nil, store.System{}, bus.ErrInternal.New("registry has no store for client certificates")
	}
	sys, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	return cs, sys, err
}

func bindingDetail(b store.ClientCert) string {
	if b.SHA256 != "" {
		return b.ID + " sha256 " + b.SHA256
	}
	ca, err := parseCA(b.CA)
	if err != nil {
		return b.ID + " subject " + b.Subject
	}
	return b.ID + " CA " + CertFingerprint(ca.Raw)[:16] + "… subject " + b.Subject
}
