package vxp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Delivery kinds of the adapter (bus/delivery; see Poller).
const (
	KindPull   = "vxp_pull"   // a packet listed on the axis, into the exchange
	KindStatus = "vxp_status" // status 01 back and updateStatus of a pulled packet
	KindPush   = "vxp_push"   // an exchange to the axis (sendEdoc)
)

// itemPayload is the payload of the adapter's outbox items (metadata only).
type itemPayload struct {
	// Key is the item's idempotency key (delivery.Key reads it): the VXP
	// document id, or the exchange id of a push.
	Key         string `json:"idempotency_key"`
	DocID       string `json:"doc_id,omitempty"`
	From        string `json:"from,omitempty"`
	MessageType string `json:"message_type,omitempty"`
}

func (p *Poller) wake() {
	if p.Wake != nil {
		p.Wake()
	}
}

// enqueue stores one item of kind for the gateway system (the target:
// every item of a kind to the one axis shares its slots).
func (p *Poller) enqueue(ctx context.Context, kind, exID string, pl itemPayload) error {
	now := p.now().UTC()
	return p.Store.EnqueueOutbox(context.WithoutCancel(ctx), store.OutboxItem{Kind: kind, Target: p.Gateway, ExchangeID: exID, Payload: []byte(mustJSON(pl)), DueAt: now, FirstAt: now})
}

func (p *Poller) retry() bus.RetryPolicy {
	if p.Retry == (bus.RetryPolicy{}) {
		return bus.DefaultRetry
	}
	return p.Retry.WithDefaults()
}

// Kinds are the adapter's delivery kinds, to register with the node's
// engine (service.Host.RegisterDelivery).
func (p *Poller) Kinds() []delivery.Kind {
	return []delivery.Kind{&kind{p, KindPull, p.deliverPull}, &kind{p, KindStatus, p.deliverStatus}, &kind{p, KindPush, p.deliverPush}}
}

type kind struct {
	p       *Poller
	name    string
	deliver func(ctx context.Context, it store.OutboxItem, pl itemPayload) error
}

func (k *kind) Name() string                                 { return k.name }
func (k *kind) RetryPolicy(store.OutboxItem) bus.RetryPolicy { return k.p.retry() }

func (k *kind) Deliver(ctx context.Context, it store.OutboxItem) error {
	var pl itemPayload
	if err := json.Unmarshal(it.Payload, &pl); err != nil {
		return delivery.Permanent(fmt.Errorf("%s item %d: payload: %v", k.name, it.ID, err))
	}
	return k.deliver(ctx, it, pl)
}

// Record writes the activity entry of an outcome (M5), and for pushes the
// ledger of a failure and, once dead, the rejection (delivery.Recorder).
func (k *kind) Record(ctx context.Context, it store.OutboxItem, status string, err error) {
	if errors.Is(err, delivery.ErrNothing) {
		return
	}
	var pl itemPayload
	_ = json.Unmarshal(it.Payload, &pl)
	switch k.name {
	case KindPush:
		k.p.record(ctx, "gateway.push", it.ExchangeID, err)
		if err != nil {
			k.p.pushFailed(ctx, it, status == store.OutboxDead, err)
		}
	default:
		what := "packet"
		if pl.MessageType == MessageStatus {
			what = "status packet"
		}
		k.p.record(ctx, "gateway.pull."+what, pl.DocID, err)
	}
}

// refusal reports whether err is LGSP refusing a pulled packet for good
// (a route step, no recipient, not a status LGSP can place …), not a
// failure of the axis or of LGSP that a retry can cure.
func refusal(err error) bool {
	var be *bus.Error
	return errors.As(err, &be) && be.Def.Status < 500 && !strings.HasPrefix(string(be.Def.Code), "gateway.")
}

// deliverPull takes one listed packet into the exchange (document) or onto
// the exchange it answers (status), then queues its vxp_status item.
func (p *Poller) deliverPull(ctx context.Context, it store.OutboxItem, pl itemPayload) error {
	row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayIn, DocID: pl.DocID, Status: InPulling, Detail: mustJSON(inDetail{From: pl.From}), CreatedAt: p.now()})
	if err != nil {
		return err
	}
	var det inDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	if det.From == "" {
		det.From = pl.From
	}
	if row.Status == InAcked {
		return delivery.ErrNothing // done before (a second item of one packet)
	}
	if row.Status == InPulling {
		var perr error
		if pl.MessageType == MessageStatus {
			perr = p.pullStatus(ctx, &row, &det)
		} else {
			perr = p.pullDocument(ctx, &row, &det)
		}
		if perr != nil && !refusal(perr) {
			return perr
		}
		if perr != nil {
			// LGSP refuses the packet for good: the axis is told fail
			// (vxp_status), so that it stops offering it.
			det.Reason = string(bus.CodeOf(perr)) + ": " + perr.Error()
			var be *bus.Error
			if errors.As(perr, &be) {
				det.Reason = string(be.Def.Code) + ": " + be.Detail
			}
			row.Status, row.Detail, row.UpdatedAt = InRefused, mustJSON(det), p.now()
			if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
				return errors.Join(perr, err)
			}
			if err := p.enqueue(ctx, KindStatus, row.ExchangeID, itemPayload{Key: pl.DocID, DocID: pl.DocID, From: det.From, MessageType: pl.MessageType}); err != nil {
				return errors.Join(perr, err)
			}
			p.wake()
			return delivery.Permanent(perr)
		}
	}
	if row.Status == InRefused {
		// Requeued by an operator: the refusal stands (the axis was told
		// fail); tell it again.
		if err := p.enqueue(ctx, KindStatus, row.ExchangeID, itemPayload{Key: pl.DocID, DocID: pl.DocID, From: det.From, MessageType: pl.MessageType}); err != nil {
			return err
		}
		p.wake()
		return delivery.Permanent(bus.ErrBadRequest.New("vxp packet %s was refused: %s", pl.DocID, det.Reason))
	}
	if err := p.enqueue(ctx, KindStatus, row.ExchangeID, itemPayload{Key: pl.DocID, DocID: pl.DocID, From: det.From, MessageType: pl.MessageType}); err != nil {
		return err
	}
	p.wake()
	return nil
}

