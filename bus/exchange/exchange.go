package exchange

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// Config holds the exchange settings; zero fields take the defaults.
type Config struct {
	// ChunkSize is the plaintext size of one stored chunk (default 256 KiB).
	ChunkSize int `yaml:"chunk_size"`
	// MaxRecipients bounds the recipients of one request (default 200).
	MaxRecipients int `yaml:"max_recipients"`
	// ConnectTTL is how long an F1 session id stays valid (default 1h).
	ConnectTTL time.Duration `yaml:"connect_ttl"`
	// InboxLimit bounds the items returned by one inbox call (default 500).
	InboxLimit int `yaml:"inbox_limit"`
	// SweepEvery is how often the sweeper completes and purges exchanges
	// whose recipients are all final and deletes stray chunks (default 1m;
	// it also runs at start-up and when the store comes back).
	SweepEvery time.Duration `yaml:"sweep_every"`
}

// WithDefaults returns c with its zero fields set to their defaults (the
// configuration reference shows these).
func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	if c.ChunkSize <= 0 {
		c.ChunkSize = 256 << 10
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 200
	}
	if c.ConnectTTL <= 0 {
		c.ConnectTTL = time.Hour
	}
	if c.InboxLimit <= 0 {
		c.InboxLimit = 500
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = time.Minute
	}
	return c
}

// Store is what the exchange service needs of the store: the exchanges
// with their chunks and ledger, the systems (a sender's status and webhook),
// and the history of connections (F1).
type Store interface {
	store.ExchangeStore
	store.LedgerStore
	GetSystem(ctx context.Context, code string) (store.System, error)
	RecordConnection(ctx context.Context, c store.Connection) error
}

// Service runs exchanges. Every method that changes state is atomic in the
// store: an error means nothing changed (uploads roll back their chunks).
type Service struct {
	store  Store
	vault  *vault.Vault
	routes func() *route.Set
	log    logrus.FieldLogger
	cfg    Config
	node   string
	now    func() time.Time
	wake   func() // tells live subscribers and the dispatcher that events were written
	perms  Permissions
	speaks SpeaksFor
	pushed func(code string) bool

	uploads sync.Map // exchange id → struct{}: one upload per space at a time on this node
	due     chan struct{}
}

// Options wires a Service.
type Options struct {
	Store  Store
	Vault  *vault.Vault
	Routes func() *route.Set // the current route set (swapped on reload)
	Log    logrus.FieldLogger
	Config Config
	Node   string
	Now    func() time.Time // default time.Now
	Wake   func()           // optional
	// Permissions decides who may send what to whom (auth.Grants); nil
	// refuses every exchange (deny by default).
	Permissions Permissions
	// SpeaksFor binds the organ codes in packets to the caller
	// (auth.SpeaksFor); nil lets a system speak only for itself.
	SpeaksFor SpeaksFor
	// Pushed reports the recipient systems whose notifications another
	// delivery kind takes (notify.Diverter.Takes): the dispatcher queues
	// their webhook item even when they have no webhook URL. Nil: none.
	Pushed func(code string) bool
}

// Permissions is the part of auth.Permissions that F2 needs. If it also
// has AllowExchangeAll (auth.Grants does), all recipients are checked with
// one read.
type Permissions interface {
	AllowExchange(ctx context.Context, source, destination, dataType string) error
}

// checkGrants refuses the request unless source may send dataType to every
// recipient.
func (s *Service) checkGrants(ctx context.Context, source string, recips []string, dataType string) error {
	if s.perms == nil {
		return bus.ErrForbidden.New("no permissions are configured: every exchange is refused")
	}
	if all, ok := s.perms.(interface {
		AllowExchangeAll(ctx context.Context, source string, destinations []string, dataType string) error
	}); ok {
		return all.AllowExchangeAll(ctx, source, recips, dataType)
	}
	for _, r := range recips {
		if err := s.perms.AllowExchange(ctx, source, r, dataType); err != nil {
			return err
		}
	}
	return nil
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, vault: o.Vault, routes: o.Routes, log: o.Log, cfg: o.Config.withDefaults(), node: o.Node, now: o.Now, wake: o.Wake, perms: o.Permissions, speaks: o.SpeaksFor, pushed: o.Pushed, due: make(chan struct{}, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wake == nil {
		s.wake = func() {}
	}
	if s.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		s.log = l
	}
	return s
}

