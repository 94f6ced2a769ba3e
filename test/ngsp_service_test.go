package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/adapters/ngsp" // the NGSP gateway module, as in cmd/lgsp
	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	ngspsim "github.com/tuyenquang/lgsp/test/sim/ngsp"
)

// TestNGSPServiceThroughBus: a province system calls a service published on
// NGSP through /svc/<name>/…; the bus adds the province's OAuth2 token
// (cached), keeps the session key inside, and when NGSP answers 401 once
// (tokens revoked) fetches a fresh token and sends the call, body included,
// once more.
func TestNGSPServiceThroughBus(t *testing.T) {
	sim := ngspsim.New("ck-tuyenquang", "cs-secret")
	srv := sim.Start()
	defer srv.Close()
	t.Setenv("LGSP_TEST_NGSP_SECRET", "cs-secret")
	var gw yaml.Node
	if err := yaml.Unmarshal([]byte(fmt.Sprintf("token_url: %s/token\nconsumer_key: ck-tuyenquang\nsecret_env: LGSP_TEST_NGSP_SECRET\nservices: [dmdc]\n", srv.URL)), &gw); err != nil {
		t.Fatal(err)
	}
	services := fmt.Sprintf("services:\n  - name: dmdc\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    gateway: ngsp\n", svcOwner, srv.URL+"/dmdc/1.0")
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Gateways = map[string]yaml.Node{"ngsp": *gw.Content[0]}
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "ngsp.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	src := n.system(t, svcSource, "Cổng dịch vụ công")
	n.system(t, svcOwner, "Cục Chuyển đổi số")
	adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": svcSource, "service": "dmdc", "scope": "read"}, http.StatusCreated)
	sess, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "dmdc", Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method string, body []byte) string {
		t.Helper()
		resp, err := src.CallService(ctx, sess, method, "AllCategory", body, http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-LGSP-Error-Code") != "" {
			t.Fatalf("HTTP %d %s", resp.StatusCode, b)
		}
		return string(b)
	}

	if got := call(http.MethodGet, nil); !strings.Contains(got, "Dân tộc") {
		t.Fatalf("answer %s", got)
	}
	h := sim.LastHeader()
	if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("X-LGSP-Session") != "" || h.Get("X-LGSP-Caller") != svcSource {
		t.Fatalf("NGSP received Authorization %q, session key present %v, caller %q", h.Get("Authorization"), h.Get("X-LGSP-Session") != "", h.Get("X-LGSP-Caller"))
	}
	call(http.MethodGet, nil)
	if sim.Issued() != 1 || sim.Calls() != 2 || sim.Refused() != 0 {
		t.Fatalf("token cached: issued %d, calls %d, refused %d", sim.Issued(), sim.Calls(), sim.Refused())
	}

	// NGSP forgets its tokens: the next call is refused once, then sent
	// again with a fresh token, its body replayed.
	sim.RevokeAll()
	call(http.MethodPost, []byte(`{"loai":"DT"}`))
	if sim.Issued() != 2 || sim.Calls() != 3 || sim.Refused() != 1 {
		t.Fatalf("after revocation: issued %d, calls %d, refused %d", sim.Issued(), sim.Calls(), sim.Refused())
	}
}