// pullDocument makes the exchange of a document packet; the row ends
// InDelivered (or stays InPulling with the error).
func (p *Poller) pullDocument(ctx context.Context, row *store.GatewayDoc, det *inDetail) error {
	if row.ExchangeID != "" {
		// A previous attempt stopped half-way: keep what was accepted,
		// cancel what was not.
		ex, err := p.Store.GetExchange(ctx, row.ExchangeID)
		switch {
		case err == nil && ex.Status != store.ExchangeRequested && ex.Status != store.ExchangeCancelled && ex.Status != store.ExchangeExpired && ex.Status != store.ExchangeFailed:
			row.Status, row.Detail, row.UpdatedAt = InDelivered, mustJSON(det), p.now()
			return p.Store.UpdateGatewayDoc(ctx, *row)
		case err == nil && ex.Status == store.ExchangeRequested:
			if _, err := p.Exchange.Cancel(ctx, p.Gateway, ex.ID); err != nil && !errors.Is(err, bus.ErrExchangeState) {
				return fmt.Errorf("cancelling half-made exchange %s: %w", ex.ID, err)
			}
		}
	}
	exID, statusPkt, err := p.deliver(ctx, row)
	if err != nil {
		if exID != "" {
			row.ExchangeID = exID
		}
		return err
	}
	det.StatusPacket = statusPkt
	row.Status, row.ExchangeID, row.Detail, row.UpdatedAt = InDelivered, exID, mustJSON(det), p.now()
	if err := p.Store.UpdateGatewayDoc(ctx, *row); err != nil {
		return err
	}
	p.addEvent(ctx, p.event(exID, "gateway_received", p.Gateway, "", map[string]any{"doc_id": row.DocID, "from": det.From}))
	return nil
}

// pullStatus records a status packet on the exchange it answers.
func (p *Poller) pullStatus(ctx context.Context, row *store.GatewayDoc, det *inDetail) error {
	exID, rep, err := p.recordStatus(ctx, row.DocID)
	if err != nil {
		if exID != "" {
			row.ExchangeID = exID
		}
		return err
	}
	row.Status, row.ExchangeID, row.Detail, row.UpdatedAt = InDelivered, exID, mustJSON(det), p.now()
	if err := p.Store.UpdateGatewayDoc(ctx, *row); err != nil {
		return err
	}
	p.addEvent(ctx, p.event(exID, "gateway_received", p.Gateway, p.Gateway, map[string]any{"doc_id": row.DocID, "from": det.From, "message_type": MessageStatus, "status_code": rep.Code}))
	return nil
}

// deliverStatus does what is left on the axis for a pulled packet: the
// status packet 01 to the sender of an accepted document, then
// updateStatus done (fail for a refused packet).
func (p *Poller) deliverStatus(ctx context.Context, it store.OutboxItem, pl itemPayload) error {
	row, err := p.Store.GetGatewayDoc(ctx, GatewayName, store.GatewayIn, pl.DocID)
	if err != nil {
		return err
	}
	var det inDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	recipient := ""
	if pl.MessageType == MessageStatus {
		recipient = p.Gateway
	}
	switch row.Status {
	case InPulling:
		return fmt.Errorf("vxp packet %s is not taken into the exchange yet", pl.DocID)
	case InRefused:
		return p.Client.UpdateStatus(ctx, pl.DocID, TransportFail)
	}
	if row.Status == InDelivered && det.StatusPacket != "" && det.From != "" {
		pkt := []byte(det.StatusPacket)
		sum := sha256.Sum256(pkt)
		sdoc, err := p.Client.SendEdoc(ctx, SendRequest{From: p.organID(), To: []string{det.From}, MessageType: MessageStatus, SHA256: sum[:], Size: int64(len(pkt)), Body: bytes.NewReader(pkt)})
		metrics.GatewayCall(GatewayName, "push", err)
		if err != nil {
			return fmt.Errorf("reporting status 01: %w", err)
		}
		row.Status, row.UpdatedAt = InReported, p.now()
		if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
			return err
		}
		p.addEvent(ctx, p.event(row.ExchangeID, "gateway_reported", p.Gateway, "", map[string]any{"doc_id": pl.DocID, "status_code": string(edxml.StatusArrived), "status_doc_id": sdoc}))
	}
	if err := p.Client.UpdateStatus(ctx, pl.DocID, TransportDone); err != nil {
		return fmt.Errorf("acknowledging: %w", err)
	}
	if row.Status != InAcked {
		row.Status, row.UpdatedAt = InAcked, p.now()
		if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
			return err
		}
		p.addEvent(ctx, p.event(row.ExchangeID, "gateway_acked", p.Gateway, recipient, map[string]any{"doc_id": pl.DocID, "transport_status": TransportDone}))
	}
	return nil
}

