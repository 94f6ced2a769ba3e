package ngsp_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/ngsp"
	"github.com/tuyenquang/lgsp/bus"
	ngspsim "github.com/tuyenquang/lgsp/test/sim/ngsp"
)

// tlsCases are the outbound TLS settings a destination served by srv
// (with a certificate of httptest's own CA) is reached under (ok) or
// refused under: the system's roots alone do not know the CA.
func tlsCases(t *testing.T, srv *httptest.Server) []struct {
	name string
	o    bus.OutboundTLS
	ok   bool
} {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.SetDefaultClientTLS(nil) })
	addr := srv.Listener.Addr().String()
	return []struct {
		name string
		o    bus.OutboundTLS
		ok   bool
	}{
		{"system roots only", bus.OutboundTLS{}, false},
		{"ca_files", bus.OutboundTLS{CAFiles: []string{ca}}, true},
		{"per destination", bus.OutboundTLS{Destinations: map[string]bus.OutboundTLSDest{addr: {CAFiles: []string{ca}}}}, true},
		{"another destination's CA", bus.OutboundTLS{Destinations: map[string]bus.OutboundTLSDest{"127.0.0.2:443": {CAFiles: []string{ca}}}}, false},
	}
}

// useTLS makes o the process-wide outbound TLS settings, as a node does
// at start.
func useTLS(t *testing.T, o bus.OutboundTLS) {
	t.Helper()
	c, err := o.Build()
	if err != nil {
		t.Fatal(err)
	}
	bus.SetDefaultClientTLS(c)
}

// TestOutboundTLSNGSP: an NGSP client without an HTTP client of its own
// reaches a token endpoint served with a certificate of a CA set in
// outbound_tls, and refuses it (gateway.unreachable) when not trusted.
func TestOutboundTLSNGSP(t *testing.T) {
	sim := ngspsim.New("AbCdEfGhIjKlMnOpQrStUvWxYz1a", "consumer-secret")
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	for _, tc := range tlsCases(t, srv) {
		t.Run(tc.name, func(t *testing.T) {
			useTLS(t, tc.o)
			c := &ngsp.Client{TokenURL: srv.URL + "/token", ClientID: "AbCdEfGhIjKlMnOpQrStUvWxYz1a", ClientSecret: "consumer-secret"}
			tok, err := c.Token(context.Background())
			if tc.ok && (err != nil || tok == "") {
				t.Fatalf("trusted CA: %q, %v", tok, err)
			}
			if !tc.ok && bus.CodeOf(err) != bus.ErrGatewayUnreachable.Code {
				t.Fatalf("untrusted CA: want %s, got %v", bus.ErrGatewayUnreachable.Code, err)
			}
		})
	}
}
