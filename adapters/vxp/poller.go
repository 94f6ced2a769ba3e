package vxp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/metrics"
	"github.com/tuyenquang/lgsp/bus/store"
)

// GatewayName names VXP in the store's gateway documents and the ledger.
const GatewayName = "vxp"

// States of a pulled document (store.GatewayDoc.Status, direction in).
const (
	InPulling   = "pulling"   // claimed; the exchange may be half made
	InDelivered = "delivered" // accepted into an LGSP exchange
	InReported  = "reported"  // status 01 sent back to the sender
	InAcked     = "acked"     // updateStatus done: the axis no longer lists it
	InRefused   = "refused"   // a route step refused it; reported as fail
)

// States of a pushed exchange (direction out).
const (
	OutSending = "sending"
	OutSent    = "sent"
	OutFailed  = "failed" // retries exhausted: the exchange was rejected for the gateway system
	// OutRef marks a reference row (DocID RefKey…): the edXML identity of a
	// pushed document, so that a status packet answering it (ResponseFor)
	// finds the exchange it was pushed from.
	OutRef = "ref"
)

// Poller moves packets between VXP and the province's exchange:
//
//   - Pull: every packet waiting on the axis (getReceivedEdocList) becomes an
//     exchange from the VXP gateway system (Gateway) to the systems its To
//     organ ids map to (Organs), with the .edxml as application/xml; once
//     accepted, a status packet 01 ("đã đến") goes back to the sender
//     (sendEdoc, messagetype status) and the packet is acknowledged
//     (updateStatus done). A document id is remembered in the store, so a
//     packet pulled again after a crash between the pull and the
//     acknowledgement is not delivered twice.
//   - Push: every exchange addressed to the gateway system is fetched and
//     sent to the axis (sendEdoc) to the organ ids of its To elements that
//     are not the province's own (not in Organs), then confirmed; failures
//     are retried at the next runs with the shared retry policy, then the
//     exchange is rejected for the gateway with the reason. The pushed
//     document's edXML identity (DocKey, DocumentId) is remembered.
//   - PullStatus: every status packet waiting on the axis (a remote
//     agency's answer — 03 đã tiếp nhận, 05 …) is matched by its
//     ResponseFor to the exchange whose document was pushed, and recorded
//     on it as the gateway system's status report (exchange.ReportStatus:
//     a `status` ledger event for the gateway recipient, which
//     getSentEdocList shows the sender); then acknowledged (updateStatus
//     done). A status packet that answers no pushed document, or is not a
//     valid status packet, is acknowledged as fail.
//
// They write ledger events (gateway_received, gateway_reported,
// gateway_acked, gateway_sent, gateway_failed) on the exchange.
//
// Pull and PullStatus hand packets whose From is a remote agency to the
// exchange as the gateway system: they run with exchange.AsGateway, so the
// rule that a system speaks only for itself and its listed organs (R6,
// Art. 5) lets the poller through by construction. Requests made with the
// gateway system's own keys get the ordinary rule.
type Poller struct {
	Client   *Client
	Exchange *exchange.Service
	Store    PollerStore
	Log      logrus.FieldLogger
	// Gateway is the LGSP identifier code of the system that stands for
	// VXP: the source of pulled exchanges and the recipient of pushed ones.
	Gateway string
	// OrganID and OrganName are the province on the axis: From of status
	// packets (OrganID defaults to Client.SystemID).
	OrganID   string
	OrganName string
	// Organs maps an organ id (To/OrganId of a packet) to LGSP systems.
	Organs map[string][]string
	// DataType of pulled exchanges (default "edoc").
	DataType string
	// Retry bounds how long a push is retried (bus.DefaultRetry if zero).
	Retry bus.RetryPolicy
	Now   func() time.Time
	// Activity receives one entry per pulled or pushed document (M5);
	// nil records nothing.
	Activity *activity.Log
	// Traffic, when set, counts each pulled or pushed document for the
	// gateway system (the traffic_anomaly alert rule's per-system
	// baseline, M3).
	Traffic func(system string)
}

