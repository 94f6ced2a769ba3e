package vxp_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
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

// TestOutboundTLSVXP: the default VXP client (built before start-up)
// reaches an axis served with a certificate of a CA set in outbound_tls,
// and refuses it (gateway.unreachable) when the CA is not trusted.
func TestOutboundTLSVXP(t *testing.T) {
	sim := vxpsim.New(map[string]string{gw: secret})
	sim.AddAgency(vxpsim.Agency{Code: gw, Name: "UBND tỉnh Tuyên Quang"})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	for _, tc := range tlsCases(t, srv) {
		t.Run(tc.name, func(t *testing.T) {
			useTLS(t, tc.o)
			c := &vxp.Client{BaseURL: srv.URL, SystemID: gw, Secret: secret, Retry: bus.RetryPolicy{MaxAttempts: 1}}
			ag, err := c.GetAgencies(context.Background())
			if tc.ok && (err != nil || len(ag) != 1) {
				t.Fatalf("trusted CA: %+v, %v", ag, err)
			}
			if !tc.ok && bus.CodeOf(err) != bus.ErrGatewayUnreachable.Code {
				t.Fatalf("untrusted CA: want %s, got %v", bus.ErrGatewayUnreachable.Code, err)
			}
		})
	}
}
