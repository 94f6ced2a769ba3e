package vxp_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestOutboundTLSVXP: the default VXP client (built before start-up)
// reaches an axis served with a certificate of a CA set in outbound_tls,
// and refuses it (gateway.unreachable) when the CA is not trusted.
func TestOutboundTLSVXP(t *testing.T) {
	sim := vxpsim.New(map[string]string{gw: secret})
	sim.AddAgency(vxpsim.Agency{Code: gw, Name: "UBND tỉnh Tuyên Quang"})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	for _, tc := range testenv.OutboundTLSCases(t, srv) {
		t.Run(tc.Name, func(t *testing.T) {
			testenv.UseOutboundTLS(t, tc.TLS)
			c := &vxp.Client{BaseURL: srv.URL, SystemID: gw, Secret: secret}
			ag, err := c.GetAgencies(context.Background())
			if tc.OK && (err != nil || len(ag) != 1) {
				t.Fatalf("trusted CA: %+v, %v", ag, err)
			}
			if !tc.OK && bus.CodeOf(err) != bus.ErrGatewayUnreachable.Code {
				t.Fatalf("untrusted CA: want %s, got %v", bus.ErrGatewayUnreachable.Code, err)
			}
		})
	}
}