// record writes a gateway pull or push to the activity log, waiting until
// it is in the database (activity.Log.Commit) before the poller moves on,
// and counts it as traffic of the gateway system.
func (p *Poller) record(ctx context.Context, kind, doc string, err error) {
	if p.Traffic != nil {
		p.Traffic(p.Gateway)
	}
	out := activity.OK
	if err != nil {
		out = "failed"
		var be *bus.Error
		if errors.As(err, &be) {
			out = string(be.Def.Code)
		}
	}
	if cerr := p.Activity.Commit(context.WithoutCancel(ctx), activity.Entry{Kind: kind, Actor: "vxp", SystemCode: p.Gateway, Subject: doc, Outcome: out}); cerr != nil {
		p.log().WithError(cerr).WithField("doc_id", doc).Error("activity log: a gateway transfer is not written yet (it stays buffered)")
	}
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) log() logrus.FieldLogger {
	if p.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		return l
	}
	return p.Log.WithField("gateway", GatewayName)
}

func (p *Poller) organID() string {
	if p.OrganID != "" {
		return p.OrganID
	}
	return p.Client.SystemID
}

func (p *Poller) dataType() string {
	if p.DataType != "" {
		return p.DataType
	}
	return "edoc"
}

// Poll runs Pull, Push then PullStatus and joins their errors.
func (p *Poller) Poll(ctx context.Context) error {
	_, perr := p.Pull(ctx)
	_, serr := p.Push(ctx)
	_, sterr := p.PullStatus(ctx)
	return errors.Join(perr, serr, sterr)
}

// event builds a ledger event on an exchange; detail carries the source
// (notifications reach the sender through it).
func (p *Poller) event(exID, kind, source, recipient string, detail map[string]any) store.Event {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["source"] = source
	detail["gateway"] = GatewayName
	b, _ := json.Marshal(detail)
	return store.Event{ExchangeID: exID, At: p.now().UTC(), Kind: kind, Actor: p.Gateway, Recipient: recipient, Detail: string(b)}
}

func (p *Poller) addEvent(ctx context.Context, ev store.Event) {
	if err := p.Store.AddEvents(context.WithoutCancel(ctx), ev); err != nil {
		p.log().WithError(err).WithField("exchange", ev.ExchangeID).Error("writing gateway ledger event")
	}
}

// inDetail is what the store remembers of a pulled document.
type inDetail struct {
	From         string `json:"from"`
	StatusPacket string `json:"status_packet,omitempty"` // the 01 packet to send back (metadata only)
	Reason       string `json:"reason,omitempty"`
}

// Pull takes every waiting document packet into the exchange. It returns
// how many became new exchanges.
func (p *Poller) Pull(ctx context.Context) (int, error) {
	return p.pullEach(ctx, MessageEdoc, "packet", p.pullOne)
}

