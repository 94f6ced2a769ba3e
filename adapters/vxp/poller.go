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

// Poller moves packets between VXP and the province's exchange. Its
// scheduled runs only list and queue (Pull, Push, PullStatus); every
// packet then moves as an item of the delivery engine (bus/delivery), one
// of three registered kinds (Kinds), so that failures are retried with
// the one retry policy, end as dead letters, and show in
// `lgsp deliveries list` and /admin/v1/deliveries like any delivery:
//
//   - vxp_pull (Pull, PullStatus): a packet waiting on the axis
//     (getReceivedEdocList). A document packet becomes an exchange from the
//     VXP gateway system (Gateway) to the systems its To organ ids map to
//     (Organs), with the .edxml as application/xml. A status packet (a
//     remote agency's answer — 03 đã tiếp nhận, 05 …) is matched by its
//     ResponseFor to the exchange whose document was pushed, and recorded
//     on it as the gateway system's status report (exchange.ReportStatus:
//     a `status` ledger event for the gateway recipient, which
//     getSentEdocList shows the sender). A packet LGSP refuses for good
//     (route step, not a status LGSP can place) is refused: its item is
//     dead with the reason, and the axis is told fail. The VXP document
//     id is remembered in the store (gateway row), so a packet taken again
//     after a crash is not delivered twice.
//   - vxp_status: what follows a pulled packet on the axis — a status
//     packet 01 ("đã đến") back to the sender of an accepted document
//     (sendEdoc, messagetype status), then updateStatus done (or fail for
//     a refused packet).
//   - vxp_push (Push): an exchange addressed to the gateway system is
//     fetched and sent to the axis (sendEdoc) to the organ ids of its To
//     elements that are not the province's own (not in Organs), then
//     confirmed; once the retries are exhausted the exchange is rejected
//     for the gateway with the reason. The pushed document's edXML
//     identity (DocKey, DocumentId) is remembered.
//
// The idempotency key (delivery.Key) of vxp_pull and vxp_status items is
// the VXP document id, of vxp_push items the exchange id; the axis gets
// the same bytes on every attempt (docs/gateways.md says what it sees
// after a crash).
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
	// Retry is the retry policy of the three kinds (bus.DefaultRetry if
	// zero).
	Retry bus.RetryPolicy
	// Wake asks the delivery engine to claim now (items were queued);
	// optional.
	Wake func()
	Now  func() time.Time
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

// Poll queues what Pull, Push then PullStatus find and joins their errors.
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

// Pull lists the document packets waiting on the axis and queues each
// one not queued before as a vxp_pull delivery (the engine makes the
// exchange, then vxp_status reports 01 and acknowledges). It returns how
// many were queued.
func (p *Poller) Pull(ctx context.Context) (int, error) {
	return p.listIn(ctx, MessageEdoc)
}

// PullStatus lists the status packets waiting on the axis and queues each
// one not queued before as a vxp_pull delivery (recorded on the exchange
// it answers, then acknowledged by vxp_status). It returns how many were
// queued.
func (p *Poller) PullStatus(ctx context.Context) (int, error) {
	return p.listIn(ctx, MessageStatus)
}

// listIn queues the waiting packets of one message type.
func (p *Poller) listIn(ctx context.Context, messageType string) (int, error) {
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
		queued, err := p.queueIn(ctx, string(it.DocID), string(it.From), messageType)
		if err != nil {
			p.log().WithError(err).WithField("doc_id", string(it.DocID)).Warn("queueing a VXP packet")
			errs = append(errs, fmt.Errorf("vxp %s %s: %w", messageType, it.DocID, err))
		}
		if queued {
			n++
		}
	}
	if n > 0 {
		p.wake()
	}
	return n, errors.Join(errs...)
}

// queueIn remembers a listed packet (its gateway row) and queues its
// vxp_pull item once (queueOnce).
func (p *Poller) queueIn(ctx context.Context, docID, from, messageType string) (bool, error) {
	if docID == "" {
		return false, nil
	}
	return p.queueOnce(ctx, store.GatewayIn, docID, func() error {
		row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayIn, DocID: docID, Status: InPulling, Detail: mustJSON(inDetail{From: from}), CreatedAt: p.now()})
		if err != nil {
			return err
		}
		var det inDetail
		_ = json.Unmarshal([]byte(row.Detail), &det)
		if det.From == "" {
			det.From = from
		}
		return p.enqueue(ctx, KindPull, "", itemPayload{Key: docID, DocID: docID, From: det.From, MessageType: messageType})
	})
}

// QueuedPrefix starts the DocID of marker rows (status "queued"): the
// outbox item of the packet or exchange named by the rest is stored. A
// marker row of its own, created after the item, never overwrites the
// row the item's deliveries move on; a crash between the two queues the
// item again, and the second item finds the row further on (or, if both
// run at once, the axis sees the same packet again: same key).
const QueuedPrefix = "queued:"

// errSkip tells queueOnce that there is nothing to queue.
var errSkip = errors.New("nothing to queue")

// queueOnce runs enqueue unless the marker row of docID says it ran (one
// read for a packet or exchange seen before), then writes the marker.
func (p *Poller) queueOnce(ctx context.Context, dir, docID string, enqueue func() error) (bool, error) {
	_, err := p.Store.GetGatewayDoc(ctx, GatewayName, dir, QueuedPrefix+docID)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, bus.ErrNotFound) {
		return false, err
	}
	if err := enqueue(); errors.Is(err, errSkip) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, _, err = p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: dir, DocID: QueuedPrefix + docID, Status: "queued", Detail: "{}", CreatedAt: p.now()})
	return true, err
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
	VXPDocID string   `json:"vxp_doc_id,omitempty"`
	To       []string `json:"to,omitempty"`
	Last     string   `json:"last_error,omitempty"`
}

// Push queues every exchange addressed to the gateway system, not queued
// before, as a vxp_push delivery. It returns how many were queued.
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
		queued, err := p.queueOut(ctx, it.Exchange)
		if err != nil {
			p.log().WithError(err).WithField("exchange", it.Exchange.ID).Warn("queueing a VXP push")
			errs = append(errs, fmt.Errorf("exchange %s: %w", it.Exchange.ID, err))
		}
		if queued {
			n++
		}
	}
	if n > 0 {
		p.wake()
	}
	return n, errors.Join(errs...)
}

// queueOut queues the push of ex once (queueOnce).
func (p *Poller) queueOut(ctx context.Context, ex store.Exchange) (bool, error) {
	return p.queueOnce(ctx, store.GatewayOut, ex.ID, func() error {
		row, _, err := p.Store.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: GatewayName, Direction: store.GatewayOut, DocID: ex.ID, ExchangeID: ex.ID, Status: OutSending, Detail: "{}", CreatedAt: p.now()})
		if err != nil {
			return err
		}
		if row.Status == OutFailed {
			return errSkip
		}
		return p.enqueue(ctx, KindPush, ex.ID, itemPayload{Key: ex.ID})
	})
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
