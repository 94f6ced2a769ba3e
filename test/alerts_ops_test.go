package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

// TestAlertAuthFailuresPerAddress: requests with bad signatures from one
// client address reach alerts.rules.auth_failures within auth_window and
// fire auth_failures for that address (signed webhook, vi + en; the count
// shown is capped at the threshold); another
// address with fewer failures does not fire; once the failures age out of
// the window the alert sends "resolved".
func TestAlertAuthFailuresPerAddress(t *testing.T) {
	const window = 1500 * time.Millisecond
	n, sink := ruleNode(t, alert.Rules{AuthFailures: 5, AuthWindow: window}, func(c *service.Config) {
		// The key lock stays out of the way: the rule is about addresses.
		c.Auth.LockFailures, c.Auth.AlertFailures = 1000, 1000
	})
	victim := n.system(t, "000.00.53.H60", "Sở Xây dựng")
	bad := func(c *http.Client) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		if err := auth.Sign(req, victim.AccessKey, "guessed-secret", auth.EmptySHA256, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code := resp.Header.Get("X-LGSP-Error-Code"); !strings.HasPrefix(code, "auth.") {
			t.Fatalf("bad signature answered %d %q", resp.StatusCode, code)
		}
	}
	attacker, other := clientFrom("127.0.0.4"), clientFrom("127.0.0.5")
	bad(other)
	bad(other)
	start := time.Now()
	for range 6 {
		bad(attacker)
	}
	eventually(t, "auth_failures fired", func() (bool, error) {
		return sink.count(alert.RuleAuthFailures, alert.Firing) == 1, nil
	})
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("the alert took %v", d)
	}
	m := sink.message(alert.RuleAuthFailures, alert.Firing)
	if m.Subject != "test-node/addr:127.0.0.4" || !strings.Contains(m.MessageVI, "xác thực sai") || !strings.Contains(m.MessageEN, "5 failed authentications by addr:127.0.0.4") {
		t.Fatalf("message: %+v", m)
	}
	if strings.Contains(m.MessageEN, "guessed-secret") || strings.Contains(m.MessageVI, "guessed-secret") {
		t.Fatal("the alert quotes what the caller sent")
	}
	eventually(t, "auth_failures resolved", func() (bool, error) {
		return sink.count(alert.RuleAuthFailures, alert.Resolved) == 1, nil
	})
	r := sink.message(alert.RuleAuthFailures, alert.Resolved)
	if r.Subject != m.Subject || !strings.Contains(r.MessageVI, "Đã hết") || !strings.Contains(r.MessageEN, "Resolved") {
		t.Fatalf("resolved: %+v", r)
	}
	if f := sink.count(alert.RuleAuthFailures, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times (the other address must not fire), %d bad signatures", f, sink.bad)
	}
}