// pullEach lists the waiting packets of one message type and hands each to
// one; it returns how many one took, and every error joined.
func (p *Poller) pullEach(ctx context.Context, messageType, what string, one func(ctx context.Context, docID, from string) (bool, error)) (int, error) {
	list, err := p.Client.GetReceivedEdocList(ctx, messageType)
	metrics.GatewayCall(GatewayName, "poll", err)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, it := range list {
		if ctx.Err() != nil {
			break
		}
		took, err := one(ctx, string(it.DocID), string(it.From))
		if took || err != nil {
			p.record(ctx, "gateway.pull."+what, string(it.DocID), err)
		}
		if err != nil {
			p.log().WithError(err).WithField("doc_id", string(it.DocID)).Warn("pulling a " + what + " from VXP")
			errs = append(errs, fmt.Errorf("vxp %s %s: %w", what, it.DocID, err))
		}
		if took {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (p *Poller) pullOne(ctx context.Context, docID, from string) (bool, error) {
	if docID == "" {
		return false, nil
	}
	row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayIn, DocID: docID, Status: InPulling, CreatedAt: p.now()})
	if err != nil {
		return false, err
	}
	var det inDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	if det.From == "" {
		det.From = from
	}
	created := false
	if row.Status == InPulling {
		if row.ExchangeID != "" {
			// A previous run stopped half-way: keep what was accepted,
			// cancel what was not.
			ex, err := p.Store.GetExchange(ctx, row.ExchangeID)
			switch {
			case err == nil && ex.Status != store.ExchangeRequested && ex.Status != store.ExchangeCancelled && ex.Status != store.ExchangeExpired && ex.Status != store.ExchangeFailed:
				row.Status = InDelivered
			case err == nil && ex.Status == store.ExchangeRequested:
				if _, err := p.Exchange.Cancel(ctx, p.Gateway, ex.ID); err != nil && !errors.Is(err, bus.ErrExchangeState) {
					return false, fmt.Errorf("cancelling half-made exchange %s: %w", ex.ID, err)
				}
			}
		}
		if row.Status == InPulling {
			exID, statusPkt, err := p.deliver(ctx, &row)
			if err != nil {
				var be *bus.Error
				if errors.As(err, &be) && be.Def.Status < 500 && !strings.HasPrefix(string(be.Def.Code), "gateway.") {
					// LGSP refuses the packet for good (route step, no
					// recipient …): report fail so that the axis stops
					// offering it.
					det.Reason = string(be.Def.Code) + ": " + be.Detail
					row.Status, row.ExchangeID = InRefused, exID
					row.Detail = mustJSON(det)
					row.UpdatedAt = p.now()
					if uerr := p.Store.UpdateGatewayDoc(ctx, row); uerr != nil {
						return false, uerr
					}
					if uerr := p.Client.UpdateStatus(ctx, docID, TransportFail); uerr != nil {
						return false, errors.Join(err, uerr)
					}
				}
				return false, err
			}
			det.StatusPacket = statusPkt
			row.Status, row.ExchangeID, row.Detail, row.UpdatedAt = InDelivered, exID, mustJSON(det), p.now()
			if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
				return false, err
			}
			p.addEvent(ctx, p.event(exID, "gateway_received", p.Gateway, "", map[string]any{"doc_id": docID, "from": det.From}))
			created = true
		}
	}
	if row.Status == InRefused {
		return created, p.Client.UpdateStatus(ctx, docID, TransportFail)
	}
	if row.Status == InDelivered && det.StatusPacket != "" && det.From != "" {
		pkt := []byte(det.StatusPacket)
		sum := sha256.Sum256(pkt)
		sdoc, err := p.Client.SendEdoc(ctx, SendRequest{From: p.organID(), To: []string{det.From}, MessageType: MessageStatus, SHA256: sum[:], Size: int64(len(pkt)), Body: bytes.NewReader(pkt)})
		metrics.GatewayCall(GatewayName, "push", err)
		if err != nil {
			return created, fmt.Errorf("reporting status 01: %w", err)
		}
		row.Status, row.UpdatedAt = InReported, p.now()
		if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
			return created, err
		}
		p.addEvent(ctx, p.event(row.ExchangeID, "gateway_reported", p.Gateway, "", map[string]any{"doc_id": docID, "status_code": string(edxml.StatusArrived), "status_doc_id": sdoc}))
	}
	if row.Status == InDelivered || row.Status == InReported || row.Status == InAcked {
		if err := p.Client.UpdateStatus(ctx, docID, TransportDone); err != nil {
			return created, fmt.Errorf("acknowledging: %w", err)
		}
		if row.Status != InAcked {
			row.Status, row.UpdatedAt = InAcked, p.now()
			if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
				return created, err
			}
			p.addEvent(ctx, p.event(row.ExchangeID, "gateway_acked", p.Gateway, "", map[string]any{"doc_id": docID, "transport_status": TransportDone}))
		}
	}
	return created, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// deliver makes the exchange of one packet: a first streamed read parses
