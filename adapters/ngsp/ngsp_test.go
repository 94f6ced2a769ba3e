package ngsp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/ngsp"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/metrics"
	ngspsim "github.com/tuyenquang/lgsp/test/sim/ngsp"
)

type category struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

func setup(t *testing.T) (*ngspsim.Server, *ngsp.Client, string, *time.Time) {
	t.Helper()
	sim := ngspsim.New("AbCdEfGhIjKlMnOpQrStUvWxYz1a", "consumer-secret")
	srv := sim.Start()
	t.Cleanup(srv.Close)
	clock := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	c := &ngsp.Client{TokenURL: srv.URL + "/token", ClientID: "AbCdEfGhIjKlMnOpQrStUvWxYz1a", ClientSecret: "consumer-secret", Now: func() time.Time { return clock }}
	return sim, c, srv.URL + "/dmdc/1.0/AllCategory", &clock
}

func TestTokenCacheAndRefresh(t *testing.T) {
	sim, c, svc, clock := setup(t)
	ctx := context.Background()
	for range 3 {
		var got []category
		if err := c.CallJSON(ctx, "GET", svc, nil, &got); err != nil || len(got) != 2 || got[0].Name != "Dân tộc" {
			t.Fatalf("CallJSON = %+v, %v", got, err)
		}
	}
	if sim.Issued() != 1 {
		t.Fatalf("%d tokens for 3 calls, want 1 (cached)", sim.Issued())
	}
	*clock = clock.Add(2879 * time.Second) // just under 80 % of 3600 s
	if err := c.CallJSON(ctx, "GET", svc, nil, nil); err != nil || sim.Issued() != 1 {
		t.Fatalf("before 80%%: %v, %d tokens", err, sim.Issued())
	}
	*clock = clock.Add(2 * time.Second) // past 80 %
	if err := c.CallJSON(ctx, "GET", svc, nil, nil); err != nil || sim.Issued() != 2 {
		t.Fatalf("after 80%%: %v, %d tokens; want a refresh", err, sim.Issued())
	}
}

func TestRetryOnceOn401(t *testing.T) {
	sim, c, svc, _ := setup(t)
	ctx := context.Background()
	if err := c.CallJSON(ctx, "GET", svc, nil, nil); err != nil {
		t.Fatal(err)
	}
	sim.RevokeAll()
	if err := c.CallJSON(ctx, "POST", svc, map[string]string{"q": "x"}, nil); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if sim.Issued() != 2 || sim.Calls() != 2 {
		t.Fatalf("issued %d, calls %d; want a fresh token and the call repeated once", sim.Issued(), sim.Calls())
	}
}

func TestConcurrentCallersShareOneToken(t *testing.T) {
	sim, c, svc, _ := setup(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := c.CallJSON(context.Background(), "GET", svc, nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if sim.Issued() != 1 {
		t.Fatalf("%d tokens for 10 concurrent calls, want 1", sim.Issued())
	}
}

func TestErrors(t *testing.T) {
	_, c, svc, _ := setup(t)
	ctx := context.Background()
	c.ClientSecret = "wrong"
	err := c.CallJSON(ctx, "GET", svc, nil, nil)
	if !errors.Is(err, bus.ErrGatewayAuth) {
		t.Fatalf("wrong secret = %v, want gateway.auth", err)
	}
	c.ClientSecret = "consumer-secret"
	if err := c.CallJSON(ctx, "GET", svc[:len(svc)-3]+"xyz", nil, nil); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("unknown service = %v, want gateway.refused", err)
	}
	c.TokenURL = "http://127.0.0.1:1/token"
	c.Invalidate("")
	c2 := &ngsp.Client{TokenURL: "http://127.0.0.1:1/token", ClientID: "a", ClientSecret: "b"}
	if err := c2.CallJSON(ctx, "GET", svc, nil, nil); !errors.Is(err, bus.ErrGatewayUnreachable) {
		t.Fatalf("token endpoint down = %v, want gateway.unreachable", err)
	}
}

// tokenHealth returns what the gateway metrics saw of ngsp/token.
func tokenHealth() metrics.GatewayHealth {
	for _, g := range metrics.Gateways() {
		if g.Gateway == "ngsp" && g.Op == "token" {
			return g
		}
	}
	return metrics.GatewayHealth{}
}

// TestTokenFeedsGatewayMetrics: each token fetch is a gateway call in the
// metrics: a refused one marks ngsp/token failing (what gateway_failing
// reads), the next good one clears it and sets the last success.
func TestTokenFeedsGatewayMetrics(t *testing.T) {
	_, c, svc, _ := setup(t)
	ctx := context.Background()
	c.ClientSecret = "wrong"
	if err := c.CallJSON(ctx, "GET", svc, nil, nil); !errors.Is(err, bus.ErrGatewayAuth) {
		t.Fatalf("wrong secret = %v", err)
	}
	if h := tokenHealth(); h.FailingSince.IsZero() || h.LastTry.IsZero() {
		t.Fatalf("after a refused token: %+v", h)
	}
	c.ClientSecret = "consumer-secret"
	if err := c.CallJSON(ctx, "GET", svc, nil, nil); err != nil {
		t.Fatal(err)
	}
	if h := tokenHealth(); !h.FailingSince.IsZero() || h.LastOK.IsZero() {
		t.Fatalf("after a good token: %+v", h)
	}
}
