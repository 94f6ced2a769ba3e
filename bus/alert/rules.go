package alert

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Rule names.
const (
	RuleDeliveryDead       = "delivery_dead"
	RuleDestinationFailing = "destination_failing"
	RuleBacklog            = "backlog"
	RuleBacklogGrowing     = "backlog_growing"
	RuleKeyExpiring        = "key_expiring"
	RuleCertExpiring       = "cert_expiring"
	RuleTrafficAnomaly     = "traffic_anomaly"
	RuleKeyCertExpiring    = "key_cert_expiring"
	RuleAuthFailures       = "auth_failures"
	RuleAuthKeyFailures    = "auth_key_failures"
	RuleGatewayFailing     = "gateway_failing"
)

// AllRules lists every rule (docs/operations.md has a row for each).
var AllRules = []string{RuleDeliveryDead, RuleDestinationFailing, RuleGatewayFailing, RuleAuthFailures, RuleAuthKeyFailures,
	RuleTrafficAnomaly, RuleBacklog, RuleBacklogGrowing, RuleKeyExpiring, RuleCertExpiring, RuleKeyCertExpiring}

// cond is one condition that holds now.
type cond struct {
	Rule, Subject string
	VI, EN        string // the message, both languages; codes and numbers only
}

func (c cond) key() string { return c.Rule + "/" + c.Subject }

// shared checks the rules about the shared database.
func (e *Engine) shared(ctx context.Context, now time.Time) ([]cond, error) {
	var out []cond
	r := e.Cfg.Rules
	if r.DeadWindow > 0 {
		dead, err := e.Store.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxDead, Limit: 1000})
		if err != nil {
			return nil, err
		}
		n := map[string]int{}
		for _, it := range dead {
			if !it.DueAt.Before(now.Add(-r.DeadWindow)) {
				n[it.Target]++
			}
		}
		for t, k := range n {
			out = append(out, cond{Rule: RuleDeliveryDead, Subject: t,
				VI: fmt.Sprintf("%d lần chuyển tới hệ thống %s đã thất bại hẳn (hết lượt thử lại) trong %s qua", k, t, r.DeadWindow),
				EN: fmt.Sprintf("%d deliveries to system %s went dead (retries exhausted) within the last %s", k, t, r.DeadWindow)})
		}
	}
	if r.FailingFor > 0 {
		pend, err := e.Store.ListDeliveries(ctx, store.OutboxFilter{Status: store.OutboxPending, Limit: 5000})
		if err != nil {
			return nil, err
		}
		since := map[string]time.Time{}
		for _, it := range pend {
			if it.Attempts > 0 && !it.FirstAt.IsZero() && !it.FirstAt.After(now.Add(-r.FailingFor)) {
				if s, ok := since[it.Target]; !ok || it.FirstAt.Before(s) {
					since[it.Target] = it.FirstAt
				}
			}
		}
		for t, s := range since {
			d := now.Sub(s).Round(time.Second)
			out = append(out, cond{Rule: RuleDestinationFailing, Subject: t,
				VI: fmt.Sprintf("Không chuyển được dữ liệu tới hệ thống %s đã %s", t, d),
				EN: fmt.Sprintf("Deliveries to system %s have been failing for %s", t, d)})
		}
	}
	if r.MaxBacklog > 0 {
		b, err := e.Store.Backlog(ctx, now)
		if err != nil {
			return nil, err
		}
		if total := b.OutboxPending + b.Due; total > r.MaxBacklog {
			out = append(out, cond{Rule: RuleBacklog, Subject: "deliveries",
				VI: fmt.Sprintf("Tồn đọng %d lượt chuyển chờ xử lý (ngưỡng %d)", total, r.MaxBacklog),
				EN: fmt.Sprintf("%d deliveries are waiting (threshold %d)", total, r.MaxBacklog)})
		}
	}
	if r.BacklogGrowthWindow > 0 {
		if g, ok := e.growth.growing(now, r.BacklogGrowthWindow, e.Cfg.Interval, r.BacklogGrowthMin); ok {
			out = append(out, cond{Rule: RuleBacklogGrowing, Subject: "deliveries",
				VI: fmt.Sprintf("Tồn đọng tăng từ %d lên %d lượt chuyển chờ xử lý trong %s qua (ngưỡng tăng %d)", g[0], g[1], r.BacklogGrowthWindow, r.BacklogGrowthMin),
				EN: fmt.Sprintf("The backlog grew from %d to %d waiting deliveries within the last %s (growth threshold %d)", g[0], g[1], r.BacklogGrowthWindow, r.BacklogGrowthMin)})
		}
	}
	if r.KeyExpiryDays > 0 {
		c, err := e.expiringKeys(ctx, now)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	if r.CertExpiryDays > 0 {
		c, err := e.expiringKeyCerts(ctx, now)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	return out, nil
}

func (e *Engine) expiringKeys(ctx context.Context, now time.Time) ([]cond, error) {
	systems, err := e.Store.ListSystems(ctx)
	if err != nil {
		return nil, err
	}
	limit := now.Add(time.Duration(e.Cfg.Rules.KeyExpiryDays) * 24 * time.Hour)
	var out []cond
	for _, s := range systems {
		keys, err := e.Store.ListKeys(ctx, s.Code)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Status != store.KeyActive || k.ExpiresAt.IsZero() || k.ExpiresAt.After(limit) {
				continue
			}
			at := k.ExpiresAt.UTC().Format(time.RFC3339)
			out = append(out, cond{Rule: RuleKeyExpiring, Subject: k.AccessKey,
				VI: fmt.Sprintf("Khóa truy cập %s của hệ thống %s hết hạn lúc %s", k.AccessKey, s.Code, at),
				EN: fmt.Sprintf("Access key %s of system %s expires at %s", k.AccessKey, s.Code, at)})
		}
	}
	return out, nil
}