// the header (attachments are measured and dropped), a second streams the
// bytes into the upload space — nothing is kept on disk or whole in
// memory. It returns the exchange id (also when the route refused it) and
// the status packet 01 to send back.
func (p *Poller) deliver(ctx context.Context, row *store.GatewayDoc) (string, string, error) {
	// The packet's From is the remote agency: the axis vouches for it.
	ctx = exchange.AsGateway(ctx, p.Gateway)
	rc, err := p.Client.GetEdoc(ctx, row.DocID)
	metrics.GatewayCall(GatewayName, "get", err)
	if err != nil {
		return "", "", err
	}
	pkt, err := edxml.Parse(rc, nil)
	rc.Close()
	if err != nil {
		var be *bus.Error
		if errors.As(err, &be) {
			return "", "", err
		}
		if errors.Is(err, bus.ErrGatewayUnreachable) || errors.Is(err, bus.ErrGatewayRefused) || errors.Is(err, bus.ErrGatewayBadReply) {
			return "", "", err
		}
		return "", "", bus.ErrEDXMLInvalid.Wrap(err, "vxp document %s: %v", row.DocID, err)
	}
	if pkt.Kind() != edxml.KindDocument {
		return "", "", bus.ErrEDXMLInvalid.New("vxp document %s is not a document packet", row.DocID)
	}
	mh := &pkt.Envelope.Header.MessageHeader
	var recips []string
	seen := map[string]bool{}
	var unmapped []string
	for _, to := range mh.To {
		codes, ok := p.Organs[strings.TrimSpace(to.OrganId)]
		if !ok {
			unmapped = append(unmapped, to.OrganId)
		}
		for _, c := range codes {
			if !seen[c] {
				seen[c] = true
				recips = append(recips, c)
			}
		}
	}
	if len(recips) == 0 {
		// Not for anyone here (yet): leave it on the axis until the organ
		// table names a system; retried at each run.
		return "", "", fmt.Errorf("vxp document %s: no LGSP system is configured for its To organ ids %v (gateways.vxp.organs)", row.DocID, unmapped)
	}
	sort.Strings(recips)
	title := strings.TrimSpace(mh.Subject)
	if title == "" {
		title = "Văn bản từ trục liên thông quốc gia " + row.DocID
	}
	if utf8.RuneCountInString(title) > 500 {
		title = string([]rune(title)[:500])
	}
	space, err := p.Exchange.RequestExchange(ctx, p.Gateway, exchange.Request{Recipients: recips, Title: title, DataType: p.dataType(), MediaType: "application/xml"})
	if err != nil {
		return "", "", err
	}
	row.ExchangeID = space.ExchangeID
	row.UpdatedAt = p.now()
	if err := p.Store.UpdateGatewayDoc(ctx, *row); err != nil {
		return "", "", err
	}
	rc, err = p.Client.GetEdoc(ctx, row.DocID)
	metrics.GatewayCall(GatewayName, "get", err)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = p.Exchange.Upload(ctx, p.Gateway, space.ExchangeID, 0, io.TeeReader(rc, h))
	rc.Close()
	if err != nil {
		return "", "", err
	}
	if _, err := p.Exchange.Complete(ctx, p.Gateway, space.ExchangeID, exchange.CompleteRequest{SHA256: hex.EncodeToString(h.Sum(nil)), MediaType: "application/xml"}); err != nil {
		return space.ExchangeID, "", err
	}
	st, err := edxml.StatusFor(pkt, edxml.StatusArrived, edxml.Organization{OrganId: p.organID(), OrganName: p.OrganName}, p.now(), "Văn bản đã đến LGSP của đơn vị nhận")
	if err != nil {
		return space.ExchangeID, "", nil // accepted; nothing to report
	}
	var buf bytes.Buffer
	if err := edxml.Build(&buf, st); err != nil {
		return space.ExchangeID, "", nil
	}
	return space.ExchangeID, buf.String(), nil
}

