package vxp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// EndpointPath is where LGSP serves the axis' wire protocol to systems
// that embed the vendor SDK: POST /vxp/<operation>.
const EndpointPath = "/vxp/"

// EndpointConfig is the `gateways.vxp_endpoint` section; without it the
// endpoint is off.
type EndpointConfig struct {
	// Window bounds how far the signed timestamp may be from the clock
	// (default 15m). The SDK freezes its timestamp when its object is
	// built, so reused objects need the window.
	Window time.Duration `yaml:"window"`
	// MaxBody bounds a sendEdoc body (default 32 MiB).
	MaxBody int64 `yaml:"max_body"`
	// DataType of the exchanges sendEdoc opens (default edxml, as the
	// QLVB SOAP service).
	DataType string `yaml:"data_type"`
}

const (
	// gateway_docs rows of the endpoint (gateway column; direction "in"
	// for what callers received, "out" for what they sent):
	gwRef         = "vxpe/ref/" // + system: DocID = RefKey of a document it received → its exchange
	gwSent        = "vxpe/sent" // DocID = exchange id → the ResponseFor of its status packets
	gwStatusAck   = "vxpe/ack/" // + system: DocID = status doc id it acknowledged
	gwSig         = "vxpe/sig"  // DocID = signature key; Detail = request fingerprint; ExchangeID = sendEdoc's DocId
	maxSharedKeys = 3           // rotation overlap: keys tried per call
)

func init() {
	service.RegisterModule(service.Module{Name: "vxp-endpoint", Provision: provisionEndpoint})
}

func provisionEndpoint(h *service.Host) error {
	n, ok := h.Config.Gateways["vxp_endpoint"]
	if !ok {
		return nil
	}
	var c EndpointConfig
	if err := n.Decode(&c); err != nil {
		return fmt.Errorf("gateways.vxp_endpoint: %w", err)
	}
	e, err := NewEndpoint(h, c)
	if err != nil {
		return err
	}
	h.Handle(EndpointPath, e)
	h.Go(e.purgeSignatures)
	return nil
}

// purgeSignatures forgets, every minute, the signatures older than twice
// the window: a signature can only be used within the window.
func (e *Endpoint) purgeSignatures(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := e.st.PurgeGatewayDocs(ctx, gwSig, e.clock().Add(-2*e.cfg.Window)); err != nil && e.h.Log != nil {
				e.h.Log.WithError(err).Warn("vxp endpoint: purging old signatures")
			}
		}
	}
}

// NewEndpoint returns the drop-in endpoint of the axis protocol on h.
func NewEndpoint(h *service.Host, c EndpointConfig) (*Endpoint, error) {
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 32 << 20
	}
	if c.DataType == "" {
		c.DataType = "edxml"
	}
	if h.Vault == nil || h.Verifier == nil || h.Exchange == nil {
		return nil, fmt.Errorf("vxp endpoint: the node has no vault, verifier or exchange service")
	}
	return &Endpoint{h: h, st: h.Store, cfg: c}, nil
}

// ParseEndpointConfig decodes a section (for tests and tools).
func ParseEndpointConfig(n *yaml.Node) (EndpointConfig, error) {
	var c EndpointConfig
	return c, n.Decode(&c)
}

// Endpoint serves the axis protocol (see docs/gateways.md, "Connecting a
// system that uses the national axis SDK").
//
// Every signature is remembered in the store (gateway_docs, gateway
// "vxpe/sig"), shared by all nodes on one database: a second call with the
// same signature, on any node, is accepted only as a byte-identical retry
// (same operation, signed JSON and body), and a retried sendEdoc answers
// the first call's DocId. The store's auth.NonceCache cannot hold this: it
// only says whether a key was new, and comparing the fingerprint needs the
// first call's row.
type Endpoint struct {
	h   *service.Host
	st  EndpointStore // the store, seen through what the endpoint needs
	cfg EndpointConfig
	now func() time.Time
}

// caller is an authenticated SDK call.
type caller struct {
	sys    store.System
	hdr    map[string]string // signed logical headers
	hash   string            // XroadVnpt-hash-header
	signed string            // XroadVnpt-sign-header
}