// local checks the rules about what this node sees; subjects carry the
// node's name so that two nodes never share a key.
func (e *Engine) local(now time.Time) []cond {
	var out []cond
	r := e.Cfg.Rules
	if r.AuthFailures > 0 {
		for subj, n := range e.auth.over(now, r.AuthWindow, r.AuthFailures) {
			out = append(out, cond{Rule: RuleAuthFailures, Subject: e.Node + "/" + subj,
				VI: fmt.Sprintf("%d lần xác thực sai của %s trong %s tại nút %s", n, subj, r.AuthWindow, e.Node),
				EN: fmt.Sprintf("%d failed authentications by %s within %s on node %s", n, subj, r.AuthWindow, e.Node)})
		}
	}
	if r.AuthKeyFailures && e.KeyBursts != nil {
		for ak, n := range e.KeyBursts() {
			out = append(out, cond{Rule: RuleAuthKeyFailures, Subject: e.Node + "/key:" + ak,
				VI: fmt.Sprintf("%d chữ ký sai với khóa truy cập %s (từ mọi địa chỉ) tại nút %s", n, ak, e.Node),
				EN: fmt.Sprintf("%d bad signatures with access key %s (from all addresses) on node %s", n, ak, e.Node)})
		}
	}
	if r.CertExpiryDays > 0 {
		out = append(out, e.expiringCerts(now)...)
	}
	if r.TrafficWindow > 0 {
		out = append(out, e.trafficAnomalies(now)...)
	}
	if r.GatewayFailingFor > 0 {
		for _, g := range e.gateways() {
			// Still trying (this node runs the job) and failing long enough.
			if g.FailingSince.IsZero() || now.Sub(g.FailingSince) < r.GatewayFailingFor || now.Sub(g.LastTry) > r.GatewayFailingFor {
				continue
			}
			d := now.Sub(g.FailingSince).Round(time.Second)
			out = append(out, cond{Rule: RuleGatewayFailing, Subject: e.Node + "/" + g.Gateway + "/" + g.Op,
				VI: fmt.Sprintf("Lệnh %s với cổng %s không thành công đã %s (nút %s)", g.Op, g.Gateway, d, e.Node),
				EN: fmt.Sprintf("Gateway %s %s has not succeeded for %s (node %s)", g.Gateway, g.Op, d, e.Node)})
		}
	}
	return out
}

func (e *Engine) gateways() []metrics.GatewayHealth {
	if e.Gateways != nil {
		return e.Gateways()
	}
	return metrics.Gateways()
}

// maxSubjects bounds the failure windows kept in memory: past it new
// subjects are not tracked until old ones age out (a flood of addresses
// cannot grow memory without bound).
const maxSubjects = 10000

// failures keeps recent failure times per subject ("key:<ak>", "addr:<ip>").
type failures struct {
	mu sync.Mutex
	m  map[string][]time.Time
}

func (f *failures) add(subject string, at time.Time, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][]time.Time{}
	}
	ts, ok := f.m[subject]
	if !ok && len(f.m) >= maxSubjects {
		return
	}
	ts = append(ts, at)
	if len(ts) > keep {
		ts = ts[len(ts)-keep:]
	}
	f.m[subject] = ts
}

// over returns subjects with at least n failures within window, and drops
// subjects with none left in the window.
func (f *failures) over(now time.Time, window time.Duration, n int) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for s, ts := range f.m {
		i := 0
		for i < len(ts) && ts[i].Before(now.Add(-window)) {
			i++
		}
		ts = ts[i:]
		if len(ts) == 0 {
			delete(f.m, s)
			continue
		}
		f.m[s] = ts
		if len(ts) >= n {
			out[s] = len(ts)
		}
	}
	return out
}
