package test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

const (
	ruleSender = "000.00.01.H60"
	ruleTarget = "000.00.07.H60"
)

// alertNode starts a node whose alerts go to a signed webhook sink and
// whose webhook deliveries go to recv; rules sets the rule parameters
// (every other rule off), retry the webhook retry policy.
func alertNode(t *testing.T, recv http.Handler, rules alert.Rules, retry bus.RetryPolicy) (*node, *alertSink) {
	t.Helper()
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)
	t.Setenv("LGSP_ALERTS_WEBHOOK_SECRET", alertSecret)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.Rules = rules
		c.Alerts.Webhook.URL = srv.URL
		if retry != (bus.RetryPolicy{}) {
			c.Delivery.Retry = retry
		}
	})
	n.system(t, ruleSender, "Sở A")
	ctx := context.Background()
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: ruleTarget, Name: "Sở Y tế", WebhookURL: hook.URL}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.svc.Registry().IssueKey(ctx, ruleTarget, time.Time{}); err != nil {
		t.Fatal(err)
	}
	return n, sink
}

// message returns the last message of rule and kind the sink received.
func (a *alertSink) message(rule, kind string) alert.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.msgs) - 1; i >= 0; i-- {
		if a.msgs[i].Rule == rule && a.msgs[i].Kind == kind {
			return a.msgs[i]
		}
	}
	return alert.Message{}
}

// fastRetry retries a failed webhook every 100 ms.
var fastRetry = bus.RetryPolicy{Initial: 100 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsed: time.Hour, MaxAttempts: 100000, Jitter: -1}

// TestAlertDeliveryDead: a webhook destination that answers 400 makes the
// delivery dead at its first attempt; delivery_dead fires for that
// destination, and discarding the dead letter (admin API) resolves it.
func TestAlertDeliveryDead(t *testing.T) {
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusBadRequest)
	n, sink := alertNode(t, recv, alert.Rules{DeadWindow: time.Hour}, bus.RetryPolicy{})
	sendSmall(t, n, ruleSender, ruleTarget)
	eventually(t, "delivery_dead fired", func() (bool, error) { return sink.count(alert.RuleDeliveryDead, alert.Firing) == 1, nil })
	m := sink.message(alert.RuleDeliveryDead, alert.Firing)
	if m.Subject != ruleTarget || !strings.Contains(m.MessageVI, "thất bại hẳn") || !strings.Contains(m.MessageEN, "went dead") {
		t.Fatalf("message: %+v", m)
	}
	dead := outboxItems(t, n.svc.Store(), store.OutboxDead)
	if len(dead) != 1 || dead[0].Attempts != 1 {
		t.Fatalf("dead letters: %+v", dead)
	}
	if code := adminPost(t, n, "/admin/v1/deliveries/discard", `{"target":"`+ruleTarget+`","all":true}`); code != http.StatusOK {
		t.Fatalf("discard: %d", code)
	}
	eventually(t, "delivery_dead resolved", func() (bool, error) { return sink.count(alert.RuleDeliveryDead, alert.Resolved) == 1, nil })
	if f := sink.count(alert.RuleDeliveryDead, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
}

// TestAlertDestinationFailing: a destination answering 503 keeps its
// delivery pending and retried; after failing_for destination_failing
// fires; once the destination answers again the delivery is done and the
// alert resolves.
func TestAlertDestinationFailing(t *testing.T) {
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusServiceUnavailable)
	n, sink := alertNode(t, recv, alert.Rules{FailingFor: 500 * time.Millisecond}, fastRetry)
	sendSmall(t, n, ruleSender, ruleTarget)
	eventually(t, "destination_failing fired", func() (bool, error) {
		return sink.count(alert.RuleDestinationFailing, alert.Firing) == 1, nil
	})
	m := sink.message(alert.RuleDestinationFailing, alert.Firing)
	if m.Subject != ruleTarget || !strings.Contains(m.MessageVI, "Không chuyển được") || !strings.Contains(m.MessageEN, "failing for") {
		t.Fatalf("message: %+v", m)
	}
	if p := outboxItems(t, n.svc.Store(), store.OutboxPending); len(p) != 1 || p[0].Attempts < 1 {
		t.Fatalf("pending: %d items", len(p))
	}
	recv.code.Store(http.StatusNoContent)
	eventually(t, "destination_failing resolved", func() (bool, error) {
		return sink.count(alert.RuleDestinationFailing, alert.Resolved) == 1, nil
	})
	if len(recv.counts()) != 1 || len(outboxItems(t, n.svc.Store(), store.OutboxDone)) != 1 {
		t.Fatalf("delivered %v", recv.counts())
	}
}