func (e *Endpoint) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// ServeHTTP authenticates from the headers, admits the request, reads
// the body within the limit and runs the operation; every answer is the
// axis' JSON envelope, refusals with our code in ErrorDesc and
// X-LGSP-Error-Code.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, EndpointPath)
	get := r.Method == http.MethodGet && (op == "countReceiveEdoc" || op == "countReceiveStatus")
	if r.Method != http.MethodPost && !get {
		e.fail(w, bus.ErrBadRequest.New("use POST"))
		return
	}
	do, ok := e.ops()[op]
	if !ok {
		e.fail(w, bus.ErrNotFound.New("no operation %q", bus.ShowCode(op)))
		return
	}
	c, err := e.authenticate(r)
	if err != nil {
		e.fail(w, err)
		return
	}
	if err := service.Admit(r.Context()); err != nil {
		e.fail(w, err)
		return
	}
	body, err := e.readBody(w, r, op)
	if err != nil {
		e.fail(w, err)
		return
	}
	sig, retryOf, err := e.checkReplay(r.Context(), c, op, body)
	if err != nil {
		e.fail(w, err)
		return
	}
	if retryOf != "" {
		writeAnswer(w, okAnswer(map[string]any{"DocId": retryOf}))
		return
	}
	a, err := do(r.Context(), c, body)
	// A refused call may be retried with the same signature; a sendEdoc
	// retry answers the DocId recorded here.
	sig.Status, sig.UpdatedAt = sigDone, e.clock()
	if err != nil {
		sig.Status = sigFailed
	}
	sig.ExchangeID, _ = a["DocId"].(string)
	if uerr := e.st.UpdateGatewayDoc(context.WithoutCancel(r.Context()), sig); uerr != nil && e.h.Log != nil {
		e.h.Log.WithError(uerr).Warn("vxp endpoint: recording the outcome of a signature")
	}
	if err != nil {
		e.fail(w, err)
		return
	}
	writeAnswer(w, okAnswer(a))
}

type opFunc func(ctx context.Context, c *caller, body []byte) (map[string]any, error)

func (e *Endpoint) ops() map[string]opFunc {
	return map[string]opFunc{
		"sendEdoc": e.sendEdoc, "getReceivedEdocList": e.receivedList, "getEdoc": e.getEdoc,
		"updateStatus": e.updateStatus, "getSentEdocList": e.sentList, "getAgenciesList": e.agencies,
		"countReceiveEdoc":   e.count(MessageEdoc),
		"countReceiveStatus": e.count(MessageStatus),
	}
}

// authenticate finds the system by XroadVnpt-systemid and checks the
// HMAC with its active shared keys (at most maxSharedKeys, newest first:
// the overlap of a rotation), through auth.SharedSecret and
// auth.KeyStanding, under the lockout per (system, address).
func (e *Endpoint) authenticate(r *http.Request) (*caller, error) {
	ctx := r.Context()
	sysID := r.Header.Get(HeaderPrefix + "systemid")
	if sysID == "" || r.Header.Get("XroadVnpt-hash-header") == "" {
		return nil, bus.ErrAuthMissing.New("send XroadVnpt-systemid, -sign-header-key, -sign-header and -hash-header")
	}
	if len(sysID) > 64 {
		return nil, bus.ErrAuthMalformed.New("XroadVnpt-systemid is too long")
	}
	v := e.h.Verifier
	lockKey := "vxp:" + sysID
	if v.Limits != nil {
		if err := v.Limits.CheckLocked(lockKey, r.RemoteAddr); err != nil {
			return nil, err
		}
	}
	keys, err := e.st.ListKeys(ctx, sysID)
	if err != nil {
		return nil, bus.ErrUnavailable.Wrap(err, "reading keys")
	}
	var shared, other []store.Key
	for _, k := range keys {
		if k.Status != store.KeyActive || !k.RevokedAt.IsZero() {
			continue
		}
		if auth.IsShared(k) {
			shared = append(shared, k)
		} else {
			other = append(other, k)
		}
	}
	if len(shared) == 0 {
		if len(other) > 0 {
			// auth.SharedSecret refuses a public key with auth.key_kind.
			_, err := auth.SharedSecret(e.h.Vault, other[0])
			if err == nil {
				err = bus.ErrAuthKeyKind.New("system %s has no shared secret", sysID)
			}
			return nil, err
		}
		return nil, bus.ErrAuthUnknownKey.New("no active key of system %s", bus.ShowCode(sysID))
	}
	sort.Slice(shared, func(i, j int) bool { return shared[i].CreatedAt.After(shared[j].CreatedAt) })
	if len(shared) > maxSharedKeys {
		shared = shared[:maxSharedKeys]
	}
	var key *store.Key
	var hdr map[string]string
	for i := range shared {
		secret, err := auth.SharedSecret(e.h.Vault, shared[i])
		if err != nil {
			return nil, err
		}
		h, verr := VerifyRequest(r.Header, string(secret))
		clear(secret)
		if verr == nil {
			key, hdr = &shared[i], h
			break
		}
	}
	if key == nil {
		if v.Limits != nil {
			v.Limits.Failure(ctx, lockKey, sysID, r.RemoteAddr)
		}
		return nil, bus.ErrAuthBadSignature.New("XroadVnpt-hash-header does not match the signed headers under the system's secret")
	}
	if hdr["systemid"] != sysID {
		return nil, bus.ErrAuthMalformed.New("systemid must be signed")
	}
	now := e.clock()
	sys, err := auth.KeyStanding(ctx, v.Keys, *key, now)
	if err != nil {
		return nil, err
	}
	if err := checkWindow(hdr["timestamp"], now, e.cfg.Window); err != nil {
		return nil, err
	}
	if v.Limits != nil {
		if err := v.Limits.Allow(key.AccessKey); err != nil {
			return nil, err
		}
	}
	e.h.Observe(sys.Code) // traffic_anomaly counts VXP calls too (M3)
	return &caller{sys: sys, hdr: hdr, hash: strings.ToLower(r.Header.Get("XroadVnpt-hash-header")), signed: r.Header.Get("XroadVnpt-sign-header")}, nil
}

