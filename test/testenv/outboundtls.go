package testenv

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
)

// TLSCase is one outbound TLS setting and whether a destination served by
// an httptest TLS server is reached under it.
type TLSCase struct {
	Name string
	TLS  bus.OutboundTLS
	OK   bool
}

// OutboundTLSCases are the outbound TLS settings a destination served by
// srv (with a certificate of httptest's own CA) is reached under (OK) or
// refused under: the system's roots alone do not know the CA. The
// process-wide settings are reset when the test ends.
func OutboundTLSCases(t testing.TB, srv *httptest.Server) []TLSCase {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.SetDefaultClientTLS(nil) })
	addr := srv.Listener.Addr().String()
	return []TLSCase{
		{"system roots only", bus.OutboundTLS{}, false},
		{"ca_files", bus.OutboundTLS{CAFiles: []string{ca}}, true},
		{"per destination", bus.OutboundTLS{Destinations: map[string]bus.OutboundTLSDest{addr: {CAFiles: []string{ca}}}}, true},
		{"another destination's CA", bus.OutboundTLS{Destinations: map[string]bus.OutboundTLSDest{"127.0.0.2:443": {CAFiles: []string{ca}}}}, false},
	}
}

// UseOutboundTLS makes o the process-wide outbound TLS settings, as a node
// does at start.
func UseOutboundTLS(t testing.TB, o bus.OutboundTLS) {
	t.Helper()
	c, err := o.Build()
	if err != nil {
		t.Fatal(err)
	}
	bus.SetDefaultClientTLS(c)
}
