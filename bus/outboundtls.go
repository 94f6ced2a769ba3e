package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// OutboundTLS is the trust and identity of the platform's own HTTPS calls
// (webhooks, gateways such as VXP and NGSP, REST and SOAP destinations).
// The Vietnamese government and commercial CAs are not in every system
// store, so CA files can be added to the system's roots, for every
// destination or for one; a destination that asks for a client
// certificate gets the one configured for it (or the default one).
// Certificates are always verified: there is no setting to skip it.
type OutboundTLS struct {
	// CAFiles are PEM files of CA certificates trusted in addition to the
	// system's roots, for every destination.
	CAFiles []string `yaml:"ca_files"`
	// CertFile and KeyFile are a PEM client certificate presented to any
	// destination that asks for one (and has none of its own below).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"` // KeyFile is the private key of CertFile.
	// Destinations set trust and identity per destination, keyed by
	// "host:port" or "host" (the port-qualified entry wins).
	Destinations map[string]OutboundTLSDest `yaml:"destinations"`
}

// OutboundTLSDest is the TLS of one destination.
type OutboundTLSDest struct {
	// CAFiles are added to the trust of this destination (to the system's
	// roots and OutboundTLS.CAFiles, unless OnlyCAFiles).
	CAFiles []string `yaml:"ca_files"`
	// OnlyCAFiles trusts CAFiles alone for this destination (pinning its
	// CA); the system's roots and the global CA files are not used.
	OnlyCAFiles bool `yaml:"only_ca_files"`
	// CertFile and KeyFile: the client certificate for this destination.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"` // KeyFile is the private key of CertFile.
	// ServerName is the name checked in the destination's certificate when
	// it differs from the host dialed (e.g. an IP address).
	ServerName string `yaml:"server_name"`
}

// ClientTLS holds the built client TLS settings, ready for a transport.
type ClientTLS struct {
	def *tls.Config
	per map[string]*tls.Config
}

// Validate loads every file the settings name.
func (o OutboundTLS) Validate() error { _, err := o.Build(); return err }

// Build loads the CA and key files and returns the client settings.
func (o OutboundTLS) Build() (*ClientTLS, error) {
	sys, err := x509.SystemCertPool()
	if err != nil || sys == nil {
		sys = x509.NewCertPool()
	}
	globalPEM, err := readPEMs(o.CAFiles)
	if err != nil {
		return nil, err
	}
	roots := sys.Clone()
	if err := addPEMs(roots, globalPEM, o.CAFiles); err != nil {
		return nil, err
	}
	def := clientBase(roots)
	if err := setClientCert(def, o.CertFile, o.KeyFile); err != nil {
		return nil, err
	}
	c := &ClientTLS{def: def, per: map[string]*tls.Config{}}
	for name, d := range o.Destinations {
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("destinations: empty name")
		}
		pool := roots.Clone()
		if d.OnlyCAFiles {
			if len(d.CAFiles) == 0 {
				return nil, fmt.Errorf("destinations.%s: only_ca_files needs ca_files", name)
			}
			pool = x509.NewCertPool()
		}
		pems, err := readPEMs(d.CAFiles)
		if err != nil {
			return nil, fmt.Errorf("destinations.%s: %w", name, err)
		}
		if err := addPEMs(pool, pems, d.CAFiles); err != nil {
			return nil, fmt.Errorf("destinations.%s: %w", name, err)
		}
		cfg := clientBase(pool)
		cfg.ServerName = d.ServerName
		cfg.Certificates = def.Certificates
		if d.CertFile != "" || d.KeyFile != "" {
			if err := setClientCert(cfg, d.CertFile, d.KeyFile); err != nil {
				return nil, fmt.Errorf("destinations.%s: %w", name, err)
			}
		}
		c.per[strings.ToLower(name)] = cfg
	}
	return c, nil
}

func clientBase(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

func readPEMs(files []string) ([][]byte, error) {
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ca_files: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func addPEMs(pool *x509.CertPool, pems [][]byte, names []string) error {
	for i, b := range pems {
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("ca_files: %s holds no PEM certificate", names[i])
		}
	}
	return nil
}

func setClientCert(cfg *tls.Config, certFile, keyFile string) error {
	if certFile == "" && keyFile == "" {
		return nil
	}
	if certFile == "" || keyFile == "" {
		return errors.New("cert_file and key_file go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	return nil
}

// Destinations returns the names that have settings of their own.
func (c *ClientTLS) Destinations() []string {
	out := make([]string, 0, len(c.per))
	for n := range c.per {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// For returns the TLS settings for addr ("host:port"), a copy the caller
// may change: the destination's own (by host:port, then host), else the
// default. ServerName is the host when the destination sets none.
func (c *ClientTLS) For(addr string) *tls.Config {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	cfg, ok := c.per[strings.ToLower(addr)]
	if !ok {
		cfg, ok = c.per[strings.ToLower(host)]
	}
	if !ok {
		cfg = c.def
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// Apply makes tr use these settings for every HTTPS connection: the
// destination's trust and client certificate are chosen by the address
// dialed. The TCP connection still comes from tr.DialContext, so an
// OutboundPolicy on it keeps applying.
func (c *ClientTLS) Apply(tr *http.Transport) {
	tr.TLSClientConfig = c.def.Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	h2 := tr.ForceAttemptHTTP2
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := c.For(addr)
		if h2 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

var defaultClientTLS atomic.Pointer[ClientTLS]

// SetDefaultClientTLS sets the process-wide outbound TLS settings (the
// service sets them at start from outbound_tls); clients built afterwards
// by OutboundPolicy.Client and DefaultClientTLS use them.
func SetDefaultClientTLS(c *ClientTLS) { defaultClientTLS.Store(c) }

// DefaultClientTLS returns the process-wide outbound TLS settings: those
// set by SetDefaultClientTLS, or the system's roots alone.
func DefaultClientTLS() *ClientTLS {
	if c := defaultClientTLS.Load(); c != nil {
		return c
	}
	c, err := OutboundTLS{}.Build()
	if err != nil { // cannot happen: no files to read
		c = &ClientTLS{def: clientBase(nil), per: map[string]*tls.Config{}}
	}
	defaultClientTLS.CompareAndSwap(nil, c)
	return defaultClientTLS.Load()
}

// TLSTransport is a RoundTripper that builds its transport (with mk) the
// first time it is used and applies the process-wide outbound TLS settings
// to it; when those settings change (a node started with other
// outbound_tls) the transport is built again. Package-level clients made
// before start-up use it, so they never keep the settings of init time.
type TLSTransport struct {
	mk func() *http.Transport

	mu  sync.Mutex
	set *ClientTLS
	tr  *http.Transport
}

// NewTLSTransport returns a TLSTransport building its transport with mk.
func NewTLSTransport(mk func() *http.Transport) *TLSTransport { return &TLSTransport{mk: mk} }

// Current returns the transport for the current outbound TLS settings.
func (t *TLSTransport) Current() *http.Transport {
	set := DefaultClientTLS()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr == nil || t.set != set {
		if t.tr != nil {
			t.tr.CloseIdleConnections()
		}
		tr := t.mk()
		set.Apply(tr)
		t.tr, t.set = tr, set
	}
	return t.tr
}

// RoundTrip sends r through the current transport.
func (t *TLSTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.Current().RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the current transport.
func (t *TLSTransport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr != nil {
		t.tr.CloseIdleConnections()
	}
}
