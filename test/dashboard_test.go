package test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// scrape reads a node's /metrics with the admin token.
func scrape(t *testing.T, n *node) string {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b)
}

// hasSeries reports whether the exposition text has a sample of name.
func hasSeries(text, name string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			return true
		}
	}
	return false
}

// dashboardMetrics lists the metric names the Grafana dashboard queries.
func dashboardMetrics(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	name := regexp.MustCompile(`\b(?:lgsp|go|process)_[a-z0-9_]+\b`)
	seen := map[string]bool{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			m := name.FindAllString(q.Expr, -1)
			if len(m) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, q.Expr)
			}
			for _, x := range m {
				seen[x] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for x := range seen {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// TestGrafanaDashboardMetricsExist: every metric the dashboard in configs/
// queries is served by a real node's /metrics once the node has done the
// things the panels show (requests, a refused signature, an exchange with
// a webhook delivery, an alert, VXP polls).
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	want := dashboardMetrics(t, "../configs/grafana-lgsp.json")
	if len(want) < 10 {
		t.Fatalf("dashboard queries only %v", want)
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	_, gateway := vxpGateway(t, "@every 1s") // a VXP axis that answers: gateway calls
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		gateway(c)
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
	})
	ctx := context.Background()
	n.system(t, "000.00.01.H60", "Sở A")
	n.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.07.H60", Name: "Sở Y tế", WebhookURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	// An access key expiring soon: key_expiring fires on the log channel.
	if _, _, err := n.svc.Registry().IssueKey(ctx, "000.00.07.H60", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	sendSmall(t, n, "000.00.01.H60", "000.00.07.H60")
	bad := &rest.Client{BaseURL: n.url, AccessKey: n.clients["000.00.01.H60"].AccessKey, SecretKey: strings.Repeat("x", 43)}
	if _, err := bad.Request(ctx, exchange.Request{Recipients: []string{"000.00.07.H60"}, Title: "x", DataType: "edoc"}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	eventually(t, "every dashboard metric on /metrics", func() (bool, error) {
		text := scrape(t, n)
		for _, m := range want {
			if !hasSeries(text, m) {
				t.Logf("not yet: %s", m)
				return false, nil
			}
		}
		return true, nil
	})
}
