package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// KindWebhook is the delivery kind of webhooks.
const KindWebhook = "webhook"

// WebhookStore is what Webhooks needs of the store: the target system and
// its keys, the ledger it records each outcome in, and the outbox (Run).
type WebhookStore interface {
	store.OutboxStore
	GetSystem(ctx context.Context, code string) (store.System, error)
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
	AddEvents(ctx context.Context, events ...store.Event) error
}

// Webhooks is the delivery kind "webhook" (bus/delivery): a POST of the
// notification JSON to the system's webhook URL, signed with the
// LGSP-HMAC-SHA256 protocol under the system's newest active key (the
// system verifies it with its own secret, see docs/exchange.md, "Webhooks"). When
// that key is a public key (LGSP-RSA-SHA256) there is no secret to sign
// with: the webhook is signed LGSP-RSA-SHA256 by the platform key
// (Platform), whose public key is published. Every attempt of one item
// carries the same Idempotency-Key header.
type Webhooks struct {
	Store  WebhookStore
	Vault  *vault.Vault
	Client *http.Client
	// Retry is the policy of webhooks (zero: bus.DefaultRetry).
	Retry bus.RetryPolicy
	Log   logrus.FieldLogger
	Node  string
	Now   func() time.Time
	// Wake is called after ledger events were written.
	Wake func()
	// Diverters see every webhook item first, in order; the first that
	// takes it (soapout: systems that are pushed to by SOAP get a planned
	// push instead of a webhook) has handled the notification.
	Diverters []Diverter
	// Platform signs the webhooks of systems whose newest key is a
	// public key.
	Platform *auth.PlatformKeys
	// Policy refuses non-public targets (SSRF) on every attempt: on the
	// URL's literal host and, in the dialer, on the address connected to.
	// Nil means the default (public addresses only). A refusal is
	// permanent: the item is dead at once, not retried.
	Policy *bus.OutboundPolicy

	once sync.Once
}

// Diverter takes the notification of a recipient that is reached another
// way: Divert reports true when it has handled it (enqueued its own
// delivery); an error is retried like a failed webhook. Takes reports
// whether Divert would take the notifications of target now: the
// dispatcher queues a webhook item for a system without a webhook URL only
// when some diverter takes it (store.ExchangeStore.ClaimDue).
type Diverter interface {
	Divert(ctx context.Context, it store.OutboxItem) (bool, error)
	Takes(target string) bool
}

// Takes reports whether one of ds takes the notifications of target.
func Takes(ds []Diverter, target string) bool {
	for _, d := range ds {
		if d.Takes(target) {
			return true
		}
	}
	return false
}

func (w *Webhooks) init() {
	w.once.Do(func() {
		if w.Now == nil {
			w.Now = time.Now
		}
		if w.Policy == nil {
			w.Policy = &bus.OutboundPolicy{}
		}
		if w.Client == nil {
			w.Client = w.Policy.Client(10 * time.Second)
		}
	})
}

// Name is the kind's name.
func (w *Webhooks) Name() string { return KindWebhook }

// RetryPolicy is the retry policy of webhooks.
func (w *Webhooks) RetryPolicy(store.OutboxItem) bus.RetryPolicy {
	if w.Retry == (bus.RetryPolicy{}) {
		return bus.DefaultRetry
	}
	return w.Retry
}

// Run delivers webhooks only, on a runner of their own (tests; a node
// runs every kind on one runner).
func (w *Webhooks) Run(ctx context.Context) {
	reg := delivery.NewRegistry()
	reg.Register(w)
	(&delivery.Runner{Store: w.Store, Kinds: reg, Node: w.Node, Log: w.Log, Retry: w.RetryPolicy(store.OutboxItem{})}).Run(ctx)
}

// Deliver makes one attempt (delivery.Kind).
func (w *Webhooks) Deliver(ctx context.Context, it store.OutboxItem) error {
	w.init()
	for _, d := range w.Diverters {
		if ok, err := d.Divert(ctx, it); err != nil {
			return err
		} else if ok {
			return delivery.ErrNothing
		}
	}
	sys, err := w.Store.GetSystem(ctx, it.Target)
	if err != nil {
		return err
	}
	if sys.WebhookURL == "" {
		return delivery.ErrNothing // nothing to push to: the system polls or subscribes
	}
	return w.post(ctx, sys, it)
}

// Record writes webhook_sent or webhook_failed (delivery.Recorder).
func (w *Webhooks) Record(ctx context.Context, it store.OutboxItem, status string, err error) {
	switch {
	case status == store.OutboxDone && err == nil:
		w.ledger(ctx, it, "webhook_sent", "")
	case status == store.OutboxDead:
		w.ledger(ctx, it, "webhook_failed", err.Error())
	}
}

func (w *Webhooks) ledger(ctx context.Context, it store.OutboxItem, kind, detail string) {
	if it.ExchangeID == "" {
		return
	}
	ev := store.Event{ExchangeID: it.ExchangeID, At: w.Now().UTC(), Kind: kind, Actor: "lgsp", Recipient: it.Target, Detail: detail, Node: w.Node}
	if err := w.Store.AddEvents(context.WithoutCancel(ctx), ev); err != nil {
		w.Log.WithError(err).Error("recording webhook event")
	}
	if w.Wake != nil {
		w.Wake()
	}
}

var errNoKey = errors.New("system has no active key to sign webhooks with")

func (w *Webhooks) post(ctx context.Context, sys store.System, it store.OutboxItem) error {
	payload := it.Payload
	if err := w.Policy.CheckURL(sys.WebhookURL); err != nil {
		return err // before any lookup or connection
	}
	keys, err := w.Store.ListKeys(ctx, sys.Code)
	if err != nil {
		return err
	}
	var key *store.Key
	now := w.Now()
	for i := range keys {
		k := &keys[i]
		if k.Status == store.KeyActive && (k.ExpiresAt.IsZero() || k.ExpiresAt.After(now)) && (key == nil || k.CreatedAt.After(key.CreatedAt)) {
			key = k
		}
	}
	if key == nil {
		return errNoKey
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sys.WebhookURL, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(delivery.HeaderKey, delivery.Key(it))
	sum := sha256.Sum256(payload)
	if err := w.sign(ctx, req, *key, hex.EncodeToString(sum[:]), now); err != nil {
		return err
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("webhook answered %s", resp.Status)
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
			return delivery.Permanent(err) // the receiver refuses it: no retry changes that
		}
		return err
	}
	return nil
}

// sign signs a webhook for the system whose newest key is key: with its
// shared secret (HMAC), or, for a public key, with the platform key — a
// public key is no secret, so an HMAC under it could be forged by anyone.
func (w *Webhooks) sign(ctx context.Context, req *http.Request, key store.Key, bodySHA string, now time.Time) error {
	if !auth.IsShared(key) {
		if w.Platform == nil {
			return fmt.Errorf("system's newest key %s is a public key and no platform key is configured", key.AccessKey)
		}
		return w.Platform.SignWebhook(ctx, req, bodySHA, now)
	}
	secret, err := auth.SharedSecret(w.Vault, key)
	if err != nil {
		return fmt.Errorf("opening secret of %s: %w", key.AccessKey, err)
	}
	defer clear(secret)
	return auth.Sign(req, key.AccessKey, string(secret), bodySHA, now, bus.RandomToken(16))
}
