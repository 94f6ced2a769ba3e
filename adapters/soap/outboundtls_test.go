package soap_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestOutboundTLSSOAP: a SOAP client (as the SOAP pushes and the REST
// bridge build them) reaches an endpoint served with a certificate of a CA
// set in outbound_tls, and refuses it (service.unreachable) when not.
func TestOutboundTLSSOAP(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, env11, `<r xmlns="urn:t">ok</r>`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range testenv.OutboundTLSCases(t, srv) {
		t.Run(tc.Name, func(t *testing.T) {
			testenv.UseOutboundTLS(t, tc.TLS)
			before := hits.Load()
			c, err := soap.NewClient(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			err = c.Call(context.Background(), "a", &GetExchange{Id: "1"}, nil)
			if tc.OK && (err != nil || hits.Load() != before+1) {
				t.Fatalf("trusted CA: %v (%d calls)", err, hits.Load()-before)
			}
			if !tc.OK && (bus.CodeOf(err) != "service.unreachable" || hits.Load() != before) {
				t.Fatalf("untrusted CA: want service.unreachable and no call, got %v", err)
			}
		})
	}
}
