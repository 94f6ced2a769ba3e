package service

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/tuyenquang/lgsp/bus/alert"
)

// ServerCipherSuites are the TLS 1.2 suites the node accepts: forward
// secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all modern and not
// configurable in Go.
var ServerCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// certSource holds the node's certificate and reloads it when its files
// change. A handshake takes whichever certificate is current; connections
// already open keep theirs, so a reload drops nothing.
type certSource struct {
	cfg   TLSConfig
	log   logrus.FieldLogger
	cur   atomic.Pointer[tls.Certificate]
	mu    sync.Mutex // one load at a time
	stamp string     // size and mtime of the files last loaded
}

func newCertSource(cfg TLSConfig, log logrus.FieldLogger) (*certSource, error) {
	c := &certSource{cfg: cfg, log: log}
	if _, err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certSource) files() []string {
	if c.cfg.PKCS12File != "" {
		return []string{c.cfg.PKCS12File, c.cfg.PKCS12PasswordFile}
	}
	return []string{c.cfg.CertFile, c.cfg.KeyFile}
}

func (c *certSource) fileStamp() string {
	var b strings.Builder
	for _, f := range c.files() {
		if f == "" {
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			b.WriteString("missing;")
			continue
		}
		fmt.Fprintf(&b, "%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	return b.String()
}

// reload loads the files again if they changed (always when force). A
// pair that does not load (half-written, mismatched) leaves the current
// certificate in force and is reported.
func (c *certSource) reload(force bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := c.fileStamp()
	if !force && stamp == c.stamp {
		return false, nil
	}
	cert, err := LoadCertificate(c.cfg)
	if err != nil {
		return false, err
	}
	c.cur.Store(cert)
	c.stamp = stamp
	return true, nil
}

// check reloads on change and logs the outcome.
func (c *certSource) check(force bool) {
	changed, err := c.reload(force)
	switch {
	case err != nil:
		c.log.WithError(err).Error("TLS certificate reload refused: the current certificate stays in force")
	case changed:
		leaf := c.cur.Load().Leaf
		c.log.WithFields(logrus.Fields{"subject": leaf.Subject.String(), "not_after": leaf.NotAfter.UTC().Format(time.RFC3339)}).Info("TLS certificate loaded")
	}
}

func (c *certSource) watch(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.check(false)
		}
	}
}

func (c *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// LoadCertificate reads the node's certificate and key from PEM or PKCS#12
// files and checks that they belong together and that the certificate is
// in its validity period.
func LoadCertificate(cfg TLSConfig) (*tls.Certificate, error) {
	var cert tls.Certificate
	if cfg.PKCS12File != "" {
		raw, err := os.ReadFile(cfg.PKCS12File)
		if err != nil {
			return nil, fmt.Errorf("tls.pkcs12_file: %w", err)
		}
		pass := ""
		if cfg.PKCS12PasswordFile != "" {
			p, err := os.ReadFile(cfg.PKCS12PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("tls.pkcs12_password_file: %w", err)
			}
			pass = strings.TrimRight(string(p), "\r\n")
		}
		key, leaf, cas, err := pkcs12.DecodeChain(raw, pass)
		if err != nil {
			return nil, fmt.Errorf("tls.pkcs12_file %s: %w", cfg.PKCS12File, err)
		}
		cert = tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, ca := range cas {
			cert.Certificate = append(cert.Certificate, ca.Raw)
		}
		// Same check as X509KeyPair: the key must be the leaf's.
		signer, ok := key.(crypto.Signer)
		pub, ok2 := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !ok2 || !pub.Equal(signer.Public()) {
			return nil, fmt.Errorf("tls.pkcs12_file %s: the private key does not match the certificate", cfg.PKCS12File)
		}
	} else {
		var err error
		cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("tls: parsing the certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		return nil, fmt.Errorf("tls: the certificate of %s is valid from %s to %s only", cert.Leaf.Subject, cert.Leaf.NotBefore.UTC().Format(time.RFC3339), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// ServerTLS returns the TLS settings of the node: TLS 1.2 or 1.3 (never
// older), ECDHE+AEAD suites, HTTP/2 offered by ALPN; client certificates
// are asked for but not required, since only systems bound to one
// (auth.ClientCertBinding) must present it, and the registry checks it.
func ServerTLS(cfg TLSConfig, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	minV := uint16(tls.VersionTLS12)
	if cfg.MinVersion == "1.3" {
		minV = tls.VersionTLS13
	}
	return &tls.Config{
		MinVersion:       minV,
		CipherSuites:     ServerCipherSuites,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		GetCertificate:   getCert,
		ClientAuth:       tls.RequestClientCert,
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

// redirectServer answers every plain-HTTP request with a 308 to the same
// path over HTTPS. The target host is the public URL's when it is HTTPS,
// otherwise the request's host on the HTTPS port.
func (s *Service) redirectServer(httpsAddr net.Addr) *http.Server {
	target := func(r *http.Request) string {
		if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Scheme == "https" && u.Host != "" {
			return "https://" + u.Host
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@ ") {
			host = "localhost"
		}
		_, port, _ := net.SplitHostPort(httpsAddr.String())
		if port == "443" {
			return "https://" + host
		}
		return "https://" + net.JoinHostPort(host, port)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, target(r)+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
	return &http.Server{Handler: h, ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout, IdleTimeout: s.cfg.Limits.IdleTimeout, MaxHeaderBytes: s.cfg.Limits.MaxHeaderBytes}
}

// trustedProxies parses ProxyConfig.Trusted.
func trustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range list {
		c = strings.TrimSpace(c)
		pf, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("proxy.trusted: %q is not a CIDR prefix or an address", c)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address a request comes from: its peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For entry
// that is not a trusted proxy. Anything unparsable in the header stops the
// walk at the last trusted hop, so a client cannot forge its address
// through a trusted proxy (which appends the peer it saw).
func ClientAddr(remote string, forwarded []string, trusted []netip.Prefix) (addr string, viaProxy bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil || len(trusted) == 0 || !inPrefixes(ap.Addr(), trusted) {
		return remote, false
	}
	var hops []string
	for _, h := range forwarded {
		for _, p := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(p))
		}
	}
	client := ap.Addr()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		client = a.Unmap()
		if !inPrefixes(client, trusted) {
			break
		}
	}
	if client == ap.Addr() {
		return remote, false
	}
	return netip.AddrPortFrom(client, 0).String(), true
}

// certFiles returns the certificates the node uses from its files, for the
// cert_expiring alert rule: the TLS chain it serves (as loaded), and the
// outbound_tls CA files and client certificates (read again each round).
func (s *Service) certFiles() []alert.Cert {
	var out []alert.Cert
	if s.certs != nil {
		if c := s.certs.cur.Load(); c != nil {
			out = append(out, alert.CertsOf("tls", c.Certificate...)...)
		}
	}
	o := s.cfg.OutboundTLS
	for i, f := range o.CAFiles {
		out = append(out, alert.PEMFileCerts(fmt.Sprintf("outbound_tls.ca_files[%d]", i), f)...)
	}
	if o.CertFile != "" {
		out = append(out, alert.PEMFileCerts("outbound_tls.cert_file", o.CertFile)...)
	}
	for dest, d := range o.Destinations {
		for i, f := range d.CAFiles {
			out = append(out, alert.PEMFileCerts(fmt.Sprintf("outbound_tls.destinations[%s].ca_files[%d]", dest, i), f)...)
		}
		if d.CertFile != "" {
			out = append(out, alert.PEMFileCerts(fmt.Sprintf("outbound_tls.destinations[%s].cert_file", dest), d.CertFile)...)
		}
	}
	return out
}