// TestNGSPServiceRefusals: a service behind NGSP on a node without
// gateways.ngsp is service.unreachable, and credentials NGSP refuses are
// gateway.auth; neither reaches a protected NGSP service.
func TestNGSPServiceRefusals(t *testing.T) {
	sim := ngspsim.New("ck-tuyenquang", "cs-secret")
	srv := sim.Start()
	defer srv.Close()
	t.Setenv("LGSP_TEST_NGSP_SECRET", "not-the-secret")
	for _, tc := range []struct {
		name, gateway string
		want          bus.Code
	}{
		{"not configured", "", bus.ErrServiceDown.Code},
		{"wrong secret", fmt.Sprintf("token_url: %s/token\nconsumer_key: ck-tuyenquang\nsecret_env: LGSP_TEST_NGSP_SECRET\n", srv.URL), bus.ErrGatewayAuth.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			services := fmt.Sprintf("services:\n  - name: dmdc\n    owner: %q\n    endpoint: %q\n    scopes: [read]\n    gateway: ngsp\n", svcOwner, srv.URL+"/dmdc/1.0")
			n := startNodeWith(t, "sqlite", func(c *service.Config) {
				if tc.gateway != "" {
					var gw yaml.Node
					if err := yaml.Unmarshal([]byte(tc.gateway), &gw); err != nil {
						t.Fatal(err)
					}
					c.Gateways = map[string]yaml.Node{"ngsp": *gw.Content[0]}
				}
				if err := os.WriteFile(filepath.Join(c.RoutesDir, "ngsp.yaml"), []byte(services), 0o644); err != nil {
					t.Fatal(err)
				}
			})
			ctx := context.Background()
			src := n.system(t, svcSource, "Cổng dịch vụ công")
			n.system(t, svcOwner, "Cục Chuyển đổi số")
			adminCall(t, n, http.MethodPost, "/admin/v1/grants", map[string]string{"kind": "service", "source": svcSource, "service": "dmdc", "scope": "read"}, http.StatusCreated)
			sess, err := src.OpenSession(ctx, rest.OpenSessionRequest{Service: "dmdc", Scope: "read"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := src.CallService(ctx, sess, http.MethodGet, "AllCategory", nil, nil)
			if err == nil {
				resp.Body.Close()
			}
			wantAPICode(t, err, tc.want)
			if sim.Calls() != 0 || sim.Refused() != 0 {
				t.Fatalf("NGSP service reached: %d calls, %d refused", sim.Calls(), sim.Refused())
			}
		})
	}
}

// TestNGSPDeliveryThroughEngine: an exchange addressed to a system that
// stands for a service published on NGSP (gateways.ngsp.deliveries) is a
// delivery of kind ngsp_call in the engine: POSTed with the province's
// token (fetched once, and once more after NGSP revoked it: one retry on
// 401) and the item's Idempotency-Key; a 503 is retried by the engine with
// the same key, and the recipient is confirmed once NGSP accepted it.
func TestNGSPDeliveryThroughEngine(t *testing.T) {
	sim := ngspsim.New("ck-tuyenquang", "cs-secret")
	srv := sim.Start()
	defer srv.Close()
	const national = "000.00.98.H60" // stands for the national document service on NGSP
	t.Setenv("LGSP_TEST_NGSP_SECRET", "cs-secret")
	var gw yaml.Node
	conf := fmt.Sprintf("token_url: %s/token\nconsumer_key: ck-tuyenquang\nsecret_env: LGSP_TEST_NGSP_SECRET\nservices: [vbdt]\ndeliveries:\n  %q: {service: vbdt, path: /receive}\n", srv.URL, national)
	if err := yaml.Unmarshal([]byte(conf), &gw); err != nil {
		t.Fatal(err)
	}
	services := fmt.Sprintf("services:\n  - name: vbdt\n    owner: %q\n    endpoint: %q\n    scopes: [send]\n    gateway: ngsp\n", svcOwner, srv.URL+"/vbdt/1.0")
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Gateways = map[string]yaml.Node{"ngsp": *gw.Content[0]}
		c.Delivery.Retry = bus.RetryPolicy{Initial: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxAttempts: 5}
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "ngsp.yaml"), []byte(services), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	n.system(t, svcSource, "Cổng dịch vụ công")
	n.system(t, svcOwner, "Cục Chuyển đổi số")
	n.system(t, national, "Hệ thống văn bản điện tử quốc gia (NGSP)")
	sim.FailReceive(1)
	id := sendSmall(t, n, svcSource, national)
	var key string
	eventually(t, "the document reaches the NGSP service", func() (bool, error) {
		for k, bodies := range sim.Received() {
			key = k
			return len(bodies) == 1, nil
		}
		return false, nil
	})
	if key != "lgsp-"+id+"-"+national || string(sim.Received()[key][0]) != "<tb>họp giao ban</tb>" {
		t.Fatalf("NGSP received key %q, body %q", key, sim.Received()[key])
	}
	if h := sim.LastHeader(); !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("X-LGSP-Exchange") != id || h.Get("Content-Type") != "application/xml" {
		t.Fatalf("NGSP received headers %v", h)
	}
	eventually(t, "the recipient confirmed", func() (bool, error) {
		st, err := n.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			return false, err
		}
		kinds := map[string]bool{}
		for _, e := range st.Ledger {
			kinds[e.Kind] = true
		}
		return kinds["ngsp_delivered"] && kinds["confirmed"], nil
	})
	if sim.Issued() != 1 {
		t.Fatalf("tokens issued: %d, want 1 (cached across the retry)", sim.Issued())
	}
	// NGSP forgets its tokens: the next delivery is refused once, then sent
	// with a fresh token.
	sim.RevokeAll()
	id2 := sendSmall(t, n, svcSource, national)
	eventually(t, "the second document reaches NGSP", func() (bool, error) {
		total := 0
		for _, b := range sim.Received() {
			total += len(b)
		}
		return total == 2, nil
	})
	if sim.Issued() != 2 || sim.Refused() != 1 {
		t.Fatalf("after revocation: issued %d, refused %d; want 2 and 1", sim.Issued(), sim.Refused())
	}
	var list struct{ Items []delivery.View }
	eventually(t, "both ngsp_call deliveries done", func() (bool, error) {
		list.Items = nil
		if code := adminJSON(t, n, "GET", "/admin/v1/deliveries?status=done&kind="+ngsp.KindCall, nil, &list); code != http.StatusOK {
			return false, fmt.Errorf("HTTP %d", code)
		}
		return len(list.Items) == 2, nil
	})
	for _, it := range list.Items {
		if it.Status != store.OutboxDone || it.Target != national || (it.ExchangeID != id && it.ExchangeID != id2) {
			t.Fatalf("delivery %+v", it)
		}
	}
}

