package soapout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
)

// KindSOAPPush is the outbox kind of a push.
const KindSOAPPush = "soap_push"

// Ledger event kinds of pushes.
const (
	EventPlanned = "soap_push_planned" // the push is due at (detail) due
	EventPushed  = "soap_pushed"       // the legacy endpoint accepted the packet
	EventRetry   = "soap_push_retry"   // an attempt failed; another follows
	EventFailed  = "soap_push_failed"  // given up: the outbox item is dead
)

// DefaultMaxBytes bounds the content a push carries (it is sent inline,
// base64 in the SOAP body).
const DefaultMaxBytes int64 = 64 << 20

// PusherStore is what the Pusher needs of the store: the outbox it plans
// pushes in, and the ledger it records their outcomes in.
type PusherStore interface {
	EnqueueOutbox(ctx context.Context, it store.OutboxItem) error
	AddEvents(ctx context.Context, events ...store.Event) error
}

// Pusher delivers pushes (see the package comment): it is the delivery
// kind "soap_push" of the engine (bus/delivery), and the diverter that
// turns the webhook of a pushed recipient into a planned push.
type Pusher struct {
	Exchange *exchange.Service
	Store    PusherStore
	Routes   func() *route.Set
	Log      logrus.FieldLogger
	Node     string
	Now      func() time.Time // default time.Now
	Wake     func()           // optional
	MaxBytes int64            // default DefaultMaxBytes
	// Getenv reads the passwords of WS-Security (default os.Getenv).
	Getenv func(string) string
	// Bindings are the consumed operations (default soap.DefaultBindings).
	Bindings *soap.Bindings

	mu      sync.Mutex
	clients map[string]*soap.Client
	answers map[int64]any // of attempts whose outcome is being recorded
}

type pushPayload struct {
	ExchangeID string `json:"exchange_id"`
	System     string `json:"system"`
	Operation  string `json:"operation"`
	// Key is the push's idempotency key (delivery.Key reads it): one per
	// exchange and recipient, so that a notification diverted twice (a
	// node killed between the divert and the end of its webhook item)
	// reaches the legacy system again with the same key, not a new one.
	Key string `json:"idempotency_key"`
}

// PushKey is the idempotency key of the push of exchange id to system.
func PushKey(id, system string) string { return "lgsp-" + id + "-" + system }

// Close closes the idle connections of the Pusher's SOAP clients; a
// later push opens new ones.
func (p *Pusher) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.CloseIdleConnections()
	}
}

func (p *Pusher) bindings() *soap.Bindings {
	if p.Bindings != nil {
		return p.Bindings
	}
	return soap.DefaultBindings
}

func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// Name is the delivery kind of pushes (delivery.Kind).
func (p *Pusher) Name() string { return KindSOAPPush }

// Takes reports whether target is pushed to (notify.Diverter).
func (p *Pusher) Takes(target string) bool {
	_, ok := PushTo(p.Routes(), target)
	return ok
}

// Divert takes the webhook item of a recipient that is pushed to and
// turns it into a push due at once or at the next time of the push's
// schedule (notify.Diverter).
func (p *Pusher) Divert(ctx context.Context, it store.OutboxItem) (bool, error) {
	var n struct {
		ExchangeID string `json:"exchange_id"`
		Recipient  string `json:"recipient"`
		Event      string `json:"event"`
	}
	if json.Unmarshal(it.Payload, &n) != nil || n.Event != store.RecipientNotified || n.ExchangeID == "" {
		return false, nil
	}
	ps, ok := PushTo(p.Routes(), it.Target)
	if !ok {
		return false, nil
	}
	due := ps.Plan(p.now())
	payload, _ := json.Marshal(pushPayload{ExchangeID: n.ExchangeID, System: it.Target, Operation: ps.Key(), Key: PushKey(n.ExchangeID, it.Target)})
	ctx = context.WithoutCancel(ctx)
	if err := p.Store.EnqueueOutbox(ctx, store.OutboxItem{Kind: KindSOAPPush, Target: it.Target, ExchangeID: n.ExchangeID, Payload: payload, DueAt: due, FirstAt: due}); err != nil {
		return false, fmt.Errorf("planning a SOAP push: %w", err)
	}
	p.ledger(ctx, n.ExchangeID, it.Target, EventPlanned, map[string]any{"operation": ps.Key(), "endpoint": ps.Endpoint, "due": due, "schedule": ps.Schedule})
	return true, nil
}

// RetryPolicy is the retry: of the push in the route files.
func (p *Pusher) RetryPolicy(it store.OutboxItem) bus.RetryPolicy {
	if ps, ok := PushTo(p.Routes(), it.Target); ok {
		return ps.Retry
	}
	return bus.DefaultRetry
}