// Importance levels, as in edXML Priority (docs/edxml.md): 0 normal … 4 flash with a deadline.
var importances = map[string]string{
	"0": "normal", "1": "urgent", "2": "very-urgent", "3": "flash", "4": "flash-timed",
	"normal": "normal", "urgent": "urgent", "very-urgent": "very-urgent", "flash": "flash", "flash-timed": "flash-timed",
}

var (
	dataTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mediaRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}$`)
)

// Protocols a destination can take delivery with.
var protocols = map[string]bool{"rest": true, "soap": true}

// Request is the F2 exchange request.
type Request struct {
	Recipients []string `json:"recipients"`
	Title      string   `json:"title"`
	Importance string   `json:"importance,omitempty"` // default "normal"
	DataType   string   `json:"data_type"`
	Protocol   string   `json:"protocol,omitempty"` // default "rest"
	MediaType  string   `json:"media_type,omitempty"`
	Size       int64    `json:"size,omitempty"`   // optional declared size
	SHA256     string   `json:"sha256,omitempty"` // optional declared SHA-256 (hex)
}

// UnmarshalJSON reads a Request as encoding/json would, refusing unknown
// fields, but takes importance as a string ("3", "flash") or as a bare
// number (3): edXML writes Priority as a number, and integrators copy it.
// A number is kept as its text, so the usual check refuses 7 or 3.5.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var aux struct {
		*plain
		Importance json.RawMessage `json:"importance,omitempty"`
	}
	aux.plain = (*plain)(r)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	imp := bytes.TrimSpace(aux.Importance)
	switch {
	case len(imp) == 0 || string(imp) == "null":
	case imp[0] == '"':
		if err := json.Unmarshal(imp, &r.Importance); err != nil {
			return err
		}
	case imp[0] == '-' || imp[0] >= '0' && imp[0] <= '9':
		r.Importance = string(imp)
	default:
		return bus.ErrExchangeInvalid.New("importance must be a string or a number (0–4)")
	}
	return nil
}

// Space is the upload space returned at F2.
type Space struct {
	ExchangeID string    `json:"exchange_id"`
	UploadPath string    `json:"upload_path"`
	MaxBytes   int64     `json:"max_bytes"`
	ExpiresAt  time.Time `json:"expires_at"`
	Route      string    `json:"route"`
}

func (s *Service) currentRoutes() (*route.Set, error) {
	set := s.routes()
	if set == nil {
		return nil, bus.ErrUnavailable.New("no route set is loaded")
	}
	return set, nil
}

func (s *Service) recipientsValid(ctx context.Context, rt *route.Route, codes []string) ([]string, error) {
	if len(codes) == 0 {
		return nil, bus.ErrExchangeInvalid.New("recipients: at least one identifier code is required")
	}
	if len(codes) > s.cfg.MaxRecipients {
		return nil, bus.ErrExchangeInvalid.New("recipients: at most %d per request, got %d", s.cfg.MaxRecipients, len(codes))
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		c = strings.TrimSpace(c)
		if _, err := bus.ParseSystemCode(c); err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, bus.ErrExchangeInvalid.New("recipients: %s is listed twice", c)
		}
		seen[c] = true
		sys, err := s.store.GetSystem(ctx, c)
		if errors.Is(err, bus.ErrSystemNotFound) {
			return nil, bus.ErrRecipientUnknown.New("%s is not a registered system", c)
		}
		if err != nil {
			return nil, fmt.Errorf("looking up recipient %s: %w", c, err)
		}
		if sys.Status != store.SystemActive {
			return nil, bus.ErrRecipientUnknown.New("%s is suspended", c)
		}
		if !rt.AllowsRecipient(c) {
			return nil, bus.ErrRecipientUnknown.New("route %s does not deliver to %s", rt.Name, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// RequestExchange validates an F2 request of source against the registry and
// the routes and opens an upload space.
func (s *Service) RequestExchange(ctx context.Context, source string, req Request) (*Space, error) {
	d, err := s.newExchange(ctx, source, req)
	if err != nil {
		return nil, err
	}
	ex, rt := d.ex, d.rt
	if err := s.store.CreateExchange(ctx, ex, d.ev); err != nil {
		return nil, fmt.Errorf("storing exchange request: %w", err)
	}
	s.wake()
	return &Space{ExchangeID: ex.ID, UploadPath: "/v1/exchanges/" + ex.ID + "/content", MaxBytes: rt.MaxBytes, ExpiresAt: ex.ExpiresAt, Route: rt.Name}, nil
}

// draft is an exchange checked at F2 and not yet stored.
type draft struct {
	ex store.Exchange // requested, recipients pending, WrappedKey set
	rt *route.Route   // the route that takes it
	ev store.Event    // its "requested" event
	dk *vault.DataKey // the data key WrappedKey wraps
}

// newExchange checks an F2 request of source against the registry, the
// routes and the grants, and returns the exchange it opens. It writes
// nothing.
func (s *Service) newExchange(ctx context.Context, source string, req Request) (*draft, error) {
	title := strings.TrimSpace(req.Title)
	switch {
	case title == "":
		return nil, bus.ErrExchangeInvalid.New("title is required")
	case utf8.RuneCountInString(title) > 500:
		return nil, bus.ErrExchangeInvalid.New("title is longer than 500 characters")
	case !dataTypeRE.MatchString(req.DataType):
		return nil, bus.ErrExchangeInvalid.New("data_type: expected 1–64 of a-z 0-9 . _ -")
	case req.Size < 0:
		return nil, bus.ErrExchangeInvalid.New("size must not be negative")
	case req.SHA256 != "" && !sha256RE.MatchString(req.SHA256):
		return nil, bus.ErrExchangeInvalid.New("sha256 must be 64 lower-case hex digits")
	case req.MediaType != "" && !mediaRE.MatchString(req.MediaType):
		return nil, bus.ErrExchangeInvalid.New("media_type is not a media type (type/subtype)")
	}
	imp := "normal"
	if req.Importance != "" {
		var ok bool
		if imp, ok = importances[req.Importance]; !ok {
			return nil, bus.ErrExchangeInvalid.New("importance: expected normal, urgent, very-urgent, flash, flash-timed (or 0–4)")
		}
	}
	proto := "rest"
	if req.Protocol != "" {
		if !protocols[req.Protocol] {
			return nil, bus.ErrExchangeInvalid.New("protocol: expected rest or soap")
		}
		proto = req.Protocol
	}
	set, err := s.currentRoutes()
	if err != nil {
		return nil, err
	}
	rt, ok := set.Match(source, req.DataType)
	if !ok {
		return nil, bus.ErrNoRoute.New("no route takes data_type %q from %s", req.DataType, source)
	}
	recips, err := s.recipientsValid(ctx, rt, req.Recipients)
	if err != nil {
		return nil, err
	}
	if err := s.checkGrants(ctx, source, recips, req.DataType); err != nil {
		return nil, err
	}
	if req.Size > rt.MaxBytes {
		return nil, bus.ErrSpaceFull.New("declared size %d exceeds the route's limit of %d bytes", req.Size, rt.MaxBytes)
	}
	now := s.now().UTC()
	id := bus.NewID("ex")
	dk, wrapped, err := s.vault.NewDataKey(id)
	if err != nil {
		return nil, fmt.Errorf("making data key: %w", err)
	}
	ex := store.Exchange{
		ID: id, Source: source, Title: title, Importance: imp, DataType: req.DataType, Protocol: proto,
		MediaType: req.MediaType, Route: rt.Name, Status: store.ExchangeRequested, MaxBytes: rt.MaxBytes,
		Size: req.Size, SHA256: req.SHA256, WrappedKey: wrapped, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(rt.Delivery.Expiry),
	}
	for _, c := range recips {
		ex.Recipients = append(ex.Recipients, store.Recipient{ExchangeID: id, Code: c, Status: store.RecipientPending})
	}
	ev := s.event(id, "requested", source, "", map[string]any{"recipients": recips, "data_type": req.DataType, "route": rt.Name, "title_chars": utf8.RuneCountInString(title)})
	return &draft{ex: ex, rt: rt, ev: ev, dk: dk}, nil
}

// event builds a ledger event; detail always carries the exchange's source
// so that notifications can reach the sender.
func (s *Service) event(id, kind, actor, recipient string, detail map[string]any) store.Event {
	var d string
	if detail != nil {
		b, _ := json.Marshal(detail)
		d = string(b)
	}
	return store.Event{ExchangeID: id, At: s.now().UTC(), Kind: kind, Actor: actor, Recipient: recipient, Detail: d, Node: s.node}
}

// get loads an exchange the caller may see: its source, one of its
// recipients, or (viewer == "") the platform itself. Others get "not found"
// so that ids do not leak.
func (s *Service) get(ctx context.Context, viewer, id string) (store.Exchange, *store.Recipient, error) {
	ex, err := s.store.GetExchange(ctx, id)
	if err != nil {
		return ex, nil, err
	}
	var rcpt *store.Recipient
	for i := range ex.Recipients {
		if ex.Recipients[i].Code == viewer {
			rcpt = &ex.Recipients[i]
		}
	}
	if viewer != "" && viewer != ex.Source && rcpt == nil {
		return store.Exchange{}, nil, bus.ErrExchangeNotFound.New("%s", id)
	}
	return ex, rcpt, nil
}

func (s *Service) getOwn(ctx context.Context, source, id string) (store.Exchange, error) {
	ex, err := s.store.GetExchange(ctx, id)
	if err != nil {
		return ex, err
	}
	if ex.Source != source {
		return store.Exchange{}, bus.ErrExchangeNotFound.New("%s", id)
	}
	return ex, nil
}

func payloadGone(ex store.Exchange) error {
	switch ex.Status {
	case store.ExchangeExpired:
		return bus.ErrExchangeExpired.New("%s expired at %s", ex.ID, ex.ExpiresAt.Format(time.RFC3339))
	case store.ExchangeRequested, store.ExchangeAccepted:
		return nil
	default:
		return bus.ErrExchangePurged.New("%s is %s", ex.ID, ex.Status)
	}
}

// UploadStatus returns how many bytes of the space are durable: every
// stored chunk moves the offset with it, so after a broken connection or a
// crash of the node the upload resumes from the last stored chunk.
func (s *Service) UploadStatus(ctx context.Context, source, id string) (received, max int64, err error) {
	ex, err := s.getOwn(ctx, source, id)
	if err != nil {
		return 0, 0, err
	}
	return ex.Received, ex.MaxBytes, nil
}

// Upload appends the bytes read from body to the space of exchange id,
// starting at offset, which must equal the bytes already stored (F3).
// Each chunk is stored together with the new offset, so what is stored is
// what HEAD reports, whatever happens to the connection or the node.
// A part that is refused — its body hash does not match, it overflows the
// space — is rolled back whole, as if it never came. A part that is
// interrupted (connection broken, node stopped) keeps its stored chunks
// and the sender resumes from there; those bytes were never checked
// against the part's own X-LGSP-Content-SHA256 (the part never ended), so
// they count on the whole-content SHA-256 checked at completion. Bodies are
// streamed chunk by chunk; nothing holds a whole payload.
func (s *Service) Upload(ctx context.Context, source, id string, offset int64, body io.Reader) (int64, error) {
	ex, err := s.getOwn(ctx, source, id)
	if err != nil {
		return 0, err
	}
	if err := payloadGone(ex); err != nil {
		return 0, err
	}
	if ex.Status != store.ExchangeRequested {
		return 0, bus.ErrExchangeState.New("%s is %s: the upload space is closed", id, ex.Status)
	}
	if offset != ex.Received {
		return ex.Received, bus.ErrUploadOffset.New("the space holds %d bytes; resume at offset %d", ex.Received, ex.Received)
	}
	if _, busy := s.uploads.LoadOrStore(id, struct{}{}); busy {
		return ex.Received, bus.ErrExchangeState.New("another upload to %s is in progress", id)
	}
	defer s.uploads.Delete(id)
	// Chunks past the stored offset are strays of an older writer:
	// AppendChunk deletes those its chunk covers.
	dk, err := s.vault.UnwrapDataKey(id, ex.WrappedKey)
	if err != nil {
		return ex.Received, fmt.Errorf("unwrapping data key of %s: %w", id, err)
	}
	buf := make([]byte, s.cfg.ChunkSize)
	defer clear(buf)
	pos := offset
	refuse := func(cause error) (int64, error) {
		// Use a fresh context: the request's may be cancelled already.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.store.RollbackUpload(dctx, id, offset, pos); err != nil {
			s.log.WithError(err).WithField("exchange", id).Error("rolling back a refused upload part")
			return pos, cause
		}
		return offset, cause
	}
	for {
		n, rerr := readChunk(body, buf)
		if n > 0 && (rerr == nil || rerr == io.EOF) {
			if pos+int64(n) > ex.MaxBytes {
				return refuse(bus.ErrSpaceFull.New("the space of %s holds at most %d bytes", id, ex.MaxBytes))
			}
			sealed := dk.SealChunk(id, pos, buf[:n])
			// The body's last chunk carries the part's ledger event: a
			// small upload is one transaction.
			var evs []store.Event
			if rerr == io.EOF {
				evs = append(evs, s.event(id, "uploaded", source, "", map[string]any{"source": source, "from": offset, "to": pos + int64(n)}))
			}
			if err := s.store.AppendChunk(ctx, store.Chunk{ExchangeID: id, Offset: pos, Size: int64(n), Data: sealed}, evs...); err != nil {
				return s.interrupted(ctx, source, id, offset, pos, fmt.Errorf("storing chunk at %d of %s: %w", pos, id, err))
			}
			pos += int64(n)
			if rerr == io.EOF {
				return pos, nil
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			var be *bus.Error
			if errors.As(rerr, &be) && be.Def.Status < 500 {
				return refuse(rerr) // e.g. auth.body_hash: the part is not what was signed
			}
			return s.interrupted(ctx, source, id, offset, pos, rerr)
		}
	}
	if pos == offset {
		return pos, nil
	}
	// The body ended on a chunk boundary: its event goes alone.
	ev := s.event(id, "uploaded", source, "", map[string]any{"source": source, "from": offset, "to": pos})
	if err := s.store.AddEvents(ctx, ev); err != nil {
		return pos, err
	}
	return pos, nil
}

// interrupted ends a part that broke off: what is stored stays, and the
// sender resumes from pos.
func (s *Service) interrupted(ctx context.Context, source, id string, from, pos int64, cause error) (int64, error) {
	if pos > from {
		ev := s.event(id, "uploaded", "lgsp", "", map[string]any{"source": source, "from": from, "to": pos, "interrupted": true})
		if err := s.store.AddEvents(context.WithoutCancel(ctx), ev); err != nil {
			s.log.WithError(err).WithField("exchange", id).Error("recording an interrupted upload part")
		}
	}
	return pos, cause
}

// readChunk fills buf from r like io.ReadFull, but tells a body that ended
// (io.EOF, with the last short chunk in buf) from one that broke off (any
// other error, including io.ErrUnexpectedEOF from a truncated request
// body): only bytes of a body that ended may be stored after an error.
func readChunk(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Complete closes the upload (F3: content and exchange policy received) and
// runs F4: checks the SHA-256, runs the route's steps, plans delivery and
// wakes the dispatcher. A route step that refuses the content ends the
// exchange as failed and purges it; the caller gets the step's error.
func (s *Service) Complete(ctx context.Context, source, id string, c CompleteRequest) (store.Exchange, error) {
	ex, err := s.getOwn(ctx, source, id)
	if err != nil {
		return ex, err
	}
	if err := payloadGone(ex); err != nil {
		return ex, err
	}
	if ex.Status != store.ExchangeRequested {
		return ex, bus.ErrExchangeState.New("%s is already %s", id, ex.Status)
	}
	if ex.Received == 0 {
		return ex, bus.ErrExchangeInvalid.New("nothing was uploaded to %s", id)
	}
	cc, err := s.checkCompletion(ex, c)
	if err != nil {
		return ex, err
	}
	pol, expires, want, mt := cc.policy, cc.expires, cc.want, cc.mediaType
	got, err := s.hashContent(ctx, ex)
	if err != nil {
		return ex, err
	}
	if want != "" && got != want {
		return ex, bus.ErrHashMismatch.New("content SHA-256 is %s, expected %s", got, want)
	}
	set, err := s.currentRoutes()
	if err != nil {
		return ex, err
	}
	rt, ok := set.Match(ex.Source, ex.DataType)
	if !ok {
		return ex, bus.ErrNoRoute.New("no route takes data_type %q from %s any more", ex.DataType, ex.Source)
	}
	if want == "" && rt.RequiresSHA256() {
		// Refused before the route runs: the exchange stays requested and
		// the sender may complete again with its sha256.
		return ex, bus.ErrSHA256Required.New("route %s requires the SHA-256 of the content: declare sha256 in the request or at completion", rt.Name)
	}
	ex.Size, ex.SHA256, ex.MediaType = ex.Received, got, mt
	msg := s.message(ctx, &ex)
	if err := rt.Run(ctx, msg); err != nil {
		be, ok := refusal(err)
		if !ok {
			return ex, fmt.Errorf("running route %s on %s: %w", rt.Name, id, err)
		}
		evs := s.refusedEvents(ex, rt, be)
		if perr := s.store.Purge(context.WithoutCancel(ctx), id, store.ExchangeFailed, store.RecipientFailed, evs[0].At, evs...); perr != nil {
			return ex, fmt.Errorf("purging refused exchange %s: %w", id, perr)
		}
		s.wake()
		return ex, err
	}
	a := s.acceptance(ex, rt, msg, c.Parsed, pol, expires)
	if err := s.store.AcceptExchange(ctx, a); err != nil {
		return ex, err
	}
	s.wakeAccepted(a)
	return accepted(ex, a), nil
}

// refusal tells a route step's refusal of the content (a coded error below
// 500) from a failure to run the step.
func refusal(err error) (*bus.Error, bool) {
	var be *bus.Error
	if !errors.As(err, &be) || be.Def.Status >= 500 {
		return nil, false
	}
	return be, true
}

// refusedEvents are the "failed" and "purged" events of ex, whose content
// a step of rt refused with be.
func (s *Service) refusedEvents(ex store.Exchange, rt *route.Route, be *bus.Error) []store.Event {
	return []store.Event{
		s.event(ex.ID, "failed", "lgsp", "", map[string]any{"source": ex.Source, "route": rt.Name, "code": be.Def.Code, "detail": be.Detail}),
		s.event(ex.ID, "purged", "lgsp", "", map[string]any{"source": ex.Source}),
	}
}

// acceptance is the F4 acceptance of ex, whose content passed the steps of
// rt as msg: the document references are labelled, every recipient is
// planned, and the events say so. ex.Size/SHA256/MediaType describe the
// payload after the steps (a transform step's Replace updates them).
func (s *Service) acceptance(ex store.Exchange, rt *route.Route, msg *bus.Message, parsed *ParsedDoc, pol []byte, expires time.Time) store.Accept {
	if p := parsed; p != nil && p.SHA256 == ex.SHA256 && xmlMedia(ex.MediaType) {
		// The content is the one the caller parsed (a transform step
		// would have changed its hash): its references are known.
		if len(p.Refs) > 0 {
			msg.Label(RefsLabel, strings.Join(p.Refs, " "))
		}
	} else {
		s.labelDocRefs(msg)
	}
	now := s.now().UTC()
	if expires.IsZero() {
		expires = ex.ExpiresAt
	}
	due := rt.Plan(now)
	a := store.Accept{ExchangeID: ex.ID, Size: ex.Size, SHA256: ex.SHA256, MediaType: ex.MediaType, Policy: pol, Route: rt.Name, At: now, ExpiresAt: expires, DueAt: map[string]time.Time{}}
	a.Events = append(a.Events, s.event(ex.ID, "accepted", "lgsp", "", map[string]any{"source": ex.Source, "route": rt.Name, "size": ex.Size, "sha256": ex.SHA256, "labels": msg.Labels}))
	for _, r := range ex.Recipients {
		a.DueAt[r.Code] = due
		a.Events = append(a.Events, s.event(ex.ID, "planned", "lgsp", r.Code, map[string]any{"source": ex.Source, "due": due.Format(time.RFC3339), "mode": rt.Delivery.Mode}))
	}
	return a
}

// wakeAccepted wakes the feed and, when a recipient is due now, the
// dispatcher, after a stored acceptance.
func (s *Service) wakeAccepted(a store.Accept) {
	s.wake()
	for _, due := range a.DueAt {
		if !due.After(a.At) {
			s.kick()
			return
		}
	}
}

// Submit is F2, F3 and F4 in one call, for a content the caller holds
// whole in memory (sendEdoc, the VXP endpoint): the checks of
// RequestExchange, Upload and Complete run in that order on the same
// rules, the route's steps run on the content in memory, and the exchange
// is stored accepted — its sealed chunks, and the ledger events the three
// steps would have written — by one store transaction
// (store.SubmitExchange) instead of three, with no read of it back. A
// step that refuses the content stores the exchange failed and purged,
// without content, in one transaction too, and the caller gets the step's
// error. Any other error means nothing was stored.
func (s *Service) Submit(ctx context.Context, source string, req Request, content []byte, c CompleteRequest) (store.Exchange, error) {
	d, err := s.newExchange(ctx, source, req)
	if err != nil {
		return store.Exchange{}, err
	}
	ex, rt, id := d.ex, d.rt, d.ex.ID
	ex.CreatedAt = ex.CreatedAt.Truncate(time.Microsecond)
	n := int64(len(content))
	switch {
	case n == 0:
		return ex, bus.ErrExchangeInvalid.New("the content is empty")
	case n > ex.MaxBytes:
		return ex, bus.ErrSpaceFull.New("the content has %d bytes; route %s takes at most %d", n, rt.Name, ex.MaxBytes)
	case ex.Size > 0 && ex.Size != n:
		return ex, bus.ErrSizeMismatch.New("declared size %d but the content has %d bytes", ex.Size, n)
	}
	ex.Received = n
	cc, err := s.checkCompletion(ex, c)
	if err != nil {
		return ex, err
	}
	sum := sha256.Sum256(content)
	got := hex.EncodeToString(sum[:])
	if cc.want != "" && got != cc.want {
		return ex, bus.ErrHashMismatch.New("content SHA-256 is %s, expected %s", got, cc.want)
	}
	if cc.want == "" && rt.RequiresSHA256() {
		return ex, bus.ErrSHA256Required.New("route %s requires the SHA-256 of the content: declare sha256 in the request or at completion", rt.Name)
	}
	evs := []store.Event{d.ev, s.event(id, "uploaded", source, "", map[string]any{"source": source, "from": 0, "to": n})}
	ex.Size, ex.SHA256, ex.MediaType = n, got, cc.mediaType
	body := content
	msg := s.baseMessage(&ex)
	msg.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	msg.Replace = func(_ context.Context, mediaType string, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		body = b
		ex.Size, ex.Received, ex.SHA256, ex.MediaType = int64(len(b)), int64(len(b)), hex.EncodeToString(sum[:]), mediaType
		msg.Size, msg.SHA256, msg.MediaType = ex.Size, ex.SHA256, mediaType
		evs = append(evs, s.event(id, "transformed", "lgsp", "", map[string]any{"source": source, "size": ex.Size, "sha256": ex.SHA256, "media_type": mediaType}))
		return nil
	}
	if err := rt.Run(ctx, msg); err != nil {
		be, ok := refusal(err)
		if !ok {
			return ex, fmt.Errorf("running route %s on %s: %w", rt.Name, id, err)
		}
		failed := ex
		failed.Status, failed.WrappedKey = store.ExchangeFailed, nil
		evs = append(evs, s.refusedEvents(ex, rt, be)...)
		failed.UpdatedAt = evs[len(evs)-1].At
		failed.Recipients = slices.Clone(ex.Recipients)
		for i := range failed.Recipients {
			failed.Recipients[i].Status, failed.Recipients[i].DoneAt = store.RecipientFailed, failed.UpdatedAt
		}
		if serr := s.store.SubmitExchange(context.WithoutCancel(ctx), failed, nil, evs...); serr != nil {
			return ex, fmt.Errorf("recording refused exchange %s: %w", id, serr)
		}
		s.wake()
		return ex, err
	}
	a := s.acceptance(ex, rt, msg, c.Parsed, cc.policy, cc.expires)
	done := accepted(ex, a)
	chunks := make([]store.Chunk, 0, (len(body)+s.cfg.ChunkSize-1)/s.cfg.ChunkSize)
	for off := 0; off < len(body); off += s.cfg.ChunkSize {
		part := body[off:min(off+s.cfg.ChunkSize, len(body))]
		chunks = append(chunks, store.Chunk{ExchangeID: id, Offset: int64(off), Size: int64(len(part)), Data: d.dk.SealChunk(id, int64(off), part)})
	}
	if err := s.store.SubmitExchange(ctx, done, chunks, append(evs, a.Events...)...); err != nil {
		return ex, fmt.Errorf("storing exchange %s: %w", id, err)
	}
	s.wakeAccepted(a)
	return done, nil
}

// completion is what the checks of an F3 completion found.
type completion struct {
	policy    []byte
	expires   time.Time // zero: the exchange's own expiry
	want      string    // the SHA-256 the content must have ("": none declared)
	mediaType string
}

// checkCompletion checks the completion c of ex, whose content is
// ex.Received bytes long, before the content is read.
func (s *Service) checkCompletion(ex store.Exchange, c CompleteRequest) (completion, error) {
	pol, expires, err := s.policy(ex, c.Policy)
	if err != nil {
		return completion{}, err
	}
	want := c.SHA256
	if want == "" {
		want = ex.SHA256
	}
	if want != "" && !sha256RE.MatchString(want) {
		return completion{}, bus.ErrExchangeInvalid.New("sha256 must be 64 lower-case hex digits")
	}
	if ex.SHA256 != "" && c.SHA256 != "" && c.SHA256 != ex.SHA256 {
		return completion{}, bus.ErrHashMismatch.New("sha256 at completion differs from the one declared in the request")
	}
	if ex.Size > 0 && ex.Size != ex.Received {
		return completion{}, bus.ErrSizeMismatch.New("declared size %d but %d bytes were uploaded; the space stays open: upload the rest from offset %d, then complete again", ex.Size, ex.Received, ex.Received)
	}
	mt := ex.MediaType
	if c.MediaType != "" {
		if !mediaRE.MatchString(c.MediaType) {
			return completion{}, bus.ErrExchangeInvalid.New("media_type is not a media type (type/subtype)")
		}
		mt = c.MediaType
	}
	if mt == "" {
		mt = "application/octet-stream"
	}
	return completion{policy: pol, expires: expires, want: want, mediaType: mt}, nil
}

// accepted is ex as AcceptExchange(a) left it in the store (what
// GetExchange would read back, to the store's microsecond): ex is what
// Complete read and the route's steps replaced.
func accepted(ex store.Exchange, a store.Accept) store.Exchange {
	us := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	ex.Status, ex.Size, ex.Route, ex.UpdatedAt = store.ExchangeAccepted, a.Size, a.Route, us(a.At)
	if a.SHA256 != "" {
		ex.SHA256 = a.SHA256
	}
	if a.MediaType != "" {
		ex.MediaType = a.MediaType
	}
	if a.Policy != nil {
		ex.Policy = a.Policy
	}
	if !a.ExpiresAt.IsZero() {
		ex.ExpiresAt = us(a.ExpiresAt)
	}
	ex.Recipients = slices.Clone(ex.Recipients)
	for i := range ex.Recipients {
		r := &ex.Recipients[i]
		if r.Status != store.RecipientPending {
			continue
		}
		due, ok := a.DueAt[r.Code]
		if !ok || due.IsZero() {
			due = a.At
		}
		r.Status, r.DueAt = store.RecipientPlanned, us(due)
	}
	return ex
}

// CompleteRequest is the end of F3: the client's view of the content and
// its exchange policy.
type CompleteRequest struct {
	SHA256    string          `json:"sha256,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
	Policy    json.RawMessage `json:"policy,omitempty"`
	// Parsed is set by an in-process caller that parsed the content
	// itself (adapters/qlvb's sendEdoc): Complete then takes the
	// document's references from it instead of parsing the content a
	// second time, when the route's steps left that content unchanged.
	// Never read from a request.
	Parsed *ParsedDoc `json:"-"`
}