// TestNGSPDeliveryFromRouteFile: the mapping of a system to an NGSP
// service is declared in a route file (ngsp_deliveries:, owned by
// adapters/ngsp) instead of gateways.ngsp.deliveries, with its own retry:.
func TestNGSPDeliveryFromRouteFile(t *testing.T) {
	sim := ngspsim.New("ck-tuyenquang", "cs-secret")
	srv := sim.Start()
	defer srv.Close()
	const national = "000.00.98.H60"
	t.Setenv("LGSP_TEST_NGSP_SECRET", "cs-secret")
	var gw yaml.Node
	conf := fmt.Sprintf("token_url: %s/token\nconsumer_key: ck-tuyenquang\nsecret_env: LGSP_TEST_NGSP_SECRET\n", srv.URL)
	if err := yaml.Unmarshal([]byte(conf), &gw); err != nil {
		t.Fatal(err)
	}
	routes := fmt.Sprintf("services:\n  - name: vbdt\n    owner: %q\n    endpoint: %q\n    scopes: [send]\n    gateway: ngsp\n"+
		"ngsp_deliveries:\n  - system: %q\n    service: vbdt\n    path: /receive\n    retry: {initial: 20ms, max_interval: 50ms, max_attempts: 5}\n", svcOwner, srv.URL+"/vbdt/1.0", national)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Gateways = map[string]yaml.Node{"ngsp": *gw.Content[0]}
		if err := os.WriteFile(filepath.Join(c.RoutesDir, "ngsp.yaml"), []byte(routes), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	n.system(t, svcSource, "Cổng dịch vụ công")
	n.system(t, svcOwner, "Cục Chuyển đổi số")
	n.system(t, national, "Hệ thống văn bản điện tử quốc gia (NGSP)")
	sim.FailReceive(1) // the first attempt fails; the engine retries it (the entry's retry: is checked in adapters/ngsp TestSectionDecodes)
	id := sendSmall(t, n, svcSource, national)
	eventually(t, "the document reaches the NGSP service and is confirmed", func() (bool, error) {
		if len(sim.Received()["lgsp-"+id+"-"+national]) != 1 {
			return false, nil
		}
		st, err := n.svc.Exchange().Status(ctx, "", id)
		if err != nil {
			return false, err
		}
		kinds := map[string]bool{}
		for _, e := range st.Ledger {
			kinds[e.Kind] = true
		}
		return kinds["ngsp_delivered"] && kinds["confirmed"], nil
	})
}