// ParseTimestamp reads the SDK's timestamp ("ddMMyyyy'T'HHmmss+SSSS",
// local time of Viet Nam, "+SSSS" the milliseconds).
func ParseTimestamp(ts string) (time.Time, error) {
	main, ms, ok := strings.Cut(ts, "+")
	t, err := time.ParseInLocation("02012006T150405", main, hcm)
	if !ok || err != nil || len(ms) != 4 {
		return time.Time{}, bus.ErrAuthMalformed.New("the signed timestamp is not ddMMyyyyTHHmmss+SSSS")
	}
	var n int
	if _, err := fmt.Sscanf(ms, "%04d", &n); err != nil {
		return time.Time{}, bus.ErrAuthMalformed.New("the signed timestamp is not ddMMyyyyTHHmmss+SSSS")
	}
	return t.Add(time.Duration(n) * time.Millisecond), nil
}

func checkWindow(ts string, now time.Time, window time.Duration) error {
	t, err := ParseTimestamp(ts)
	if err != nil {
		return err
	}
	if d := now.Sub(t); d > window || d < -window {
		return bus.ErrAuthClockSkew.New("the signed timestamp is %s from the platform's clock (window %s)", d.Round(time.Second), window)
	}
	return nil
}

// States of a signature's row.
const (
	sigRunning = "running"
	sigDone    = "done"
	sigFailed  = "failed"
)

// checkReplay records the signature in the store, or finds it there: a
// signature seen within the window is accepted again only if the
// operation, the signed JSON and the body are byte-identical (the SDK
// retries, and a reused SDK object repeats its calls with a frozen
// timestamp). A retried sendEdoc returns the first DocId, never a second
// exchange — on whichever node the first call ran. It returns the row to
// record the outcome in, or the DocId to answer at once.
func (e *Endpoint) checkReplay(ctx context.Context, c *caller, op string, body []byte) (store.GatewayDoc, string, error) {
	fp := sha256.New()
	fmt.Fprintf(fp, "%s\x00%s\x00", op, c.signed)
	fp.Write(body)
	key := sha256.Sum256([]byte(c.sys.Code + "\x00" + c.signed + "\x00" + c.hash))
	now := e.clock()
	row := store.GatewayDoc{Gateway: gwSig, Direction: store.GatewayIn, DocID: hex.EncodeToString(key[:]),
		Status: sigRunning, Detail: hex.EncodeToString(fp.Sum(nil)), CreatedAt: now, UpdatedAt: now}
	got, created, err := e.st.ClaimGatewayDoc(ctx, row)
	if err != nil {
		return row, "", bus.ErrUnavailable.Wrap(err, "recording the signature")
	}
	if created {
		return row, "", nil
	}
	if !hmac.Equal([]byte(got.Detail), []byte(row.Detail)) {
		return row, "", bus.ErrAuthReplay.New("this signature was already used for another request within the window")
	}
	if op != "sendEdoc" {
		return row, "", nil // a repeated read or acknowledgement runs again
	}
	switch got.Status {
	case sigDone:
		return row, got.ExchangeID, nil
	case sigFailed:
		return row, "", nil // the first call was refused: run again
	}
	return row, "", bus.ErrBusy.New("the first call with this signature is still running")
}

