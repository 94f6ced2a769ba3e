package alert

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Message kinds.
const (
	Firing   = "firing"
	Repeat   = "repeat"
	Resolved = "resolved"
)

// Message is one alert message as every channel gets it.
type Message struct {
	Kind      string    `json:"kind"` // firing, repeat, resolved
	Rule      string    `json:"rule"`
	Subject   string    `json:"subject"`
	Since     time.Time `json:"since"`
	At        time.Time `json:"at"`
	Node      string    `json:"node"`
	MessageVI string    `json:"message_vi"`
	MessageEN string    `json:"message_en"`
}

// Channel delivers messages (webhook, SMTP, log).
type Channel interface {
	Name() string
	Send(ctx context.Context, m Message) error
}

// Engine checks the rules every Cfg.Interval and sends what changed.
type Engine struct {
	Cfg      Config
	Store    Store
	Node     string
	Log      logrus.FieldLogger
	Channels []Channel
	// Gateways returns the gateway health seen by this node (default
	// metrics.Gateways).
	Gateways func() []metrics.GatewayHealth
	Now      func() time.Time
	// KeyBursts returns the access keys in a burst of bad signatures on
	// this node, with their count (auth.Limits.Bursts); nil: none.
	KeyBursts func() map[string]int
	// Certs returns the certificates this node uses from its files (TLS,
	// outbound_tls); nil: none.
	Certs func() []Cert

	auth    failures
	traffic traffic
	growth  backlogSamples
}

// leaseJob is the job lease that makes one node check the shared rules.
const leaseJob = "alerts"

// AuthFailure records a failed authentication by subject ("key:<ak>" or
// "addr:<ip>"): the auth_failures rule counts them.
func (e *Engine) AuthFailure(subject string) {
	if e == nil || e.Cfg.Rules.AuthFailures <= 0 {
		return
	}
	e.auth.add(subject, e.now(), e.Cfg.Rules.AuthFailures)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Run checks the rules until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.Cfg.Interval)
	defer t.Stop()
	for {
		if err := e.Check(ctx); err != nil && ctx.Err() == nil {
			e.Log.WithError(err).Error("checking alert rules")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check runs one round: the local rules always, the shared ones if this
// node gets the lease.
func (e *Engine) Check(ctx context.Context) error {
	now := e.now()
	active, err := e.Store.ListAlerts(ctx)
	if err != nil {
		return err
	}
	e.reconcile(ctx, now, e.local(now), active, func(a store.AlertState) bool {
		return isLocal(a.Rule) && strings.HasPrefix(a.Subject, e.Node+"/")
	})
	if w := e.Cfg.Rules.BacklogGrowthWindow; w > 0 {
		// Every node samples, so that whichever gets the lease has the
		// whole window.
		b, err := e.Store.Backlog(ctx, now)
		if err != nil {
			return err
		}
		e.growth.add(now, b.OutboxPending+b.Due, w+2*e.Cfg.Interval)
	}
	got, err := e.Store.TryLease(ctx, leaseJob, e.Node, now.Add(2*e.Cfg.Interval+30*time.Second))
	if err != nil || !got {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = e.Store.ReleaseLease(rctx, leaseJob, e.Node)
	}()
	// Read again under the lease: another node may have just sent.
	if active, err = e.Store.ListAlerts(ctx); err != nil {
		return err
	}
	conds, err := e.shared(ctx, now)
	if err != nil {
		return err
	}
	e.reconcile(ctx, now, conds, active, func(a store.AlertState) bool { return !isLocal(a.Rule) })
	return nil
}

func isLocal(rule string) bool {
	return rule == RuleAuthFailures || rule == RuleAuthKeyFailures || rule == RuleGatewayFailing || rule == RuleCertExpiring || rule == RuleTrafficAnomaly
}

// reconcile sends firing, repeat and resolved messages so that the store's
// alerts (those mine selects) match conds.
func (e *Engine) reconcile(ctx context.Context, now time.Time, conds []cond, active []store.AlertState, mine func(store.AlertState) bool) {
	var out []Message
	defer func() { e.sendAll(ctx, out) }()
	byKey := map[string]store.AlertState{}
	for _, a := range active {
		if mine(a) {
			byKey[a.Key] = a
		}
	}
	for _, c := range conds {
		a, ok := byKey[c.key()]
		delete(byKey, c.key())
		kind := Firing
		switch {
		case !ok:
			a = store.AlertState{Key: c.key(), Rule: c.Rule, Subject: c.Subject, Since: now}
		case now.Sub(a.LastSent) >= e.Cfg.Repeat:
			kind = Repeat
		default:
			continue
		}
		a.LastSent, a.Detail = now, truncate(c.EN, 500)
		// Stored before sending: a crash after it loses one message
		// rather than sending it again and again.
		if err := e.Store.PutAlert(ctx, a); err != nil {
			e.Log.WithError(err).WithField("rule", c.Rule).Error("storing alert")
			continue
		}
		out = append(out, Message{Kind: kind, Rule: c.Rule, Subject: c.Subject, Since: a.Since, At: now, Node: e.Node, MessageVI: c.VI, MessageEN: c.EN})
	}
	for _, a := range byKey {
		if err := e.Store.DeleteAlert(ctx, a.Key); err != nil {
			e.Log.WithError(err).WithField("rule", a.Rule).Error("clearing alert")
			continue
		}
		out = append(out, Message{Kind: Resolved, Rule: a.Rule, Subject: a.Subject, Since: a.Since, At: now, Node: e.Node,
			MessageVI: "Đã hết: " + a.Rule + " (" + a.Subject + ")", MessageEN: "Resolved: " + a.Rule + " (" + a.Subject + ")"})
	}
}

// sendAll sends the round's messages, every channel at once, each channel
// its messages in order: a slow or unreachable channel (SMTP waits up to
// alerts.smtp.timeout) never delays another, so each channel is reached
// within alerts.interval plus its own send time (docs/operations.md,
// "Within 60 s").
func (e *Engine) sendAll(ctx context.Context, msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, ch := range e.Channels {
		wg.Go(func() {
			for _, m := range msgs {
				err := ch.Send(ctx, m)
				metrics.AlertSent(m.Rule, ch.Name(), m.Kind, err)
				if err != nil {
					e.Log.WithError(err).WithFields(logrus.Fields{"channel": ch.Name(), "rule": m.Rule, "kind": m.Kind}).Error("sending alert")
				}
			}
		})
	}
	wg.Wait()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
