package ngsp_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/ngsp"
	"github.com/tuyenquang/lgsp/bus"
	ngspsim "github.com/tuyenquang/lgsp/test/sim/ngsp"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestOutboundTLSNGSP: an NGSP client without an HTTP client of its own
// reaches a token endpoint served with a certificate of a CA set in
// outbound_tls, and refuses it (gateway.unreachable) when not trusted.
func TestOutboundTLSNGSP(t *testing.T) {
	sim := ngspsim.New("AbCdEfGhIjKlMnOpQrStUvWxYz1a", "consumer-secret")
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	for _, tc := range testenv.OutboundTLSCases(t, srv) {
		t.Run(tc.Name, func(t *testing.T) {
			testenv.UseOutboundTLS(t, tc.TLS)
			c := &ngsp.Client{TokenURL: srv.URL + "/token", ClientID: "AbCdEfGhIjKlMnOpQrStUvWxYz1a", ClientSecret: "consumer-secret"}
			tok, err := c.Token(context.Background())
			if tc.OK && (err != nil || tok == "") {
				t.Fatalf("trusted CA: %q, %v", tok, err)
			}
			if !tc.OK && bus.CodeOf(err) != bus.ErrGatewayUnreachable.Code {
				t.Fatalf("untrusted CA: want %s, got %v", bus.ErrGatewayUnreachable.Code, err)
			}
		})
	}
}