// readBody reads the body within the limits: sendEdoc up to MaxBody,
// the others a few bytes ({} or nothing).
func (e *Endpoint) readBody(w http.ResponseWriter, r *http.Request, op string) ([]byte, error) {
	limit := int64(64)
	if op == "sendEdoc" {
		limit = e.cfg.MaxBody + 2 // the SDK's CRLF
	}
	if r.ContentLength > limit {
		return nil, bus.ErrBodyTooLarge.New("%s bodies are limited to %d bytes", op, limit)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		var be *bus.Error
		switch {
		case errors.As(err, &mbe):
			return nil, bus.ErrBodyTooLarge.New("%s bodies are limited to %d bytes", op, limit)
		case errors.As(err, &be):
			return nil, be
		}
		return nil, bus.ErrBadRequest.New("reading the request body failed")
	}
	return b.Bytes(), nil
}

// answer shapes of the axis.

func okAnswer(extra map[string]any) map[string]any {
	a := map[string]any{"status": "OK", "ErrorCode": "0", "ErrorDesc": "Success"}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func writeAnswer(w http.ResponseWriter, a map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(a)
}

// fail answers {status FAIL, ErrorCode = the HTTP status, ErrorDesc =
// "<our code>: <message>: <detail>"} with that HTTP status and our code in
// X-LGSP-Error-Code.
func (e *Endpoint) fail(w http.ResponseWriter, err error) {
	be := bus.AsError(err)
	desc := string(be.Def.Code) + ": " + be.Def.VI + " (" + be.Def.EN + ")"
	if be.Detail != "" {
		desc += ": " + be.Detail
	}
	if be.Def.Status >= 500 && e.h.Log != nil {
		e.h.Log.WithField("code", be.Def.Code).WithError(err).Warn("vxp endpoint")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-LGSP-Error-Code", string(be.Def.Code))
	if be.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(be.RetryAfter))
	}
	w.WriteHeader(be.Def.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "FAIL", "ErrorCode": fmt.Sprint(be.Def.Status), "ErrorDesc": desc})
}

// sendEdoc takes the raw file (then the SDK's CRLF), checks hash-file,
// and opens an exchange for a document packet — recipients are the
// signed "to" or the packet's To organ ids — or records a status packet
// on the exchange it answers.
func (e *Endpoint) sendEdoc(ctx context.Context, c *caller, body []byte) (map[string]any, error) {
	file, err := fileOf(body, c.hdr["hash-file"])
	if err != nil {
		return nil, err
	}
	if from, ok := c.hdr["from"]; ok && from != c.sys.Code {
		if err := e.h.Exchange.CheckSender(ctx, c.sys.Code, from); err != nil {
			return nil, err
		}
	}
	pkt, err := edxml.Parse(bytes.NewReader(file), nil)
	if err != nil {
		return nil, edxml.ParseFailure(err)
	}
	if pkt.Kind() == edxml.KindStatus {
		return e.sendStatus(ctx, c, pkt, file)
	}
	mh := pkt.Envelope.Header.MessageHeader
	if mh.From == nil || strings.TrimSpace(mh.From.OrganId) == "" {
		return nil, bus.ErrEDXMLInvalid.New("the packet names no sender (MessageHeader/From/OrganId)")
	}
	if err := e.h.Exchange.CheckSender(ctx, c.sys.Code, mh.From.OrganId); err != nil {
		return nil, err
	}
	var recips []string
	if t, ok := c.hdr["to"]; ok && t != "" {
		if err := json.Unmarshal([]byte(t), &recips); err != nil {
			return nil, bus.ErrBadRequest.New("the signed \"to\" is not a JSON array of codes")
		}
	} else {
		for _, to := range mh.To {
			recips = append(recips, to.OrganId)
		}
	}
	recips = uniqCodes(recips)
	if len(recips) == 0 {
		return nil, bus.ErrExchangeInvalid.New("the packet names no recipient (MessageHeader/To/OrganId) and no \"to\" was signed")
	}
	sum := sha256.Sum256(file)
	ex := e.h.Exchange
	sp, err := ex.Submit(ctx, c.sys.Code, exchange.Request{Recipients: recips, Title: strings.TrimSpace(mh.Subject),
		DataType: e.cfg.DataType, MediaType: "application/xml", Size: int64(len(file)), SHA256: hex.EncodeToString(sum[:])},
		file, exchange.CompleteRequest{Parsed: &exchange.ParsedDoc{SHA256: hex.EncodeToString(sum[:]), Refs: pkt.Refs()}})
	if err != nil {
		return nil, err
	}
	// What the status packets coming back must answer (metadata only).
	if st, err := edxml.StatusFor(pkt, edxml.StatusArrived, edxml.Organization{}, e.clock(), ""); err == nil {
		rf := st.Envelope.Header.MessageHeader.ResponseFor[0]
		ref := sentRef{OrganId: rf.OrganId, Code: rf.Code, DocumentId: rf.DocumentId}
		if !rf.PromulgationDate.Time.IsZero() {
			ref.Date = rf.PromulgationDate.Time.Format(time.DateOnly)
		}
		detail, _ := json.Marshal(ref)
		_, _, err = e.st.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: gwSent, Direction: store.GatewayOut, DocID: sp.ID,
			ExchangeID: sp.ID, Status: "sent", Detail: string(detail), CreatedAt: e.clock(), UpdatedAt: e.clock()})
		if err != nil && e.h.Log != nil {
			e.h.Log.WithError(err).Warn("vxp endpoint: status packets of this exchange will name no document")
		}
	}
	return map[string]any{"DocId": sp.ID}, nil
}

