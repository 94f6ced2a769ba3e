package store

import (
	"context"
	"fmt"
	"time"
)

// ---- Ledger (F7, R7) and the event feed of nodes ----

// insertEvents appends events, filling an empty ExchangeID with exchangeID
// and a zero At with at (now if at is zero too): one multi-row INSERT for
// up to eventsPerInsert of them, so that the events of one step cost one
// statement. Their ids keep the order of events.
func insertEvents(ctx context.Context, tx *txx, exchangeID string, at time.Time, events []Event) error {
	at = orNow(at)
	for len(events) > 0 {
		n := min(len(events), eventsPerInsert)
		args := make([]any, 0, 7*n)
		for _, ev := range events[:n] {
			if ev.ExchangeID == "" {
				ev.ExchangeID = exchangeID
			}
			if ev.At.IsZero() {
				ev.At = at
			}
			args = append(args, ev.ExchangeID, micros(ev.At), ev.Kind, ev.Actor, ev.Recipient, ev.Detail, ev.Node)
		}
		if _, err := tx.ExecContext(ctx, insertEventsSQL(n), args...); err != nil {
			return fmt.Errorf("inserting %s event of %s: %w", events[0].Kind, args[0], err)
		}
		events = events[n:]
	}
	return nil
}

// eventsPerInsert bounds the rows of one INSERT INTO events (7 parameters
// each, far below either dialect's limit).
const eventsPerInsert = 64

// insertEventsSQLs holds the INSERT for 1…eventsPerInsert rows, so that
// the statement cache sees the same texts.
var insertEventsSQLs = func() []string {
	out := make([]string, eventsPerInsert+1)
	q := "INSERT INTO events (exchange_id, occurred_at, kind, actor, recipient, detail, node) VALUES (?, ?, ?, ?, ?, ?, ?)"
	for n := 1; n <= eventsPerInsert; n++ {
		out[n] = q
		q += ", (?, ?, ?, ?, ?, ?, ?)"
	}
	return out
}()

func insertEventsSQL(n int) string { return insertEventsSQLs[n] }

func (s *sqlStore) AddEvents(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *txx) error {
		return insertEvents(ctx, tx, "", time.Now(), events)
	})
}

const eventCols = "id, exchange_id, occurred_at, kind, actor, recipient, detail, node"

func (s *sqlStore) queryEvents(ctx context.Context, what, q string, args ...any) ([]Event, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var at int64
		if err := rows.Scan(&ev.ID, &ev.ExchangeID, &at, &ev.Kind, &ev.Actor, &ev.Recipient, &ev.Detail, &ev.Node); err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		ev.At = fromMicros(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return out, nil
}

func (s *sqlStore) Events(ctx context.Context, exchangeID string) ([]Event, error) {
	return s.queryEvents(ctx, "events of "+exchangeID, "SELECT "+eventCols+" FROM events WHERE exchange_id = ? ORDER BY id", exchangeID)
}

// EventsAfter on MySQL: ids are taken at insert and become visible at
// commit, so with concurrent writers a smaller id can appear after a larger
// one was read. Feed readers that must not miss an event re-read a short
// window behind their cursor (see the package documentation).
func (s *sqlStore) EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error) {
	return s.queryEvents(ctx, "events", "SELECT "+eventCols+" FROM events WHERE id > ? ORDER BY id LIMIT ?", after, limitOr(limit))
}

func (s *sqlStore) EventsAfterOrIn(ctx context.Context, after int64, ids []int64, limit int) ([]Event, error) {
	if len(ids) == 0 {
		return s.EventsAfter(ctx, after, limit)
	}
	if len(ids) > maxEventIDs {
		ids = ids[len(ids)-maxEventIDs:]
	}
	args := make([]any, 0, len(ids)+2)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, after, limitOr(limit))
	return s.queryEvents(ctx, "events", "SELECT "+eventCols+" FROM events WHERE id IN ("+placeholders(len(ids))+") OR id > ? ORDER BY id LIMIT ?", args...)
}

// maxEventIDs bounds the id list of EventsAfterOrIn (the statement's size).
const maxEventIDs = 1000

func (s *sqlStore) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("reading last event id: %w", err)
	}
	return id, nil
}