// deliverPush sends one exchange to the axis and confirms it.
func (p *Poller) deliverPush(ctx context.Context, it store.OutboxItem, _ itemPayload) error {
	ex, err := p.Store.GetExchange(ctx, it.ExchangeID)
	if errors.Is(err, bus.ErrNotFound) {
		return delivery.Permanent(err)
	}
	if err != nil {
		return err
	}
	row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayOut, DocID: ex.ID, ExchangeID: ex.ID, Status: OutSending, Detail: "{}", CreatedAt: p.now()})
	if err != nil {
		return err
	}
	var det outDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	if row.Status == OutSent {
		// Sent before; the confirmation did not happen.
		return p.confirmSent(ctx, ex.ID, det.VXPDocID)
	}
	docID, to, sendErr := p.send(ctx, ex)
	if sendErr != nil {
		var be *bus.Error
		if errors.As(sendErr, &be) && (be.Def == bus.ErrEDXMLInvalid || be.Def == bus.ErrGatewayRefused) && it.Attempts+1 >= 3 {
			return delivery.Permanent(sendErr) // the axis keeps refusing this packet
		}
		return sendErr
	}
	det.VXPDocID, det.To, det.Last = docID, to, ""
	row.Status, row.Detail, row.UpdatedAt = OutSent, mustJSON(det), p.now()
	if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
		return err
	}
	p.addEvent(ctx, p.event(ex.ID, "gateway_sent", ex.Source, p.Gateway, map[string]any{"vxp_doc_id": docID, "to": to}))
	return p.confirmSent(ctx, ex.ID, docID)
}

// confirmSent confirms a pushed exchange for the gateway system.
func (p *Poller) confirmSent(ctx context.Context, exID, docID string) error {
	_, err := p.Exchange.Confirm(ctx, p.Gateway, exID, exchange.OutcomeReceived, "VXP DocId "+docID)
	if err != nil && errors.Is(err, bus.ErrExchangeState) {
		if ferr := p.fetchAll(ctx, exID); ferr != nil { // the download was not recorded yet
			return ferr
		}
		if _, err = p.Exchange.Confirm(ctx, p.Gateway, exID, exchange.OutcomeReceived, "VXP DocId "+docID); errors.Is(err, bus.ErrExchangeState) {
			return nil // final already (rejected, or confirmed by an earlier attempt)
		}
	}
	return err
}

// pushFailed writes a failed push attempt: gateway_failed on the ledger;
// once final, the row failed and the exchange rejected for the gateway.
func (p *Poller) pushFailed(ctx context.Context, it store.OutboxItem, final bool, sendErr error) {
	ctx = context.WithoutCancel(ctx)
	ex, err := p.Store.GetExchange(ctx, it.ExchangeID)
	if err != nil {
		p.log().WithError(err).WithField("exchange", it.ExchangeID).Error("recording a failed VXP push")
		return
	}
	if final {
		row, err := p.Store.GetGatewayDoc(ctx, GatewayName, store.GatewayOut, ex.ID)
		if err == nil && row.Status != OutSent {
			var det outDetail
			_ = json.Unmarshal([]byte(row.Detail), &det)
			det.Last = truncate(sendErr.Error(), 1000)
			row.Status, row.Detail, row.UpdatedAt = OutFailed, mustJSON(det), p.now()
			err = p.Store.UpdateGatewayDoc(ctx, row)
		}
		if err != nil {
			p.log().WithError(err).WithField("exchange", ex.ID).Error("recording a failed VXP push")
		}
	}
	p.addEvent(ctx, p.event(ex.ID, "gateway_failed", ex.Source, p.Gateway, map[string]any{"code": string(bus.CodeOf(sendErr)), "attempt": it.Attempts, "final": final}))
	if final {
		if _, err := p.Exchange.Confirm(ctx, p.Gateway, ex.ID, exchange.OutcomeRejected, "VXP: "+truncate(sendErr.Error(), 1500)); err != nil && !errors.Is(err, bus.ErrExchangeState) {
			p.log().WithError(err).WithField("exchange", ex.ID).Error("rejecting a VXP push that failed for good")
		}
	}
}
