package test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/service"
)

// TestOutboundTLSRESTProxy: the REST proxy of a node reaches a destination
// served with a certificate of a CA the node trusts through outbound_tls
// (ca_files, or the destination's own entry), and refuses it with
// service.unreachable, without any request reaching it, when the CA is not
// trusted.
func TestOutboundTLSRESTProxy(t *testing.T) {
	var hits atomic.Int64
	dest := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer dest.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dest.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.SetDefaultClientTLS(nil) })
	services := fmt.Sprintf("services:\n  - name: tra-cuu\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    timeout: 5s\n", svcOwner, dest.URL+"/api")
	cases := []struct {
		name string
		o    bus.OutboundTLS
		ok   bool
	}{
		{"system roots only", bus.OutboundTLS{}, false},
		{"ca_files", bus.OutboundTLS{CAFiles: []string{ca}}, true},
		{"per destination", bus.OutboundTLS{Destinations: map[string]bus.OutboundTLSDest{dest.Listener.Addr().String(): {CAFiles: []string{ca}}}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := startNodeWith(t, "sqlite", func(c *service.Config) {
				c.OutboundTLS = tc.o
				if err := os.WriteFile(filepath.Join(c.RoutesDir, "dich-vu.yaml"), []byte(services), 0o644); err != nil {
					t.Fatal(err)
				}
			})
			ctx := context.Background()
			src := n.system(t, svcSource, "Cổng dịch vụ công")
			n.system(t, svcOwner, "Văn phòng UBND tỉnh")
			adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": svcSource, "service": "tra-cuu", "scope": "read"}, http.StatusCreated)
			sess, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "tra-cuu", Scope: "read"})
			if err != nil {
				t.Fatal(err)
			}
			before := hits.Load()
			resp, err := src.CallService(ctx, sess, http.MethodGet, "x", nil, nil)
			if tc.ok {
				if err != nil || resp.StatusCode != http.StatusOK || hits.Load() != before+1 {
					t.Fatalf("trusted CA: %v %v (%d calls)", resp, err, hits.Load()-before)
				}
				resp.Body.Close()
				return
			}
			var api *rest.APIError
			if !errors.As(err, &api) || api.Code != "service.unreachable" || hits.Load() != before {
				t.Fatalf("untrusted CA: want service.unreachable and no call, got %v (%d calls)", err, hits.Load()-before)
			}
		})
	}
}
