package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Session is the answer to F1 connect.
type Session struct {
	SessionID string            `json:"session_id"`
	System    string            `json:"system"`
	ExpiresAt time.Time         `json:"expires_at"`
	Pending   []store.InboxItem `json:"-"`
}

// inboxStatuses are the recipient statuses a destination still has to act on.
var inboxStatuses = []string{store.RecipientNotified, store.RecipientReady, store.RecipientDownloaded}

// Connect records an F1 connect of system and returns what is pending for it.
func (s *Service) Connect(ctx context.Context, system, accessKey, remote string) (*Session, error) {
	now := s.now().UTC()
	c := store.Connection{ID: bus.NewID("cn"), SystemCode: system, AccessKey: accessKey, At: now, Remote: remote, ExpiresAt: now.Add(s.cfg.ConnectTTL)}
	if err := s.store.RecordConnection(ctx, c); err != nil {
		return nil, fmt.Errorf("recording connection of %s: %w", system, err)
	}
	items, err := s.store.Inbox(ctx, system, inboxStatuses, s.cfg.InboxLimit)
	if err != nil {
		return nil, fmt.Errorf("listing inbox of %s: %w", system, err)
	}
	return &Session{SessionID: c.ID, System: system, ExpiresAt: c.ExpiresAt, Pending: items}, nil
}

// Inbox lists the exchanges due for system that it has not confirmed (F5).
func (s *Service) Inbox(ctx context.Context, system string) ([]store.InboxItem, error) {
	return s.store.Inbox(ctx, system, inboxStatuses, s.cfg.InboxLimit)
}

// Sent lists the newest exchanges sent by system.
func (s *Service) Sent(ctx context.Context, system string, limit int) ([]store.Exchange, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.store.ListSent(ctx, system, limit)
}