// outDetail is what the store remembers of a pushed exchange.
type outDetail struct {
	VXPDocID string    `json:"vxp_doc_id,omitempty"`
	To       []string  `json:"to,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	First    time.Time `json:"first,omitzero"`
	Last     string    `json:"last_error,omitempty"`
}

// Push sends every exchange addressed to the gateway system to the axis.
// It returns how many were sent.
func (p *Poller) Push(ctx context.Context) (int, error) {
	items, err := p.Exchange.Inbox(ctx, p.Gateway)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sent, err := p.pushOne(ctx, it.Exchange)
		if sent || err != nil {
			p.record(ctx, "gateway.push", it.Exchange.ID, err)
		}
		if err != nil {
			p.log().WithError(err).WithField("exchange", it.Exchange.ID).Warn("pushing an exchange to VXP")
			errs = append(errs, fmt.Errorf("exchange %s: %w", it.Exchange.ID, err))
		}
		if sent {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (p *Poller) pushOne(ctx context.Context, ex store.Exchange) (bool, error) {
	row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayOut, DocID: ex.ID, ExchangeID: ex.ID, Status: OutSending, CreatedAt: p.now()})
	if err != nil {
		return false, err
	}
	var det outDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	if row.Status == OutSent {
		// Sent before; the confirmation did not happen.
		_, err := p.Exchange.Confirm(ctx, p.Gateway, ex.ID, exchange.OutcomeReceived, "VXP DocId "+det.VXPDocID)
		if err != nil && errors.Is(err, bus.ErrExchangeState) {
			return false, p.fetchAll(ctx, ex.ID) // download not recorded yet
		}
		return false, err
	}
	docID, to, sendErr := p.send(ctx, ex)
	if sendErr != nil {
		if det.First.IsZero() {
			det.First = p.now()
		}
		det.Attempts++
		det.Last = sendErr.Error()
		row.Detail, row.UpdatedAt = mustJSON(det), p.now()
		retry := p.Retry
		if retry == (bus.RetryPolicy{}) {
			retry = bus.DefaultRetry
		}
		final := retry.GiveUp(det.Attempts, det.First, p.now())
		var be *bus.Error
		if errors.As(sendErr, &be) && (be.Def == bus.ErrEDXMLInvalid || be.Def == bus.ErrGatewayRefused) && det.Attempts >= 3 {
			final = true // the axis keeps refusing this packet
		}
		if final {
			row.Status = OutFailed
		}
		if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
			return false, errors.Join(sendErr, err)
		}
		p.addEvent(ctx, p.event(ex.ID, "gateway_failed", ex.Source, p.Gateway, map[string]any{"code": string(bus.CodeOf(sendErr)), "attempt": det.Attempts, "final": final}))
		if final {
			if _, err := p.Exchange.Confirm(ctx, p.Gateway, ex.ID, exchange.OutcomeRejected, "VXP: "+truncate(sendErr.Error(), 1500)); err != nil {
				return false, errors.Join(sendErr, err)
			}
		}
		return false, sendErr
	}
	det.VXPDocID, det.To, det.Last = docID, to, ""
	row.Status, row.Detail, row.UpdatedAt = OutSent, mustJSON(det), p.now()
	if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
		return true, err
	}
	p.addEvent(ctx, p.event(ex.ID, "gateway_sent", ex.Source, p.Gateway, map[string]any{"vxp_doc_id": docID, "to": to}))
	if _, err := p.Exchange.Confirm(ctx, p.Gateway, ex.ID, exchange.OutcomeReceived, "VXP DocId "+docID); err != nil {
		return true, err
	}
	return true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// fetchAll reads the whole content once so that the download is recorded.
func (p *Poller) fetchAll(ctx context.Context, id string) error {
	f, err := p.Exchange.Fetch(ctx, p.Gateway, id, 0, -1)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, f.Body)
	f.Close()
	return err
}

// send streams one exchange to the axis: a first read parses the packet
// for its To organ ids and kind, a second streams it into sendEdoc.
func (p *Poller) send(ctx context.Context, ex store.Exchange) (string, []string, error) {
	if _, err := p.Exchange.Ready(ctx, p.Gateway, ex.ID); err != nil {
		return "", nil, err
	}
	f, err := p.Exchange.Fetch(ctx, p.Gateway, ex.ID, 0, -1)
	if err != nil {
		return "", nil, err
	}
	pkt, err := edxml.Parse(f.Body, nil)
	f.Close()
	if err != nil {
		return "", nil, bus.ErrEDXMLInvalid.Wrap(err, "exchange %s is not an edXML packet: %v", ex.ID, err)
	}
	mt := MessageEdoc
	var to []string
	mh := &pkt.Envelope.Header.MessageHeader
	if pkt.Kind() == edxml.KindDocument {
		// Before sendEdoc: an answer cannot arrive before its reference.
		if err := p.rememberRefs(ctx, ex.ID, pkt); err != nil {
			return "", nil, err
		}
	}
	if pkt.Kind() == edxml.KindStatus {
		mt = MessageStatus
		for _, rf := range mh.ResponseFor {
			to = append(to, rf.OrganId)
		}
	} else {
		for _, t := range mh.To {
			if _, local := p.Organs[t.OrganId]; !local && t.OrganId != "" {
				to = append(to, t.OrganId)
			}
		}
	}
	if len(to) == 0 {
		return "", nil, bus.ErrEDXMLInvalid.New("exchange %s names no organ outside the province (To/OrganId) to send to on VXP", ex.ID)
	}
	sum, err := hex.DecodeString(f.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return "", nil, fmt.Errorf("exchange %s has no SHA-256", ex.ID)
	}
	f, err = p.Exchange.Fetch(ctx, p.Gateway, ex.ID, 0, -1)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	docID, err := p.Client.SendEdoc(ctx, SendRequest{From: p.organID(), To: to, MessageType: mt, SHA256: sum, Size: f.Size, Body: f.Body})
	metrics.GatewayCall(GatewayName, "push", err)
	return docID, to, err
}

// RefPrefix starts the DocID of reference rows (direction out, status
// OutRef); the rest is a SHA-256 of the identity, within the column size.
const RefPrefix = "ref:"

// RefKey returns the reference DocID of a document identity: kind "key"
// for a DocKey (issuer|number/notation|date), "id" for a DocumentId.
func RefKey(kind, value string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + value))
	return RefPrefix + kind + ":" + hex.EncodeToString(sum[:])
}

// docRefs are the reference keys of a document packet.
func docRefs(pkt *edxml.Packet) []string {
	var out []string
	k := pkt.Key()
	if k.OrganId != "" && k.Code != "" && k.Date != "" {
		out = append(out, RefKey("key", k.String()))
	}
	if id := strings.TrimSpace(pkt.Envelope.Header.MessageHeader.DocumentId); id != "" {
		out = append(out, RefKey("id", id))
	}
	return out
}

// responseRefs are the reference keys a ResponseFor points at, DocKey first.
func responseRefs(rf edxml.ResponseFor) []string {
	var out []string
	k := edxml.DocKey{OrganId: strings.TrimSpace(rf.OrganId), Code: strings.TrimSpace(rf.Code), Date: rf.PromulgationDate.DateString()}
	if k.OrganId != "" && k.Code != "" && k.Date != "" {
		out = append(out, RefKey("key", k.String()))
	}
	if id := strings.TrimSpace(rf.DocumentId); id != "" {
		out = append(out, RefKey("id", id))
	}
	return out
}

// rememberRefs maps the pushed document's identity to exID (a document
// pushed again from a later exchange: the latest push wins).
func (p *Poller) rememberRefs(ctx context.Context, exID string, pkt *edxml.Packet) error {
	for _, ref := range docRefs(pkt) {
		row, created, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayOut, DocID: ref, ExchangeID: exID, Status: OutRef, Detail: "{}", CreatedAt: p.now()})
		if err != nil {
			return err
		}
		if !created && row.ExchangeID != exID {
			row.ExchangeID, row.UpdatedAt = exID, p.now()
			if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
				return err
			}
		}
	}
	return nil
}

// matchStatus returns the exchange whose pushed document a status packet
// answers ("" when none).
func (p *Poller) matchStatus(ctx context.Context, pkt *edxml.Packet) (string, error) {
	for _, rf := range pkt.Envelope.Header.MessageHeader.ResponseFor {
		for _, ref := range responseRefs(rf) {
			row, err := p.Store.GetGatewayDoc(ctx, GatewayName, store.GatewayOut, ref)
			if errors.Is(err, bus.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", err
			}
			if row.ExchangeID != "" {
				return row.ExchangeID, nil
			}
		}
	}
	return "", nil
}

// PullStatus records every waiting status packet on the exchange it
// answers. It returns how many were recorded.
func (p *Poller) PullStatus(ctx context.Context) (int, error) {
	return p.pullEach(ctx, MessageStatus, "status packet", p.pullStatusOne)
}

func (p *Poller) pullStatusOne(ctx context.Context, docID, from string) (bool, error) {
	if docID == "" {
		return false, nil
	}
	row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayIn, DocID: docID, Status: InPulling, Detail: mustJSON(inDetail{From: from}), CreatedAt: p.now()})
	if err != nil {
		return false, err
	}
	var det inDetail
	_ = json.Unmarshal([]byte(row.Detail), &det)
	recorded := false
	if row.Status == InPulling {
		exID, rep, err := p.recordStatus(ctx, docID)
		if err != nil {
			var be *bus.Error
			if errors.As(err, &be) && be.Def.Status < 500 && !strings.HasPrefix(string(be.Def.Code), "gateway.") {
				// Not a status LGSP can place: report fail so that the
				// axis stops offering it.
				det.Reason = string(be.Def.Code) + ": " + be.Detail
				row.Status, row.ExchangeID, row.Detail, row.UpdatedAt = InRefused, exID, mustJSON(det), p.now()
				if uerr := p.Store.UpdateGatewayDoc(ctx, row); uerr != nil {
					return false, errors.Join(err, uerr)
				}
				if uerr := p.Client.UpdateStatus(ctx, docID, TransportFail); uerr != nil {
					return false, errors.Join(err, uerr)
				}
			}
			return false, err
		}
		row.Status, row.ExchangeID, row.Detail, row.UpdatedAt = InDelivered, exID, mustJSON(det), p.now()
		if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
			return false, err
		}
		p.addEvent(ctx, p.event(exID, "gateway_received", p.Gateway, p.Gateway, map[string]any{"doc_id": docID, "from": det.From, "message_type": MessageStatus, "status_code": rep.Code}))
		recorded = true
	}
	switch row.Status {
	case InRefused:
		return recorded, p.Client.UpdateStatus(ctx, docID, TransportFail)
	case InDelivered, InAcked:
		if err := p.Client.UpdateStatus(ctx, docID, TransportDone); err != nil {
			return recorded, fmt.Errorf("acknowledging: %w", err)
		}
		if row.Status != InAcked {
			row.Status, row.UpdatedAt = InAcked, p.now()
			if err := p.Store.UpdateGatewayDoc(ctx, row); err != nil {
				return recorded, err
			}
			p.addEvent(ctx, p.event(row.ExchangeID, "gateway_acked", p.Gateway, p.Gateway, map[string]any{"doc_id": docID, "transport_status": TransportDone}))
		}
	}
	return recorded, nil
}

// recordStatus reads one status packet from the axis and reports it on
// the exchange whose pushed document it answers, as the gateway system.
func (p *Poller) recordStatus(ctx context.Context, docID string) (string, *exchange.StatusReport, error) {
	// The packet's From is the remote agency: the axis vouches for it.
	ctx = exchange.AsGateway(ctx, p.Gateway)
	rc, err := p.Client.GetEdoc(ctx, docID)
	metrics.GatewayCall(GatewayName, "get", err)
	if err != nil {
		return "", nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(rc, exchange.MaxStatusBytes+1))
	rc.Close()
	if err != nil {
		var be *bus.Error
		if errors.As(err, &be) || errors.Is(err, bus.ErrGatewayUnreachable) || errors.Is(err, bus.ErrGatewayRefused) || errors.Is(err, bus.ErrGatewayBadReply) {
			return "", nil, err
		}
		return "", nil, bus.ErrEDXMLInvalid.Wrap(err, "vxp status %s: %v", docID, err)
	}
	if len(raw) > exchange.MaxStatusBytes {
		return "", nil, bus.ErrBodyTooLarge.New("vxp status %s: a status packet is limited to %d bytes", docID, exchange.MaxStatusBytes)
	}
	pkt, err := edxml.Parse(bytes.NewReader(raw), &edxml.Options{MaxAttachments: 1, MaxAttachmentBytes: 1})
	if err != nil {
		return "", nil, bus.ErrEDXMLInvalid.New("vxp status %s: %v", docID, err)
	}
	if pkt.Kind() != edxml.KindStatus {
		return "", nil, bus.ErrEDXMLInvalid.New("vxp status %s is not a status packet", docID)
	}
	exID, err := p.matchStatus(ctx, pkt)
	if err != nil {
		return "", nil, err
	}
	if exID == "" {
		var refs []string
		for _, rf := range pkt.Envelope.Header.MessageHeader.ResponseFor {
			refs = append(refs, strings.Trim(strings.Join([]string{rf.OrganId, rf.Code, rf.PromulgationDate.DateString(), rf.DocumentId}, " · "), " ·"))
		}
		return "", nil, bus.ErrExchangeNotFound.New("vxp status %s answers no document pushed by LGSP (ResponseFor %v)", docID, refs)
	}
	rep, err := p.Exchange.ReportStatus(ctx, p.Gateway, exID, bytes.NewReader(raw))
	if err != nil {
		return exID, nil, err
	}
	return exID, rep, nil
}