// TestAlertTrafficAnomalySOAPAndVXP: the traffic baseline counts calls that
// do not go through the REST API: a system calling the QLVB SOAP service
// with a WS-Security UsernameToken, and a system calling the VXP drop-in
// endpoint with the SDK's signature. Each sends 1 call per 1 s window for
// a baseline, then a burst of 14 at the start of a window: traffic_anomaly
// fires for each (14 ≥ traffic_min 10 and > 4 × the median 1), then
// resolves.
func TestAlertTrafficAnomalySOAPAndVXP(t *testing.T) {
	const window = time.Second
	n, sink := ruleNode(t, alert.Rules{TrafficWindow: window, TrafficBaseline: 3, TrafficFactor: 4, TrafficMin: 10}, func(c *service.Config) {
		vxpEndpointOn(c)
		c.PublicURL = ""
	})
	ctx := context.Background()
	soapSys := n.system(t, "000.00.56.H60", "Sở Ngoại vụ — QLVB SOAP")
	n.system(t, "000.00.57.H60", "Sở Du lịch — SDK VXP")
	wss, err := soap.NewClient(n.url+qlvb.Path, soap.WithTimeout(time.Minute), soap.WithUsernameToken(soapSys.AccessKey, soapSys.SecretKey, true))
	if err != nil {
		t.Fatal(err)
	}
	sdk := sdkClient(n, "000.00.57.H60", n.clients["000.00.57.H60"].SecretKey)
	soapCall := func() {
		t.Helper()
		var resp lgspedoc.GetAgencyListResponse
		if err := wss.Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	vxpCall := func() {
		t.Helper()
		if _, err := sdk.GetReceivedEdocList(ctx, "edoc"); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		atWindowStart(window)
		soapCall()
		vxpCall()
	}
	// The burst goes at once, so that it lands in one window even on a
	// loaded machine (one after the other, 28 calls under -race could
	// spill into the next window and never make one window anomalous).
	atWindowStart(window)
	var wg sync.WaitGroup
	errs := make(chan error, 28)
	for range 14 {
		wg.Go(func() {
			var resp lgspedoc.GetAgencyListResponse
			errs <- wss.Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, &resp)
		})
		wg.Go(func() {
			_, err := sdk.GetReceivedEdocList(ctx, "edoc")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, sys := range []string{"000.00.56.H60", "000.00.57.H60"} {
		subject := "test-node/" + sys
		eventually(t, "traffic_anomaly fired for "+sys, func() (bool, error) {
			return sink.subjectCount(alert.RuleTrafficAnomaly, alert.Firing, subject) == 1, nil
		})
	}
	for _, sys := range []string{"000.00.56.H60", "000.00.57.H60"} {
		subject := "test-node/" + sys
		eventually(t, "traffic_anomaly resolved for "+sys, func() (bool, error) {
			return sink.subjectCount(alert.RuleTrafficAnomaly, alert.Resolved, subject) == 1, nil
		})
	}
	if f := sink.count(alert.RuleTrafficAnomaly, alert.Firing); f != 2 || sink.bad != 0 {
		t.Fatalf("fired %d times, want 2; %d bad signatures", f, sink.bad)
	}
}

// TestAlertTrafficAnomalyGatewayPulls: documents pulled from the VXP axis
// count as traffic of the gateway system. One document is pulled first
// (the node starts counting), then nothing for the baseline windows, then
// 20 documents arrive and one poll pulls them all: traffic_anomaly fires
// for the gateway system, and resolves in the windows after.
func TestAlertTrafficAnomalyGatewayPulls(t *testing.T) {
	const window = 2 * time.Second
	sim, gw := vxpGateway(t, "@every 1s")
	n, sink := ruleNode(t, alert.Rules{TrafficWindow: window, TrafficBaseline: 2, TrafficFactor: 4, TrafficMin: 15}, gw)
	n.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	n.system(t, rcptSys, "QLVB Văn phòng UBND tỉnh")
	n.grant(t, "exchange", gwSystem, rcptSys, "edoc")
	put := func(i int) string {
		return sim.Put(vpcpOrgan, []string{gwOrgan}, "edoc", vxpsim.SamplePacket(vpcpOrgan, []string{rcptSys}, fmt.Sprintf("Công văn thử số %d", i), []byte("x")))
	}
	first := put(0)
	eventually(t, "the first document pulled", func() (bool, error) { return sim.Transport(first, gwOrgan) == vxp.TransportDone, nil })
	// The baseline: two windows without documents.
	waitWindows := time.Now().Add(2 * window)
	eventuallyWithin(t, 10*time.Second, "two quiet windows", func() (bool, error) { return time.Now().After(waitWindows), nil })
	var ids []string
	for i := range 20 {
		ids = append(ids, put(i+1))
	}
	subject := "test-node/" + gwSystem
	eventually(t, "traffic_anomaly fired for the gateway system", func() (bool, error) {
		return sink.subjectCount(alert.RuleTrafficAnomaly, alert.Firing, subject) == 1, nil
	})
	eventually(t, "every document pulled", func() (bool, error) {
		for _, id := range ids {
			if sim.Transport(id, gwOrgan) != vxp.TransportDone {
				return false, nil
			}
		}
		return true, nil
	})
	eventually(t, "traffic_anomaly resolved for the gateway system", func() (bool, error) {
		return sink.subjectCount(alert.RuleTrafficAnomaly, alert.Resolved, subject) == 1, nil
	})
	if f := sink.count(alert.RuleTrafficAnomaly, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, want 1; %d bad signatures", f, sink.bad)
	}
}

// subjectCount counts the messages of rule and kind about subject.
func (a *alertSink) subjectCount(rule, kind, subject string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, m := range a.msgs {
		if m.Rule == rule && m.Kind == kind && m.Subject == subject {
			n++
		}
	}
	return n
}

// TestAlertBacklogGrowing: a destination that refuses (503, retried) holds
// every delivery while the sender keeps sending: the backlog grows by more
// than backlog_growth_min within backlog_growth_window and
// backlog_growing fires (the threshold rule is off); once the destination
// answers again the backlog drains and the alert resolves.
func TestAlertBacklogGrowing(t *testing.T) {
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusServiceUnavailable)
	n, sink := alertNode(t, recv, alert.Rules{BacklogGrowthWindow: time.Second, BacklogGrowthMin: 3}, fastRetry)
	// One exchange every 100 ms until the alert fires (at most 30 s).
	start, k := time.Now(), 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for sink.count(alert.RuleBacklogGrowing, alert.Firing) == 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("backlog_growing did not fire within 30 s (%d exchanges sent)", k)
		}
		sendSmall(t, n, ruleSender, ruleTarget)
		k++
		<-tick.C
	}
	firedAfter := time.Since(start)
	m := sink.message(alert.RuleBacklogGrowing, alert.Firing)
	if m.Subject != "deliveries" || !strings.Contains(m.MessageVI, "Tồn đọng tăng") || !strings.Contains(m.MessageEN, "The backlog grew from") {
		t.Fatalf("message: %+v", m)
	}
	if sink.count(alert.RuleBacklog, alert.Firing) != 0 {
		t.Fatal("the threshold rule fired although it is off")
	}
	recv.code.Store(http.StatusNoContent)
	eventually(t, "backlog_growing resolved", func() (bool, error) {
		return sink.count(alert.RuleBacklogGrowing, alert.Resolved) == 1, nil
	})
	eventually(t, "every delivery done", func() (bool, error) { return len(recv.counts()) == k, nil })
	if f := sink.count(alert.RuleBacklogGrowing, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
	t.Logf("%d exchanges sent; fired %v after the load began (window 1 s), resolved once the destination answered", k, firedAfter.Round(time.Millisecond))
}

// atWindowStart waits for the clock to reach the start of the next
// traffic window (windows start at multiples of their length), so that a
// test's burst falls in one window even on a loaded machine.
func atWindowStart(window time.Duration) {
	w := int64(window)
	next := time.Unix(0, (time.Now().UnixNano()/w+1)*w)
	<-time.After(time.Until(next) + 10*time.Millisecond)
}

// TestOperationsDocListsEveryAlertRule: docs/operations.md has a row for
// every alert rule in the rules table and in the messages table.
func TestOperationsDocListsEveryAlertRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range alert.AllRules {
		if n := strings.Count(doc, "\n| `"+r+"` |"); n != 2 {
			t.Errorf("docs/operations.md has %d table rows for alert rule %s, want 2 (rules and messages)", n, r)
		}
	}
}