// ParsedDoc is what a caller's parse of an edXML document packet found:
// the packet's references (edxml.Packet.Refs) and the SHA-256 (hex) of
// the bytes it parsed.
type ParsedDoc struct {
	SHA256 string
	Refs   []string
}

// Policy is the exchange policy a source may attach at F3.
type Policy struct {
	// ExpiresIn shortens the time the payload is kept waiting for
	// confirmation (never beyond the route's expiry).
	ExpiresIn string `json:"expires_in,omitempty"`
	// Note is free text recorded with the exchange.
	Note string `json:"note,omitempty"`
}

func (s *Service) policy(ex store.Exchange, raw json.RawMessage) ([]byte, time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, time.Time{}, nil
	}
	if len(raw) > 8<<10 {
		return nil, time.Time{}, bus.ErrExchangeInvalid.New("policy is larger than 8 KiB")
	}
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, time.Time{}, bus.ErrExchangeInvalid.New("policy: expected {\"expires_in\": \"48h\", \"note\": \"…\"} and no other field")
	}
	var exp time.Time
	if p.ExpiresIn != "" {
		d, err := time.ParseDuration(p.ExpiresIn)
		if err != nil || d <= 0 {
			return nil, time.Time{}, bus.ErrExchangeInvalid.New("policy.expires_in: expected a positive duration like 48h")
		}
		exp = s.now().UTC().Add(d)
		if exp.After(ex.ExpiresAt) {
			exp = ex.ExpiresAt
		}
	}
	b, _ := json.Marshal(p)
	return b, exp, nil
}

// hashContent streams the stored payload and returns its SHA-256.
func (s *Service) hashContent(ctx context.Context, ex store.Exchange) (string, error) {
	r, err := s.open(ctx, ex, 0, -1)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("reading content of %s: %w", ex.ID, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
