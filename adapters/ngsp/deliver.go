package ngsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

// KindCall is the delivery kind of documents sent to a service published
// on NGSP.
const KindCall = "ngsp_call"

// Ledger event kinds of NGSP deliveries.
const (
	EventDelivered = "ngsp_delivered" // the NGSP service accepted the document (2xx)
	EventFailed    = "ngsp_failed"    // given up: the outbox item is dead
)

// DefaultMaxBytes bounds the document an NGSP delivery carries when its
// service sets no max_bytes.
const DefaultMaxBytes int64 = 64 << 20

// Delivery is one entry of gateways.ngsp.deliveries: the exchanges
// addressed to an LGSP system (the key) are POSTed to a service of the
// route files that calls through NGSP (gateway: ngsp).
type Delivery struct {
	// Service names the route-file service (services:, gateway: ngsp)
	// whose endpoint receives the documents.
	Service string `yaml:"service"`
	// Path is appended to the service's endpoint (e.g. /receive).
	Path string `yaml:"path"`
}

// Caller is the delivery kind "ngsp_call" (bus/delivery), and the
// diverter that turns the notification of a recipient listed in
// Deliveries into such a delivery. One attempt POSTs the exchange's
// content, as its media type, to the service's endpoint plus Path with
// the province's OAuth2 token (Client: cached, renewed early, one retry
// with a fresh token on 401) and the item's Idempotency-Key; 2xx
// confirms the recipient (received), 408/429/5xx and transport errors
// are retried by the engine, any other answer is a dead letter at once.
type Caller struct {
	Client     *Client
	Exchange   *exchange.Service
	Store      CallerStore
	Routes     func() *route.Set
	Deliveries map[string]Delivery // by recipient system code (gateways.ngsp.deliveries, deprecated)
	// Retry is the policy of deliveries whose route-file entry sets no
	// retry: (the node's delivery.retry; zero: bus.DefaultRetry).
	Retry bus.RetryPolicy
	Log   logrus.FieldLogger
	Node  string
	Now   func() time.Time
}

// CallerStore is what the Caller needs of the store: the outbox it queues
// deliveries in, and the ledger it records their outcomes in.
type CallerStore interface {
	EnqueueOutbox(ctx context.Context, it store.OutboxItem) error
	AddEvents(ctx context.Context, events ...store.Event) error
}

type callPayload struct {
	ExchangeID string `json:"exchange_id"`
	Service    string `json:"service"`
	// Key is the idempotency key (delivery.Key reads it): one per exchange
	// and recipient, the same if a notification is diverted twice.
	Key string `json:"idempotency_key"`
}

func (c *Caller) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// lookup returns the delivery of a recipient system: the ngsp_deliveries:
// entry of the route files, else the (deprecated) configuration's.
func (c *Caller) lookup(system string) (Delivery, *bus.RetryPolicy, bool) {
	if c.Routes != nil {
		if rd, ok := RouteDeliveries(c.Routes())[system]; ok {
			return rd.Delivery, rd.Retry, true
		}
	}
	d, ok := c.Deliveries[system]
	return d, nil, ok
}

// RetryPolicy is the retry: of the recipient's route-file entry, else
// Retry (delivery.Policied).
func (c *Caller) RetryPolicy(it store.OutboxItem) bus.RetryPolicy {
	if _, r, ok := c.lookup(it.Target); ok && r != nil {
		return *r
	}
	if c.Retry == (bus.RetryPolicy{}) {
		return bus.DefaultRetry
	}
	return c.Retry.WithDefaults()
}

// Name is the kind's name (delivery.Kind).
func (c *Caller) Name() string { return KindCall }

// Takes reports whether target is a service on NGSP (notify.Diverter).
func (c *Caller) Takes(target string) bool {
	_, _, ok := c.lookup(target)
	return ok
}

// Divert takes the notification of a recipient that is a service on NGSP
// and queues its delivery (notify.Diverter).
func (c *Caller) Divert(ctx context.Context, it store.OutboxItem) (bool, error) {
	d, _, ok := c.lookup(it.Target)
	if !ok {
		return false, nil
	}
	var n struct {
		ExchangeID string `json:"exchange_id"`
		Event      string `json:"event"`
	}
	if json.Unmarshal(it.Payload, &n) != nil || n.Event != store.RecipientNotified || n.ExchangeID == "" {
		return false, nil
	}
	payload, _ := json.Marshal(callPayload{ExchangeID: n.ExchangeID, Service: d.Service, Key: "lgsp-" + n.ExchangeID + "-" + it.Target})
	now := c.now()
	if err := c.Store.EnqueueOutbox(context.WithoutCancel(ctx), store.OutboxItem{Kind: KindCall, Target: it.Target, ExchangeID: n.ExchangeID, Payload: payload, DueAt: now, FirstAt: now}); err != nil {
		return false, fmt.Errorf("queueing an NGSP delivery: %w", err)
	}
	return true, nil
}

