package soap_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
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
	for _, tc := range tlsCases(t, srv) {
		t.Run(tc.name, func(t *testing.T) {
			useTLS(t, tc.o)
			before := hits.Load()
			c, err := soap.NewClient(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			err = c.Call(context.Background(), "a", &GetExchange{Id: "1"}, nil)
			if tc.ok && (err != nil || hits.Load() != before+1) {
				t.Fatalf("trusted CA: %v (%d calls)", err, hits.Load()-before)
			}
			if !tc.ok && (bus.CodeOf(err) != "service.unreachable" || hits.Load() != before) {
				t.Fatalf("untrusted CA: want service.unreachable and no call, got %v", err)
			}
		})
	}
}