// Deliver makes one attempt of a push (delivery.Kind); the legacy system
// gets the item's Idempotency-Key as an HTTP header on every attempt.
func (p *Pusher) Deliver(ctx context.Context, it store.OutboxItem) error {
	ps, ok := PushTo(p.Routes(), it.Target)
	if !ok {
		return delivery.Permanent(bus.ErrServiceUnknown.New("no push to %s is declared in the route files any more", it.Target))
	}
	ctx = soap.WithCallHeader(ctx, delivery.HeaderKey, delivery.Key(it))
	answer, done, err := p.safeAttempt(ctx, ps, it)
	if done { // nothing left to push: the recipient is final
		return delivery.ErrNothing
	}
	if err == nil {
		// The route's answer rule: an answer that fails it (e.g. an ASMX
		// "ERR:20" result) is a refusal no retry can cure.
		if e := CheckAnswer(ps.Answer, answer); e != nil {
			err = permanent{e}
		}
	}
	if err != nil && Permanent(err) {
		return delivery.Permanent(err)
	}
	if err == nil {
		p.mu.Lock()
		if p.answers == nil {
			p.answers = map[int64]any{}
		}
		p.answers[it.ID] = answer
		p.mu.Unlock()
	}
	return err
}

// Record writes the ledger of an attempt once the engine has recorded its
// outcome, and confirms a pushed delivery (delivery.Recorder).
func (p *Pusher) Record(ctx context.Context, it store.OutboxItem, status string, err error) {
	p.mu.Lock()
	answer := p.answers[it.ID]
	delete(p.answers, it.ID)
	p.mu.Unlock()
	if errors.Is(err, delivery.ErrNothing) {
		return
	}
	ps, _ := PushTo(p.Routes(), it.Target)
	key := ""
	endpoint := ""
	if ps != nil {
		key, endpoint = ps.Key(), ps.Endpoint
	}
	if err == nil {
		detail := map[string]any{"operation": key, "endpoint": endpoint, "attempts": it.Attempts}
		if b, e := json.Marshal(answer); e == nil && len(b) <= 2000 {
			detail["answer"] = json.RawMessage(b)
		}
		p.ledger(ctx, it.ExchangeID, it.Target, EventPushed, detail)
		if _, err := p.Exchange.Confirm(ctx, it.Target, it.ExchangeID, exchange.OutcomeReceived, "pushed by SOAP to "+key); err != nil && !errors.Is(err, bus.ErrExchangeState) {
			p.Log.WithError(err).WithField("exchange", it.ExchangeID).Error("confirming a pushed delivery")
		}
		return
	}
	detail := errDetail(err)
	detail["attempt"] = it.Attempts
	if status == store.OutboxDead {
		p.ledger(ctx, it.ExchangeID, it.Target, EventFailed, detail)
		return
	}
	detail["next"] = it.DueAt
	p.ledger(ctx, it.ExchangeID, it.Target, EventRetry, detail)
}

// permanent marks errors that no retry can cure.
type permanent struct{ error }

func (e permanent) Unwrap() error { return e.error }

// safeAttempt is attempt with a panic recovered as a permanent failure of
// this item: a bad generated type or mapping must never take the node
// down (the outbox would hand the item out again after each restart).
func (p *Pusher) safeAttempt(ctx context.Context, ps *Push, it store.OutboxItem) (answer any, done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.Log.WithFields(logrus.Fields{"exchange": it.ExchangeID, "system": it.Target, "stack": string(debug.Stack())}).Error("SOAP push panicked")
			answer, done, err = nil, false, permanent{bus.ErrInternal.New("the push to %s panicked: %v", ps.Key(), r)}
		}
	}()
	return p.attempt(ctx, ps, it)
}

// attempt fetches the content, maps it and calls the operation. done
// reports that the recipient is already final (nothing to push).
func (p *Pusher) attempt(ctx context.Context, ps *Push, it store.OutboxItem) (answer any, done bool, err error) {
	b, ok := p.bindings().Lookup(ps.Key())
	if !ok {
		return nil, false, permanent{bus.ErrInternal.New("operation %s is not registered (a register.go next to its generated package, imported by the binary)", ps.Key())}
	}
	st, err := p.Exchange.Status(ctx, "", it.ExchangeID)
	if err != nil {
		if errors.Is(err, bus.ErrExchangeNotFound) {
			return nil, false, permanent{err}
		}
		return nil, false, err
	}
	var rc *store.Recipient
	for i := range st.Exchange.Recipients {
		if st.Exchange.Recipients[i].Code == it.Target {
			rc = &st.Exchange.Recipients[i]
		}
	}
	if rc == nil {
		return nil, false, permanent{bus.ErrNotRecipient.New("%s is not a recipient of %s", it.Target, it.ExchangeID)}
	}
	if store.FinalRecipient(rc.Status) {
		return nil, true, nil
	}
	content, err := p.fetch(ctx, it.Target, it.ExchangeID)
	if err != nil {
		return nil, false, err
	}
	req, err := Map(b, ps.Mapping, &Doc{Exchange: st.Exchange, Recipient: it.Target, Content: content})
	if err != nil {
		return nil, false, permanent{bus.ErrBadRequest.Wrap(err, "mapping exchange %s into %s", it.ExchangeID, ps.Key())}
	}
	c, err := p.client(ps, b.VersionFor(ps.Version))
	if err != nil {
		return nil, false, permanent{err}
	}
	if b.NewResponse != nil {
		answer = b.NewResponse()
	}
	if err := c.Call(ctx, b.Action, req, answer); err != nil {
		var f *soap.Fault
		if errors.As(err, &f) && (f.Code == "Client" || f.Code == "Sender") {
			return nil, false, permanent{err}
		}
		return nil, false, err
	}
	return answer, false, nil
}