// sentRef is what a status packet answering a sent document names
// (ResponseFor), kept in gateway_docs: metadata, never payload.
type sentRef struct {
	OrganId, Code, Date, DocumentId string
}

// fileOf strips the SDK's CRLF after the file when hash-file says so.
func fileOf(body []byte, hashFile string) ([]byte, error) {
	if len(body) == 0 {
		return nil, bus.ErrBadRequest.New("sendEdoc has no body")
	}
	for _, f := range [][]byte{body, bytes.TrimSuffix(body, []byte(crlf))} {
		sum := sha256.Sum256(f)
		if hmac.Equal([]byte(HashFile(sum[:])), []byte(strings.ToLower(hashFile))) {
			return f, nil
		}
	}
	return nil, bus.ErrHashMismatch.New("XroadVnpt-hash-file is not the SHA-256 of the body")
}

// sendStatus records a status packet of a document this caller received
// through the endpoint: its ResponseFor/DocumentId names the exchange.
func (e *Endpoint) sendStatus(ctx context.Context, c *caller, pkt *edxml.Packet, file []byte) (map[string]any, error) {
	var exID string
	for _, rf := range pkt.Envelope.Header.MessageHeader.ResponseFor {
		if rf.DocumentId == "" {
			continue
		}
		d, err := e.st.GetGatewayDoc(ctx, gwRef+c.sys.Code, store.GatewayIn, RefKey("id", rf.DocumentId))
		if err == nil {
			exID = d.ExchangeID
			break
		}
	}
	if exID == "" {
		return nil, bus.ErrExchangeNotFound.New("the status packet answers no document this system received (ResponseFor/DocumentId)")
	}
	if _, err := e.h.Exchange.ReportStatus(ctx, c.sys.Code, exID, bytes.NewReader(file)); err != nil {
		return nil, err
	}
	return map[string]any{"DocId": exID}, nil
}

// statusID names one status event of an exchange as an axis docId.
func statusID(exID string, ev int64) string { return fmt.Sprintf("%s.st%d", exID, ev) }

func parseStatusID(id string) (string, int64, bool) {
	i := strings.LastIndex(id, ".st")
	if i < 0 {
		return "", 0, false
	}
	var n int64
	if _, err := fmt.Sscanf(id[i+3:], "%d", &n); err != nil {
		return "", 0, false
	}
	return id[:i], n, true
}

const timeFmt = "2006-01-02 15:04:05"

// receivedList: documents due for the caller (messagetype edoc), or the
// status packets reported on the exchanges it sent and not yet
// acknowledged (messagetype status).
func (e *Endpoint) receivedList(ctx context.Context, c *caller, _ []byte) (map[string]any, error) {
	data, err := e.received(ctx, c.sys.Code, c.hdr["messagetype"])
	if err != nil {
		return nil, err
	}
	return map[string]any{"data": data}, nil
}