// TestAlertBacklog: three deliveries held by a failing destination exceed
// max_backlog 2 and fire backlog; when the destination recovers the
// backlog drains and the alert resolves.
func TestAlertBacklog(t *testing.T) {
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusServiceUnavailable)
	n, sink := alertNode(t, recv, alert.Rules{MaxBacklog: 2}, fastRetry)
	for range 3 {
		sendSmall(t, n, ruleSender, ruleTarget)
	}
	eventually(t, "backlog fired", func() (bool, error) { return sink.count(alert.RuleBacklog, alert.Firing) == 1, nil })
	m := sink.message(alert.RuleBacklog, alert.Firing)
	if !strings.Contains(m.MessageVI, "Tồn đọng") || !strings.Contains(m.MessageEN, "threshold 2") {
		t.Fatalf("message: %+v", m)
	}
	recv.code.Store(http.StatusNoContent)
	eventually(t, "backlog resolved", func() (bool, error) { return sink.count(alert.RuleBacklog, alert.Resolved) == 1, nil })
	if len(recv.counts()) != 3 {
		t.Fatalf("delivered %v", recv.counts())
	}
}

// adminPost posts a JSON body to the admin API and returns the status.
func adminPost(t *testing.T, n *node, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", n.url+path, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAlertGatewayFailing: the VXP axis answers 503, so the node's poller
// cannot list its documents; after gateway_failing_for gateway_failing
// fires for vxp/poll, and it resolves once the axis answers again.
func TestAlertGatewayFailing(t *testing.T) {
	sim := vxpsim.New(map[string]string{gwOrgan: vxpSecret, vpcpOrgan: "vpcp-secret"})
	var down atomic.Bool
	down.Store(true)
	axis := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer axis.Close()
	t.Setenv("LGSP_VXP_SECRET", vxpSecret)
	var section yaml.Node
	if err := section.Encode(map[string]any{
		"url": axis.URL, "system_id": gwOrgan, "gateway_system": gwSystem, "organ_name": "UBND tỉnh Tuyên Quang",
		"schedule": "@every 1s", "organs": map[string][]string{rcptSys: {rcptSys}},
		"retry": map[string]any{"initial": "10ms", "max_interval": "50ms", "max_attempts": 2},
	}); err != nil {
		t.Fatal(err)
	}
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("LGSP_ALERTS_WEBHOOK_SECRET", alertSecret)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.Rules = alert.Rules{GatewayFailingFor: 2 * time.Second}
		c.Alerts.Webhook.URL = srv.URL
		c.Gateways = map[string]yaml.Node{"vxp": section}
	})
	n.system(t, gwSystem, "Trục liên thông văn bản quốc gia (VXP)")
	n.system(t, rcptSys, "QLVB Văn phòng UBND tỉnh")
	subject := "test-node/vxp/poll"
	fired := func() (bool, error) {
		m := sink.message(alert.RuleGatewayFailing, alert.Firing)
		return m.Subject == subject, nil
	}
	eventually(t, "gateway_failing fired", fired)
	m := sink.message(alert.RuleGatewayFailing, alert.Firing)
	if !strings.Contains(m.MessageVI, "không thành công") || !strings.Contains(m.MessageEN, "has not succeeded") {
		t.Fatalf("message: %+v", m)
	}
	down.Store(false)
	eventually(t, "gateway_failing resolved", func() (bool, error) {
		return sink.message(alert.RuleGatewayFailing, alert.Resolved).Subject == subject, nil
	})
}