// fetch downloads the whole content on the recipient's behalf (F6–F7).
func (p *Pusher) fetch(ctx context.Context, system, id string) ([]byte, error) {
	if _, err := p.Exchange.Ready(ctx, system, id); err != nil {
		if errors.Is(err, bus.ErrExchangePurged) {
			return nil, permanent{err}
		}
		return nil, err
	}
	f, err := p.Exchange.Fetch(ctx, system, id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := p.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if f.Size > max {
		return nil, permanent{bus.ErrBodyTooLarge.New("%s has %d bytes; SOAP pushes carry at most %d", id, f.Size, max)}
	}
	return io.ReadAll(f.Body)
}

// client returns the SOAP client of a push, made once per configuration.
func (p *Pusher) client(ps *Push, v soap.Version) (*soap.Client, error) {
	getenv := p.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var password string
	if ps.Auth.User != "" {
		password = getenv(ps.Auth.PasswordEnv)
		if password == "" {
			return nil, bus.ErrInternal.New("the password of the push to %s is not set: environment variable %s is empty", ps.System, ps.Auth.PasswordEnv)
		}
	}
	sum := sha256.Sum256([]byte(password))
	version := soap.Declared11
	if v == soap.V12 {
		version = soap.Declared12
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%t|%s", ps.Endpoint, version, ps.Timeout, ps.Auth.User, ps.Auth.Digest, hex.EncodeToString(sum[:8]))
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	c, err := NewClient(ps.Endpoint, version, ps.Timeout, ps.Auth, password)
	if err != nil {
		return nil, err
	}
	if p.clients == nil {
		p.clients = map[string]*soap.Client{}
	}
	p.clients[key] = c
	return c, nil
}

// NewClient returns a SOAP client for a legacy endpoint as a route file
// declares it (version "1.1" or "1.2", timeout, WS-Security).
func NewClient(endpoint, version string, timeout time.Duration, a soap.Auth, password string) (*soap.Client, error) {
	opts := []soap.Option{soap.WithTimeout(timeout)}
	if version == soap.Declared12 {
		opts = append(opts, soap.WithVersion(soap.V12))
	}
	if a.User != "" {
		opts = append(opts, soap.WithUsernameToken(a.User, password, a.Digest), soap.WithTimestamp(5*time.Minute))
	}
	return soap.NewClient(endpoint, opts...)
}

func (p *Pusher) ledger(ctx context.Context, id, system, kind string, detail map[string]any) {
	b, _ := json.Marshal(detail)
	ev := store.Event{ExchangeID: id, At: p.now(), Kind: kind, Actor: "lgsp", Recipient: system, Detail: string(b), Node: p.Node}
	if err := p.Store.AddEvents(context.WithoutCancel(ctx), ev); err != nil {
		p.Log.WithError(err).Error("recording a SOAP push event")
	}
	if p.Wake != nil {
		p.Wake()
	}
}

// errDetail describes a failed attempt for the ledger: the catalogue code
// and, for a fault of the legacy system, its fault code and string.
func errDetail(err error) map[string]any {
	d := map[string]any{"code": string(bus.CodeOf(err))}
	var f *soap.Fault
	if errors.As(err, &f) {
		d["code"] = string(bus.ErrServiceFault.Code)
		d["fault_code"] = f.Code
		d["fault_string"] = f.String
		if f.LGSPCode != "" {
			d["lgsp_code"] = f.LGSPCode
		}
	}
	var ae *AnswerError
	if errors.As(err, &ae) {
		d["code"] = string(bus.ErrServiceFault.Code)
		d["answer_field"] = ae.Field
		d["answer"] = ae.Text
	}
	d["error"] = describe(err)
	return d
}

// describe is the text of err kept in the outbox and the ledger; a fault
// reads "fault <code>: <string>".
func describe(err error) string {
	var f *soap.Fault
	if errors.As(err, &f) {
		s := fmt.Sprintf("fault %s: %s", f.Code, f.String)
		if f.LGSPCode != "" {
			s += " (" + string(f.LGSPCode) + ")"
		}
		return s
	}
	s := err.Error()
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}