// service returns the route-file service of a recipient's delivery.
func (c *Caller) service(system string) (*route.Service, Delivery, error) {
	d, _, ok := c.lookup(system)
	if !ok {
		return nil, d, bus.ErrServiceUnknown.New("no NGSP delivery is configured for %s any more (ngsp_deliveries: of the route files, or gateways.ngsp.deliveries)", system)
	}
	svc, ok := c.Routes().Service(d.Service)
	if !ok || svc.Gateway != GatewayName {
		return nil, d, bus.ErrServiceUnknown.New("service %q of the NGSP delivery to %s is not declared in the route files with gateway: ngsp", d.Service, system)
	}
	return svc, d, nil
}

// Deliver makes one attempt (delivery.Kind).
func (c *Caller) Deliver(ctx context.Context, it store.OutboxItem) (err error) {
	defer func() { metrics.GatewayCall(GatewayName, "deliver", err) }()
	svc, d, err := c.service(it.Target)
	if err != nil {
		return delivery.Permanent(err)
	}
	st, err := c.Exchange.Status(ctx, "", it.ExchangeID)
	if err != nil {
		if errors.Is(err, bus.ErrExchangeNotFound) {
			return delivery.Permanent(err)
		}
		return err
	}
	for _, rc := range st.Exchange.Recipients {
		if rc.Code == it.Target && store.FinalRecipient(rc.Status) {
			return delivery.ErrNothing // confirmed before: nothing left to send
		}
	}
	body, err := c.fetch(ctx, it.Target, it.ExchangeID, svc.MaxBytes)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, svc.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, svc.Endpoint+d.Path, bytes.NewReader(body))
	if err != nil {
		return delivery.Permanent(err)
	}
	mt := st.Exchange.MediaType
	if mt == "" {
		mt = "application/octet-stream"
	}
	req.Header.Set("Content-Type", mt)
	req.Header.Set(delivery.HeaderKey, delivery.Key(it))
	req.Header.Set("X-LGSP-Exchange", it.ExchangeID)
	req.Header.Set("X-LGSP-Source", st.Exchange.Source)
	resp, err := c.Client.Do(req)
	if err != nil {
		return err // gateway.unreachable, or gateway.auth after the retry with a fresh token
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return bus.ErrGatewayUnreachable.New("ngsp service %s: HTTP %d", svc.Name, resp.StatusCode)
	default:
		return delivery.Permanent(bus.ErrGatewayRefused.New("ngsp service %s: HTTP %d: %s", svc.Name, resp.StatusCode, clip(strings.TrimSpace(string(text)), 300)))
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fetch reads the content on the recipient's behalf (F6–F7).
func (c *Caller) fetch(ctx context.Context, system, id string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if _, err := c.Exchange.Ready(ctx, system, id); err != nil {
		if errors.Is(err, bus.ErrExchangePurged) {
			return nil, delivery.Permanent(err)
		}
		return nil, err
	}
	f, err := c.Exchange.Fetch(ctx, system, id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Size > max {
		return nil, delivery.Permanent(bus.ErrBodyTooLarge.New("%s has %d bytes; its NGSP service accepts at most %d", id, f.Size, max))
	}
	return io.ReadAll(f.Body)
}

// Record writes ngsp_delivered and confirms the recipient, or ngsp_failed
// once the item is dead (delivery.Recorder).
func (c *Caller) Record(ctx context.Context, it store.OutboxItem, status string, err error) {
	if errors.Is(err, delivery.ErrNothing) || it.ExchangeID == "" {
		return
	}
	var pl callPayload
	_ = json.Unmarshal(it.Payload, &pl)
	detail := map[string]any{"service": pl.Service, "attempts": it.Attempts, "idempotency_key": delivery.Key(it)}
	switch {
	case err == nil:
		c.ledger(ctx, it, EventDelivered, detail)
		if _, err := c.Exchange.Confirm(ctx, it.Target, it.ExchangeID, exchange.OutcomeReceived, "delivered to NGSP service "+pl.Service); err != nil && !errors.Is(err, bus.ErrExchangeState) {
			c.Log.WithError(err).WithField("exchange", it.ExchangeID).Error("confirming an NGSP delivery")
		}
	case status == store.OutboxDead:
		detail["code"] = string(bus.CodeOf(err))
		c.ledger(ctx, it, EventFailed, detail)
	}
}

func (c *Caller) ledger(ctx context.Context, it store.OutboxItem, kind string, detail map[string]any) {
	b, _ := json.Marshal(detail)
	ev := store.Event{ExchangeID: it.ExchangeID, At: c.now(), Kind: kind, Actor: "lgsp", Recipient: it.Target, Detail: string(b), Node: c.Node}
	if err := c.Store.AddEvents(context.WithoutCancel(ctx), ev); err != nil {
		c.Log.WithError(err).WithField("exchange", it.ExchangeID).Error("recording an NGSP delivery")
	}
}