func (e *Endpoint) received(ctx context.Context, sys, mt string) ([]map[string]any, error) {
	data := []map[string]any{}
	if mt != MessageStatus {
		items, err := e.h.Exchange.Inbox(ctx, sys)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			x := it.Exchange
			data = append(data, map[string]any{"docId": x.ID, "serviceType": ServiceEDoc, "messageType": MessageEdoc,
				"created_time": x.CreatedAt.In(hcm).Format(timeFmt), "updated_time": x.UpdatedAt.In(hcm).Format(timeFmt),
				"from": x.Source, "to": sys, "status": it.Recipient.Status, "status_desc": it.Recipient.Status})
		}
		return data, nil
	}
	sent, err := e.h.Exchange.Sent(ctx, sys, 200)
	if err != nil {
		return nil, err
	}
	for _, x := range sent {
		st, err := e.h.Exchange.Status(ctx, sys, x.ID)
		if err != nil {
			return nil, err
		}
		for _, ev := range st.Ledger {
			if ev.Kind != "status" {
				continue
			}
			id := statusID(x.ID, ev.ID)
			if _, err := e.st.GetGatewayDoc(ctx, gwStatusAck+sys, store.GatewayIn, id); err == nil {
				continue
			}
			data = append(data, map[string]any{"docId": id, "serviceType": ServiceEDoc, "messageType": MessageStatus,
				"created_time": ev.At.In(hcm).Format(timeFmt), "updated_time": ev.At.In(hcm).Format(timeFmt),
				"from": ev.Actor, "to": sys, "status": "inbox", "status_desc": "inbox"})
		}
	}
	return data, nil
}

func (e *Endpoint) count(mt string) opFunc {
	return func(ctx context.Context, c *caller, _ []byte) (map[string]any, error) {
		data, err := e.received(ctx, c.sys.Code, mt)
		if err != nil {
			return nil, err
		}
		return map[string]any{"count": len(data)}, nil
	}
}

// getEdoc returns a document packet (Ready + Fetch, inline base64) or a
// status packet rebuilt from its ledger event.
func (e *Endpoint) getEdoc(ctx context.Context, c *caller, _ []byte) (map[string]any, error) {
	id := c.hdr["docId"]
	if id == "" {
		id = c.hdr["docid"]
	}
	if id == "" {
		return nil, bus.ErrBadRequest.New("docId is required")
	}
	if exID, ev, ok := parseStatusID(id); ok {
		raw, err := e.statusPacket(ctx, c.sys.Code, exID, ev)
		if err != nil {
			return nil, err
		}
		return map[string]any{"data": base64.StdEncoding.EncodeToString(raw)}, nil
	}
	ex := e.h.Exchange
	d, err := ex.Ready(ctx, c.sys.Code, id)
	if err != nil {
		return nil, err
	}
	if d.Size > e.cfg.MaxBody {
		return nil, bus.ErrBodyTooLarge.New("%s has %d bytes; getEdoc returns up to %d: use the REST API", id, d.Size, e.cfg.MaxBody)
	}
	f, err := ex.Fetch(ctx, c.sys.Code, id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f.Body, e.cfg.MaxBody+1))
	if err != nil {
		return nil, err
	}
	// Remember the document's identity so that the caller's status
	// packets (sendEdoc messagetype=status) find this exchange.
	if pkt, err := edxml.Parse(bytes.NewReader(raw), nil); err == nil {
		if docID := strings.TrimSpace(pkt.Envelope.Header.MessageHeader.DocumentId); docID != "" {
			_, _, _ = e.st.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: gwRef + c.sys.Code, Direction: store.GatewayIn,
				DocID: RefKey("id", docID), ExchangeID: id, Status: "received", CreatedAt: e.clock(), UpdatedAt: e.clock()})
		}
	}
	return map[string]any{"data": base64.StdEncoding.EncodeToString(raw)}, nil
}

