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
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// Webhooks delivers outbox items of kind "webhook": a POST of the
// notification JSON to the system's webhook URL, signed with the
// LGSP-HMAC-SHA256 protocol under the system's newest active key (the
// system verifies it with its own secret, see docs/exchange.md, "Webhooks"). When
// that key is a public key (LGSP-RSA-SHA256) there is no secret to sign
// with: the webhook is signed LGSP-RSA-SHA256 by the platform key
// (Platform), whose public key is published.
type Webhooks struct {
	Store  store.Store
	Vault  *vault.Vault
	Client *http.Client
	Retry  bus.RetryPolicy
	Log    logrus.FieldLogger
	Node   string
	Now    func() time.Time
	// Wake is called after ledger events were written.
	Wake func()
	// Handlers see every claimed item first, in order; the first that
	// takes it (SOAP pushes: kind "soap_push", and the "webhook" items of
	// systems that are pushed to) records its outcome itself.
	Handlers []OutboxHandler
	// Platform signs the webhooks of systems whose newest key is a
	// public key.
	Platform *auth.PlatformKeys
	// Policy refuses non-public targets (SSRF) on every attempt: on the
	// URL's literal host and, in the dialer, on the address connected to.
	// Nil means the default (public addresses only). A refusal is
	// permanent: the item is dead at once, not retried.
	Policy *bus.OutboundPolicy
}

// OutboxHandler takes outbox items before the webhook delivery does: the
// outbox, its lease and the shared retry policy serve other durable pushes
// this way (adapters/soapout).
type OutboxHandler interface {
	// HandleOutbox returns false to leave it to the webhook delivery;
	// when it returns true it has finished the item (FinishOutbox).
	HandleOutbox(ctx context.Context, it store.OutboxItem) bool
}

// Run delivers due webhooks until ctx is done.
func (w *Webhooks) Run(ctx context.Context) {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Policy == nil {
		w.Policy = &bus.OutboundPolicy{}
	}
	if w.Client == nil {
		w.Client = w.Policy.Client(10 * time.Second)
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		items, err := w.Store.ClaimOutbox(ctx, w.Now().UTC(), 32, w.Node, time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				w.Log.WithError(err).Error("claiming outbox items")
			}
			continue
		}
		for _, it := range items {
			w.deliver(ctx, it)
		}
	}
}

func (w *Webhooks) deliver(ctx context.Context, it store.OutboxItem) {
	for _, h := range w.Handlers {
		if h.HandleOutbox(ctx, it) {
			return
		}
	}
	now := w.Now().UTC()
	if it.FirstAt.IsZero() {
		it.FirstAt = now
	}
	sys, err := w.Store.GetSystem(ctx, it.Target)
	if err == nil && sys.WebhookURL == "" {
		it.Status = store.OutboxDone // nothing to push to: the system polls or subscribes
		w.finish(ctx, it)
		return
	}
	if err == nil {
		err = w.post(ctx, sys, it.Payload)
	}
	it.Attempts++
	if err == nil {
		it.Status, it.LastError = store.OutboxDone, ""
		w.finish(ctx, it)
		w.ledger(ctx, it, "webhook_sent", "")
		return
	}
	it.LastError = err.Error()
	if errors.Is(err, bus.ErrOutboundRefused) || w.Retry.GiveUp(it.Attempts, it.FirstAt, now) {
		it.Status = store.OutboxDead
		w.Log.WithError(err).WithFields(logrus.Fields{"exchange": it.ExchangeID, "system": it.Target, "attempts": it.Attempts}).Error("webhook delivery failed for good")
		w.finish(ctx, it)
		w.ledger(ctx, it, "webhook_failed", err.Error())
		return
	}
	it.Status = store.OutboxPending
	it.DueAt = now.Add(w.Retry.Backoff(it.Attempts))
	w.Log.WithError(err).WithFields(logrus.Fields{"exchange": it.ExchangeID, "system": it.Target, "attempt": it.Attempts, "next": it.DueAt}).Warn("webhook delivery failed; will retry")
	w.finish(ctx, it)
}

func (w *Webhooks) finish(ctx context.Context, it store.OutboxItem) {
	outcome := map[string]string{store.OutboxDone: "ok", store.OutboxDead: "dead", store.OutboxPending: "retry"}[it.Status]
	metrics.Delivery(it.Kind, it.Target, outcome)
	if err := w.Store.FinishOutbox(context.WithoutCancel(ctx), it); err != nil {
		w.Log.WithError(err).WithField("outbox", it.ID).Error("recording webhook outcome")
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

func (w *Webhooks) post(ctx context.Context, sys store.System, payload []byte) error {
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
		return fmt.Errorf("webhook answered %s", resp.Status)
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