// Download describes where and what a ready destination fetches (F6).
type Download struct {
	ExchangeID   string `json:"exchange_id"`
	DownloadPath string `json:"download_path"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	MediaType    string `json:"media_type"`
	Title        string `json:"title"`
	DataType     string `json:"data_type"`
	Source       string `json:"source"`
}

// Ready is F6: the destination says it is ready; the platform checks that
// the exchange is due for it and returns the space to fetch from.
func (s *Service) Ready(ctx context.Context, system, id string) (*Download, error) {
	ex, rc, err := s.get(ctx, system, id)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, bus.ErrNotRecipient.New("%s", id)
	}
	if err := payloadGone(ex); err != nil {
		return nil, err
	}
	switch rc.Status {
	case store.RecipientPending, store.RecipientPlanned:
		return nil, bus.ErrNotDue.New("%s is due for %s at %s", id, system, dueText(rc.DueAt))
	case store.RecipientNotified:
		t := store.Transition{ExchangeID: id, Recipient: system, From: []string{store.RecipientNotified}, To: store.RecipientReady, At: s.now().UTC(),
			Event: s.event(id, "ready", system, system, map[string]any{"source": ex.Source})}
		if err := s.store.Transition(ctx, t); err != nil && !errors.Is(err, bus.ErrExchangeState) {
			return nil, err
		}
		s.wake()
	case store.RecipientReady, store.RecipientDownloaded:
		// Asking again is harmless: answer with the same space.
	default:
		return nil, bus.ErrExchangeState.New("%s is already %s for %s", id, rc.Status, system)
	}
	return &Download{ExchangeID: id, DownloadPath: "/v1/exchanges/" + id + "/content", Size: ex.Size, SHA256: ex.SHA256, MediaType: ex.MediaType, Title: ex.Title, DataType: ex.DataType, Source: ex.Source}, nil
}

func dueText(t time.Time) string {
	if t.IsZero() {
		return "a time set when the upload completes"
	}
	return t.Format(time.RFC3339)
}

// Fetch is an open download: the content of a range and what it covers.
type Fetch struct {
	Body      io.ReadCloser
	Offset    int64
	Length    int64
	Size      int64
	SHA256    string
	MediaType string
}

// Close closes the body.
func (f *Fetch) Close() error { return f.Body.Close() }

// Fetch opens the content of id for a ready destination, from offset for
// length bytes (length < 0: to the end) — range requests resume interrupted
// downloads (F7).
func (s *Service) Fetch(ctx context.Context, system, id string, offset, length int64) (*Fetch, error) {
	ex, rc, err := s.get(ctx, system, id)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, bus.ErrNotRecipient.New("%s", id)
	}
	if err := payloadGone(ex); err != nil {
		return nil, err
	}
	if rc.Status != store.RecipientReady && rc.Status != store.RecipientDownloaded {
		if rc.Status == store.RecipientNotified {
			return nil, bus.ErrExchangeState.New("say ready first (POST /v1/exchanges/%s/ready)", id)
		}
		if rc.Status == store.RecipientPending || rc.Status == store.RecipientPlanned {
			return nil, bus.ErrNotDue.New("%s is due for %s at %s", id, system, dueText(rc.DueAt))
		}
		return nil, bus.ErrExchangeState.New("%s is %s for %s", id, rc.Status, system)
	}
	if offset < 0 || offset > ex.Size || (offset == ex.Size && ex.Size > 0) {
		return nil, bus.ErrRange.New("offset %d is outside 0–%d", offset, ex.Size-1)
	}
	if length < 0 || offset+length > ex.Size {
		length = ex.Size - offset
	}
	body, err := s.open(ctx, ex, offset, length)
	if err != nil {
		return nil, err
	}
	f := &Fetch{Body: body, Offset: offset, Length: length, Size: ex.Size, SHA256: ex.SHA256, MediaType: ex.MediaType}
	if offset+length == ex.Size && rc.Status == store.RecipientReady {
		// Recorded when the last bytes are read from the store, before they
		// are written out: a client that confirms the moment it has the
		// whole content finds the download already recorded (F7).
		body.onEnd = func() {
			t := store.Transition{ExchangeID: id, Recipient: system, From: []string{store.RecipientReady}, To: store.RecipientDownloaded, At: s.now().UTC(),
				Event: s.event(id, "downloaded", system, system, map[string]any{"source": ex.Source, "bytes": ex.Size})}
			if err := s.store.Transition(context.WithoutCancel(ctx), t); err != nil && !errors.Is(err, bus.ErrExchangeState) {
				s.log.WithError(err).WithField("exchange", id).Error("recording download")
			}
			s.wake()
		}
	}
	return f, nil
}

// Outcomes a destination can confirm.
const (
	OutcomeReceived = "received"
	OutcomeRejected = "rejected"
)

// Confirm is the end of F7: the destination confirms receipt (or rejects
// the content). When every recipient is final the payload is purged (R2).
func (s *Service) Confirm(ctx context.Context, system, id, outcome, note string) (store.Exchange, error) {
	if len(note) > 2000 {
		return store.Exchange{}, bus.ErrBadRequest.New("note is longer than 2000 bytes")
	}
	ex, rc, err := s.get(ctx, system, id)
	if err != nil {
		return ex, err
	}
	if rc == nil {
		return ex, bus.ErrNotRecipient.New("%s", id)
	}
	var t store.Transition
	now := s.now().UTC()
	switch outcome {
	case OutcomeReceived, "":
		if rc.Status == store.RecipientReady || rc.Status == store.RecipientNotified {
			return ex, bus.ErrExchangeState.New("download the whole content of %s before confirming", id)
		}
		t = store.Transition{From: []string{store.RecipientDownloaded}, To: store.RecipientConfirmed}
	case OutcomeRejected:
		t = store.Transition{From: []string{store.RecipientNotified, store.RecipientReady, store.RecipientDownloaded}, To: store.RecipientRejected}
	default:
		return ex, bus.ErrBadRequest.New("outcome %q: expected received or rejected", outcome)
	}
	if rc.Status == t.To {
		// A retry of a confirmation that was committed (its answer may
		// have been lost, or the node stopped before the purge): answer
		// with the current state, finishing the completion if needed.
		if err := s.maybeComplete(ctx, id, "confirm-retry"); err != nil {
			return ex, err
		}
		return s.store.GetExchange(ctx, id)
	}
	if store.FinalRecipient(rc.Status) {
		return ex, bus.ErrExchangeState.New("%s was already %s by %s", id, rc.Status, system)
	}
	t.ExchangeID, t.Recipient, t.At, t.Outcome = id, system, now, note
	t.Event = s.event(id, t.To, system, system, map[string]any{"source": ex.Source, "note": note})
	if settleInConfirm {
		// The last confirmation completes the exchange and purges its
		// payload in its own transaction (R2).
		t.Settle = &store.Settle{Status: store.ExchangeCompleted, Events: []store.Event{
			s.event(id, "completed", "lgsp", "", map[string]any{"source": ex.Source}),
			s.event(id, "purged", "lgsp", "", purgeDetail(ex.Source, "")),
		}}
	}
	if err := s.store.Transition(ctx, t); err != nil {
		return ex, err
	}
	crashpoint("after-confirm-commit")
	s.wake()
	after, err := s.store.GetExchange(ctx, id)
	if err != nil || !after.PurgedAt.IsZero() {
		return after, err
	}
	for _, r := range after.Recipients {
		if !store.FinalRecipient(r.Status) {
			return after, nil // others have still to answer
		}
	}
	// Settled but not purged: a test build keeps the completion apart
	// (crash_on.go), or the exchange was purged and read in between.
	if err := s.maybeComplete(ctx, id, ""); err != nil {
		return ex, err
	}
	return s.store.GetExchange(ctx, id)
}

// maybeComplete purges an exchange whose recipients are all final. Several
// callers may race here (confirmations, the sweeper on every node); Purge
// is idempotent. by, if set, is recorded in the purge event: who finished
// a completion that was interrupted.
func (s *Service) maybeComplete(ctx context.Context, id, by string) error {
	ex, err := s.store.GetExchange(ctx, id)
	if err != nil {
		return err
	}
	if !ex.PurgedAt.IsZero() {
		return nil
	}
	for _, r := range ex.Recipients {
		if !store.FinalRecipient(r.Status) {
			return nil
		}
	}
	now := s.now().UTC()
	ctx = context.WithoutCancel(ctx)
	if err := s.store.Purge(ctx, id, store.ExchangeCompleted, store.RecipientConfirmed, now,
		s.event(id, "completed", "lgsp", "", map[string]any{"source": ex.Source}),
		s.event(id, "purged", "lgsp", "", purgeDetail(ex.Source, by))); err != nil {
		return fmt.Errorf("purging completed exchange %s: %w", id, err)
	}
	s.wake()
	return nil
}

func purgeDetail(source, by string) map[string]any {
	d := map[string]any{"source": source, "reason": "completed"}
	if by != "" {
		d["resumed_by"] = by
	}
	return d
}

// Cancel ends an exchange at the sender's request and purges its payload.
func (s *Service) Cancel(ctx context.Context, source, id string) (store.Exchange, error) {
	ex, err := s.getOwn(ctx, source, id)
	if err != nil {
		return ex, err
	}
	if ex.Status != store.ExchangeRequested && ex.Status != store.ExchangeAccepted {
		return ex, bus.ErrExchangeState.New("%s is already %s", id, ex.Status)
	}
	now := s.now().UTC()
	if err := s.store.Purge(ctx, id, store.ExchangeCancelled, store.RecipientCancelled, now,
		s.event(id, "cancelled", source, "", map[string]any{"source": source}),
		s.event(id, "purged", "lgsp", "", map[string]any{"source": source, "reason": "cancelled"})); err != nil {
		return ex, err
	}
	s.wake()
	return s.store.GetExchange(ctx, id)
}

// Status is an exchange's metadata, per-recipient state and ledger.
type Status struct {
	Exchange store.Exchange
	Ledger   []store.Event
}

// Status returns the status of id for viewer (its source, a recipient, or
// "" for the platform's operators and other authorised services).
func (s *Service) Status(ctx context.Context, viewer, id string) (*Status, error) {
	ex, _, err := s.get(ctx, viewer, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.store.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	ex.WrappedKey = nil
	return &Status{Exchange: ex, Ledger: evs}, nil
}