// statusPacket rebuilds the status packet of ledger event ev of exchange
// exID (sent by sys) from the event (code, description, reporting organ)
// and the identity of the document recorded when it was sent.
func (e *Endpoint) statusPacket(ctx context.Context, sys, exID string, ev int64) ([]byte, error) {
	st, err := e.h.Exchange.Status(ctx, sys, exID)
	if err != nil {
		return nil, err
	}
	if st.Exchange.Source != sys {
		return nil, bus.ErrExchangeNotFound.New("%s was not sent by %s", exID, sys)
	}
	for _, x := range st.Ledger {
		if x.ID != ev || x.Kind != "status" {
			continue
		}
		var d struct{ Code, Description, By string }
		_ = json.Unmarshal([]byte(x.Detail), &d)
		var rf edxml.ResponseFor
		if g, err := e.st.GetGatewayDoc(ctx, gwSent, store.GatewayOut, exID); err == nil {
			var ref sentRef
			_ = json.Unmarshal([]byte(g.Detail), &ref)
			rf = edxml.ResponseFor{OrganId: ref.OrganId, Code: ref.Code, DocumentId: ref.DocumentId}
			if t, err := time.ParseInLocation(time.DateOnly, ref.Date, hcm); err == nil {
				rf.PromulgationDate = edxml.NewDate(t)
			}
		}
		p := &edxml.Packet{}
		p.Envelope.Header.MessageHeader = edxml.MessageHeader{From: &edxml.Organization{OrganId: d.By},
			ResponseFor: []edxml.ResponseFor{rf}, StatusCode: d.Code, Description: d.Description, Timestamp: edxml.NewDateTime(x.At)}
		var b bytes.Buffer
		if err := edxml.Build(&b, p); err != nil {
			return nil, bus.ErrInternal.Wrap(err, "building a status packet")
		}
		return b.Bytes(), nil
	}
	return nil, bus.ErrExchangeNotFound.New("no status %d on %s", ev, exID)
}

// updateStatus: "done" confirms a downloaded document (or acknowledges a
// status packet), "fail" rejects the document.
func (e *Endpoint) updateStatus(ctx context.Context, c *caller, _ []byte) (map[string]any, error) {
	id := c.hdr["docid"]
	if id == "" {
		id = c.hdr["docId"]
	}
	status := c.hdr["status"]
	if id == "" || (status != TransportDone && status != TransportFail) {
		return nil, bus.ErrBadRequest.New("docid and status (done or fail) are required")
	}
	if exID, ev, ok := parseStatusID(id); ok {
		if _, err := e.statusPacket(ctx, c.sys.Code, exID, ev); err != nil {
			return nil, err
		}
		_, _, err := e.st.ClaimGatewayDoc(ctx, store.GatewayDoc{Gateway: gwStatusAck + c.sys.Code, Direction: store.GatewayIn,
			DocID: id, ExchangeID: exID, Status: status, CreatedAt: e.clock(), UpdatedAt: e.clock()})
		return nil, err
	}
	outcome := exchange.OutcomeReceived
	if status == TransportFail {
		outcome = exchange.OutcomeRejected
	}
	if _, err := e.h.Exchange.Confirm(ctx, c.sys.Code, id, outcome, "vxp updateStatus "+status); err != nil {
		return nil, err
	}
	return nil, nil
}

// sentList lists the caller's sent exchanges per recipient.
func (e *Endpoint) sentList(ctx context.Context, c *caller, _ []byte) (map[string]any, error) {
	list, err := e.h.Exchange.Sent(ctx, c.sys.Code, 200)
	if err != nil {
		return nil, err
	}
	data := []map[string]any{}
	for _, x := range list {
		for _, r := range x.Recipients {
			data = append(data, map[string]any{"senderDocId": x.ID, "receiverDocId": x.ID, "fromCode": x.Source, "toCode": r.Code,
				"title": x.Title, "notation": "", "messageType": MessageEdoc, "serviceType": ServiceEDoc,
				"sentTime": x.CreatedAt.In(hcm).Format(timeFmt), "receivedTime": "", "sendStatus": x.Status, "sendStatusDesc": x.Status,
				"receiveStatus": r.Status, "receiveStatusDesc": r.Status})
		}
	}
	return map[string]any{"data": data}, nil
}

// agencies lists the active registered systems.
func (e *Endpoint) agencies(ctx context.Context, _ *caller, _ []byte) (map[string]any, error) {
	systems, err := e.h.Registry.List(ctx)
	if err != nil {
		return nil, err
	}
	data := []map[string]any{}
	for i, s := range systems {
		if s.Status == store.SystemActive {
			data = append(data, map[string]any{"id": i + 1, "code": s.Code, "pid": "", "name": s.Name, "mail": "", "oldCode": ""})
		}
	}
	return map[string]any{"data": data}, nil
}

func uniqCodes(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
