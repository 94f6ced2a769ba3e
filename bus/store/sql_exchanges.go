package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// ---- Exchanges ----

const exchangeCols = "id, source, title, importance, data_type, protocol, media_type, route, status, max_bytes, received, size, sha256, policy, wrapped_key, created_at, updated_at, expires_at, purged_at"

// prefixed returns a column list with every column qualified by alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

func exchangeDest(e *Exchange, t *[4]int64) []any {
	return []any{&e.ID, &e.Source, &e.Title, &e.Importance, &e.DataType, &e.Protocol, &e.MediaType, &e.Route, &e.Status,
		&e.MaxBytes, &e.Received, &e.Size, &e.SHA256, &e.Policy, &e.WrappedKey, &t[0], &t[1], &t[2], &t[3]}
}

func setExchangeTimes(e *Exchange, t *[4]int64) {
	e.CreatedAt, e.UpdatedAt, e.ExpiresAt, e.PurgedAt = fromMicros(t[0]), fromMicros(t[1]), fromMicros(t[2]), fromMicros(t[3])
}

const recipientCols = "exchange_id, code, status, due_at, notified_at, ready_at, done_at, outcome"

func recipientDest(r *Recipient, t *[4]int64) []any {
	return []any{&r.ExchangeID, &r.Code, &r.Status, &t[0], &t[1], &t[2], &t[3], &r.Outcome}
}

func setRecipientTimes(r *Recipient, t *[4]int64) {
	r.DueAt, r.NotifiedAt, r.ReadyAt, r.DoneAt = fromMicros(t[0]), fromMicros(t[1]), fromMicros(t[2]), fromMicros(t[3])
}

func scanRecipients(rows *sql.Rows) ([]Recipient, error) {
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		var t [4]int64
		if err := rows.Scan(recipientDest(&r, &t)...); err != nil {
			return nil, err
		}
		setRecipientTimes(&r, &t)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateExchange fills an empty Status with requested, empty recipient
// statuses with pending, and zero CreatedAt/UpdatedAt with now.
func (s *sqlStore) CreateExchange(ctx context.Context, e Exchange, events ...Event) error {
	e = exchangeDefaults(e)
	return s.write(ctx, func(tx *txx) error {
		if err := insertExchange(ctx, tx, e); err != nil {
			return err
		}
		return insertEvents(ctx, tx, e.ID, e.CreatedAt, events)
	})
}

// SubmitExchange writes the exchange row, its recipients, its chunks and
// its events in one transaction; a final status is purged in it too
// (purgeTx: the statistics roll up, recipients close with done_at). No
// afterPurge: a final submission never stored content.
func (s *sqlStore) SubmitExchange(ctx context.Context, e Exchange, chunks []Chunk, events ...Event) error {
	e = exchangeDefaults(e)
	final := finalExchange(e.Status)
	var end int64
	for _, c := range chunks {
		if c.ExchangeID != e.ID || c.Offset != end || c.Size < 0 {
			return fmt.Errorf("submitting exchange %s: chunks must follow each other from offset 0 (chunk of %q at %d, expected %d)", e.ID, c.ExchangeID, c.Offset, end)
		}
		end += c.Size
	}
	switch {
	case !final && end != e.Received:
		return fmt.Errorf("submitting exchange %s: its chunks end at %d but Received is %d", e.ID, end, e.Received)
	case final && len(chunks) > 0:
		return fmt.Errorf("submitting exchange %s: a %s exchange keeps no content", e.ID, e.Status)
	case !e.PurgedAt.IsZero():
		return fmt.Errorf("submitting exchange %s: PurgedAt is set by the store", e.ID)
	}
	return s.write(ctx, func(tx *txx) error {
		if err := insertExchange(ctx, tx, e); err != nil {
			return err
		}
		for _, c := range chunks {
			data := c.Data
			if data == nil {
				data = []byte{}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO chunks (exchange_id, off, size, data) VALUES (?, ?, ?, ?)", e.ID, c.Offset, c.Size, data); err != nil {
				return fmt.Errorf("inserting chunk %d of %s: %w", c.Offset, e.ID, err)
			}
		}
		if final {
			_, err := s.purgeTx(ctx, tx, e.ID, e.Status, "", e.UpdatedAt, events)
			return err
		}
		return insertEvents(ctx, tx, e.ID, e.UpdatedAt, events)
	})
}

// exchangeDefaults fills what CreateExchange and SubmitExchange leave to
// the store: CreatedAt (now), UpdatedAt (CreatedAt), Status (requested).
func exchangeDefaults(e Exchange) Exchange {
	e.CreatedAt = orNow(e.CreatedAt)
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	if e.Status == "" {
		e.Status = ExchangeRequested
	}
	return e
}

// finalExchange reports whether an exchange status is final (purged).
func finalExchange(status string) bool {
	switch status {
	case ExchangeCompleted, ExchangeCancelled, ExchangeExpired, ExchangeFailed:
		return true
	}
	return false
}

// insertExchange inserts e's row and its recipients' (an empty status is
// pending), in recipient order.
func insertExchange(ctx context.Context, tx *txx, e Exchange) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO exchanges ("+exchangeCols+") VALUES ("+placeholders(19)+")",
		e.ID, e.Source, e.Title, e.Importance, e.DataType, e.Protocol, e.MediaType, e.Route, e.Status,
		e.MaxBytes, e.Received, e.Size, e.SHA256, nullBytes(e.Policy), nullBytes(e.WrappedKey),
		micros(e.CreatedAt), micros(e.UpdatedAt), micros(e.ExpiresAt), micros(e.PurgedAt))
	if err != nil {
		return fmt.Errorf("inserting exchange %s: %w", e.ID, err)
	}
	for i, r := range e.Recipients {
		if r.Status == "" {
			r.Status = RecipientPending
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO recipients (exchange_id, code, seq, status, due_at, notified_at, ready_at, done_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			e.ID, r.Code, i, r.Status, micros(r.DueAt), micros(r.NotifiedAt), micros(r.ReadyAt), micros(r.DoneAt), r.Outcome); err != nil {
			return fmt.Errorf("inserting recipient %s of %s: %w", r.Code, e.ID, err)
		}
	}
	return nil
}

// GetExchange reads the exchange and its recipients in one statement (one
// snapshot without a transaction: a read transaction would cost MariaDB a
// BEGIN and a COMMIT round trip besides two queries, and this is read at
// every step of every exchange).
func (s *sqlStore) GetExchange(ctx context.Context, id string) (Exchange, error) {
	// No ORDER BY: sorting the join's rows made MariaDB build a temporary
	// table (on disk, the rows having BLOB columns) for every call; the
	// recipients are put in seq order here instead.
	rows, err := s.query(ctx, "SELECT "+prefixed("e", exchangeCols)+", r.code, r.status, r.due_at, r.notified_at, r.ready_at, r.done_at, r.outcome, r.seq"+
		" FROM exchanges e LEFT JOIN recipients r ON r.exchange_id = e.id WHERE e.id = ?", id)
	if err != nil {
		return Exchange{}, fmt.Errorf("reading exchange %s: %w", id, err)
	}
	defer rows.Close()
	var e Exchange
	var seqs []int64
	found := false
	for rows.Next() {
		var t [4]int64
		var code, status, outcome sql.NullString
		var rt [4]sql.NullInt64
		var seq sql.NullInt64
		dest := append(exchangeDest(&e, &t), &code, &status, &rt[0], &rt[1], &rt[2], &rt[3], &outcome, &seq)
		if err := rows.Scan(dest...); err != nil {
			return Exchange{}, fmt.Errorf("reading exchange %s: %w", id, err)
		}
		setExchangeTimes(&e, &t)
		found = true
		if code.Valid {
			r := Recipient{ExchangeID: e.ID, Code: code.String, Status: status.String, Outcome: outcome.String}
			setRecipientTimes(&r, &[4]int64{rt[0].Int64, rt[1].Int64, rt[2].Int64, rt[3].Int64})
			e.Recipients = append(e.Recipients, r)
			seqs = append(seqs, seq.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return Exchange{}, fmt.Errorf("reading exchange %s: %w", id, err)
	}
	sortBySeq(e.Recipients, seqs)
	if !found {
		return Exchange{}, bus.ErrExchangeNotFound.New("%s", id)
	}
	return e, nil
}

// sortBySeq puts rs in the order of seqs (rs[i] has seqs[i]).
func sortBySeq(rs []Recipient, seqs []int64) {
	if slices.IsSorted(seqs) {
		return
	}
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(seqs[a], seqs[b]) })
	out := make([]Recipient, len(rs))
	for i, j := range idx {
		out[i] = rs[j]
	}
	copy(rs, out)
}

// ListSent returns the exchanges with their recipients.
func (s *sqlStore) ListSent(ctx context.Context, source string, limit int) ([]Exchange, error) {
	var out []Exchange
	err := s.read(ctx, func(tx *txx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, "SELECT "+exchangeCols+" FROM exchanges WHERE source = ? ORDER BY created_at DESC, id DESC LIMIT ?", source, limitOr(limit))
		if err != nil {
			return fmt.Errorf("listing exchanges of %s: %w", source, err)
		}
		defer rows.Close()
		for rows.Next() {
			var e Exchange
			var t [4]int64
			if err := rows.Scan(exchangeDest(&e, &t)...); err != nil {
				return fmt.Errorf("listing exchanges of %s: %w", source, err)
			}
			setExchangeTimes(&e, &t)
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("listing exchanges of %s: %w", source, err)
		}
		rows.Close()
		if len(out) == 0 {
			return nil
		}
		ids := make([]any, len(out))
		idx := make(map[string]int, len(out))
		for i, e := range out {
			ids[i] = e.ID
			idx[e.ID] = i
		}
		rrows, err := tx.QueryContext(ctx, "SELECT "+recipientCols+" FROM recipients WHERE exchange_id IN ("+placeholders(len(ids))+") ORDER BY exchange_id, seq", ids...)
		if err != nil {
			return fmt.Errorf("listing recipients of exchanges of %s: %w", source, err)
		}
		rs, err := scanRecipients(rrows)
		if err != nil {
			return fmt.Errorf("listing recipients of exchanges of %s: %w", source, err)
		}
		for _, r := range rs {
			i := idx[r.ExchangeID]
			out[i].Recipients = append(out[i].Recipients, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// exchangeState reads and locks the row of an exchange in a write
// transaction.
func (s *sqlStore) exchangeState(ctx context.Context, tx *txx, id, lock string) (status string, received, maxBytes int64, err error) {
	err = tx.QueryRowContext(ctx, "SELECT status, received, max_bytes FROM exchanges WHERE id = ?"+lock, id).Scan(&status, &received, &maxBytes)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, 0, bus.ErrExchangeNotFound.New("%s", id)
	}
	if err != nil {
		return "", 0, 0, fmt.Errorf("reading exchange %s: %w", id, err)
	}
	return status, received, maxBytes, nil
}

// ---- Chunks ----

// DeleteChunksFrom never deletes committed chunks: it deletes from offset
// or from Received, whichever is higher, so that a part that lost a race
// cannot take the winner's chunks with it.
func (s *sqlStore) DeleteChunksFrom(ctx context.Context, id string, offset int64) error {
	return s.write(ctx, func(tx *txx) error {
		_, received, _, err := s.exchangeState(ctx, tx, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE exchange_id = ? AND off >= ?", id, max(offset, received)); err != nil {
			return fmt.Errorf("deleting chunks of %s from %d: %w", id, offset, err)
		}
		return nil
	})
}

// AppendChunk moves Received with one conditional UPDATE (status
// requested, offset = Received, within MaxBytes), so the happy path reads
// nothing; when it matches no row, the row is read to tell why.
func (s *sqlStore) AppendChunk(ctx context.Context, c Chunk, events ...Event) error {
	now := time.Now()
	return s.write(ctx, func(tx *txx) error {
		end := c.Offset + c.Size
		res, err := tx.ExecContext(ctx, "UPDATE exchanges SET received = ?, updated_at = ? WHERE id = ? AND status = ? AND received = ? AND (max_bytes <= 0 OR max_bytes >= ?)",
			end, micros(now), c.ExchangeID, ExchangeRequested, c.Offset, end)
		if err != nil {
			return fmt.Errorf("moving the received offset of %s: %w", c.ExchangeID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			status, received, maxBytes, err := s.exchangeState(ctx, tx, c.ExchangeID, s.d.forUpdate)
			switch {
			case err != nil:
				return err
			case status != ExchangeRequested:
				return bus.ErrExchangeState.New("exchange %s is %s", c.ExchangeID, status)
			case c.Offset != received:
				return bus.ErrUploadOffset.New("chunk at %d of %s, but %d bytes are received", c.Offset, c.ExchangeID, received)
			case maxBytes > 0 && end > maxBytes:
				return bus.ErrSpaceFull.New("chunk ends at %d, the limit is %d", end, maxBytes)
			case c.Size != 0:
				return fmt.Errorf("moving the received offset of %s: no row changed", c.ExchangeID)
			}
			// An empty chunk at the offset: nothing moved, nothing to change.
		}
		// Chunks that start inside the new range are strays of an older
		// writer (never read while they lay at or past Received): they go
		// before Received covers them. REPLACE overwrites one at c.Offset.
		if c.Size > 1 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE exchange_id = ? AND off > ? AND off < ?", c.ExchangeID, c.Offset, end); err != nil {
				return fmt.Errorf("deleting stray chunks of %s: %w", c.ExchangeID, err)
			}
		}
		data := c.Data
		if data == nil {
			data = []byte{}
		}
		if _, err := tx.ExecContext(ctx, "REPLACE INTO chunks (exchange_id, off, size, data) VALUES (?, ?, ?, ?)",
			c.ExchangeID, c.Offset, c.Size, data); err != nil {
			return fmt.Errorf("inserting chunk %d of %s: %w", c.Offset, c.ExchangeID, err)
		}
		return insertEvents(ctx, tx, c.ExchangeID, now, events)
	})
}

func (s *sqlStore) RollbackUpload(ctx context.Context, id string, from, to int64) error {
	return s.write(ctx, func(tx *txx) error {
		status, received, _, err := s.exchangeState(ctx, tx, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		if status != ExchangeRequested {
			return bus.ErrExchangeState.New("exchange %s is %s", id, status)
		}
		if received != to || from > to {
			return bus.ErrUploadOffset.New("%d bytes received, not %d: the part is not the last one", received, to)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE exchange_id = ? AND off >= ?", id, from); err != nil {
			return fmt.Errorf("deleting chunks of %s from %d: %w", id, from, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE exchanges SET received = ?, updated_at = ? WHERE id = ?", from, micros(time.Now()), id); err != nil {
			return fmt.Errorf("rolling back the upload of %s: %w", id, err)
		}
		return nil
	})
}

func (s *sqlStore) DeleteStrayChunks(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE EXISTS (SELECT 1 FROM exchanges e WHERE e.id = chunks.exchange_id AND (e.purged_at <> 0 OR chunks.off >= e.received))")
		if err != nil {
			return fmt.Errorf("deleting stray chunks: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	if n > 0 && s.afterPurge != nil {
		if err := s.afterPurge(ctx); err != nil {
			return n, fmt.Errorf("after deleting stray chunks: %w", err)
		}
	}
	return n, nil
}

// ChunkIndex reads the exchange's offset and its chunks below it with one
// statement (no transaction needed to see one state).
func (s *sqlStore) ChunkIndex(ctx context.Context, id string) ([]ChunkInfo, error) {
	rows, err := s.query(ctx, "SELECT c.off, c.size FROM exchanges e LEFT JOIN chunks c ON c.exchange_id = e.id AND c.off < e.received WHERE e.id = ? ORDER BY c.off", id)
	if err != nil {
		return nil, fmt.Errorf("listing chunks of %s: %w", id, err)
	}
	defer rows.Close()
	var out []ChunkInfo
	found := false
	for rows.Next() {
		var off, size sql.NullInt64
		if err := rows.Scan(&off, &size); err != nil {
			return nil, fmt.Errorf("listing chunks of %s: %w", id, err)
		}
		found = true
		if off.Valid {
			out = append(out, ChunkInfo{Offset: off.Int64, Size: size.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing chunks of %s: %w", id, err)
	}
	if !found {
		return nil, bus.ErrExchangeNotFound.New("%s", id)
	}
	return out, nil
}

// GetChunk returns bus.ErrRange when no chunk starts at offset, and
// bus.ErrExchangeNotFound when the exchange does not exist.
func (s *sqlStore) GetChunk(ctx context.Context, id string, offset int64) (Chunk, error) {
	c := Chunk{ExchangeID: id, Offset: offset}
	err := s.queryRow(ctx, "SELECT size, data FROM chunks WHERE exchange_id = ? AND off = ?", id, offset).Scan(&c.Size, &c.Data)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Chunk{}, fmt.Errorf("reading chunk %d of %s: %w", offset, id, err)
	}
	var one int
	err = s.queryRow(ctx, "SELECT 1 FROM exchanges WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Chunk{}, bus.ErrExchangeNotFound.New("%s", id)
	}
	if err != nil {
		return Chunk{}, fmt.Errorf("reading exchange %s: %w", id, err)
	}
	return Chunk{}, bus.ErrRange.New("no chunk of %s starts at %d", id, offset)
}

func (s *sqlStore) ReplaceContent(ctx context.Context, id string, wrappedKey []byte, size int64, sha256, mediaType string, chunks []Chunk, events ...Event) error {
	return s.write(ctx, func(tx *txx) error {
		status, _, _, err := s.exchangeState(ctx, tx, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		if status != ExchangeRequested && status != ExchangeAccepted {
			return bus.ErrExchangeState.New("exchange %s is %s", id, status)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE exchange_id = ?", id); err != nil {
			return fmt.Errorf("deleting chunks of %s: %w", id, err)
		}
		for _, c := range chunks {
			data := c.Data
			if data == nil {
				data = []byte{}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO chunks (exchange_id, off, size, data) VALUES (?, ?, ?, ?)", id, c.Offset, c.Size, data); err != nil {
				return fmt.Errorf("inserting chunk %d of %s: %w", c.Offset, id, err)
			}
		}
		now := time.Now()
		if _, err := tx.ExecContext(ctx, "UPDATE exchanges SET wrapped_key = ?, size = ?, sha256 = ?, media_type = ?, received = ?, updated_at = ? WHERE id = ?",
			nullBytes(wrappedKey), size, sha256, mediaType, size, micros(now), id); err != nil {
			return fmt.Errorf("replacing content of %s: %w", id, err)
		}
		return insertEvents(ctx, tx, id, now, events)
	})
}

// ---- Delivery ----

// AcceptExchange keeps the stored SHA256, MediaType, Policy and ExpiresAt
// where the Accept leaves them empty. Three statements whatever the
// recipients: one conditional UPDATE of the exchange (status requested;
// the row is read only when it matches nothing, to tell why), one of its
// pending recipients (their due times in a CASE), one INSERT of the events.
func (s *sqlStore) AcceptExchange(ctx context.Context, a Accept) error {
	at := orNow(a.At)
	expires := micros(a.ExpiresAt)
	return s.write(ctx, func(tx *txx) error {
		res, err := tx.ExecContext(ctx, "UPDATE exchanges SET status = ?, size = ?, "+
			"sha256 = CASE WHEN ? = '' THEN sha256 ELSE ? END, media_type = CASE WHEN ? = '' THEN media_type ELSE ? END, "+
			"policy = COALESCE(?, policy), route = ?, expires_at = CASE WHEN ? = 0 THEN expires_at ELSE ? END, updated_at = ? WHERE id = ? AND status = ?",
			ExchangeAccepted, a.Size, a.SHA256, a.SHA256, a.MediaType, a.MediaType, nullBytes(a.Policy), a.Route, expires, expires, micros(at),
			a.ExchangeID, ExchangeRequested)
		if err != nil {
			return fmt.Errorf("accepting exchange %s: %w", a.ExchangeID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			status, _, _, err := s.exchangeState(ctx, tx, a.ExchangeID, s.d.forUpdate)
			if err != nil {
				return err
			}
			return bus.ErrExchangeState.New("exchange %s is %s", a.ExchangeID, status)
		}
		q := "UPDATE recipients SET status = ?, due_at = "
		args := []any{RecipientPlanned}
		if len(a.DueAt) == 0 {
			q += "?"
		} else {
			codes := make([]string, 0, len(a.DueAt))
			for c := range a.DueAt {
				codes = append(codes, c)
			}
			slices.Sort(codes) // one statement text per set of recipients' count
			q += "CASE code"
			for _, c := range codes {
				due := a.DueAt[c]
				if due.IsZero() {
					due = at
				}
				q += " WHEN ? THEN ?"
				args = append(args, c, micros(due))
			}
			q += " ELSE ? END"
		}
		args = append(args, micros(at), a.ExchangeID, RecipientPending)
		if _, err := tx.ExecContext(ctx, q+" WHERE exchange_id = ? AND status = ?", args...); err != nil {
			return fmt.Errorf("planning recipients of %s: %w", a.ExchangeID, err)
		}
		return insertEvents(ctx, tx, a.ExchangeID, at, a.Events)
	})
}

// notification is the payload of the webhook outbox item ClaimDue enqueues.
type notification struct {
	ExchangeID string `json:"exchange_id"`
	Recipient  string `json:"recipient"`
	Event      string `json:"event"`
}

// ClaimDue reads the claimed recipients' sources and their systems'
// webhook URLs in one query (in its transaction, so that a URL set before
// the claim commits is seen) and writes their events and outbox items with
// one multi-row INSERT each. A recipient gets a webhook item only when its
// system has a webhook URL, is not registered (the delivery reports that),
// or pushed says another kind takes its notification (notify.Diverter).
func (s *sqlStore) ClaimDue(ctx context.Context, now time.Time, limit int, node string, pushed func(code string) bool) ([]Recipient, error) {
	now = orNow(now)
	var out []Recipient
	err := s.write(ctx, func(tx *txx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, "SELECT "+recipientCols+" FROM recipients WHERE status = ? AND due_at <= ? ORDER BY due_at, exchange_id, code LIMIT ?"+s.d.skipLocked,
			RecipientPlanned, micros(now), limitOr(limit))
		if err != nil {
			return fmt.Errorf("claiming due recipients: %w", err)
		}
		if out, err = scanRecipients(rows); err != nil {
			return fmt.Errorf("claiming due recipients: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]any, 0, len(out))
		codes := make([]any, 0, 1)
		sources := make(map[string]string, len(out))
		hooks := make(map[string]string, 1) // system → webhook URL, of registered systems
		seenCode := make(map[string]bool, 1)
		for i := range out {
			r := &out[i]
			r.Status, r.NotifiedAt = RecipientNotified, fromMicros(micros(now))
			if _, err := tx.ExecContext(ctx, "UPDATE recipients SET status = ?, notified_at = ? WHERE exchange_id = ? AND code = ?",
				r.Status, micros(now), r.ExchangeID, r.Code); err != nil {
				return fmt.Errorf("notifying recipient %s of %s: %w", r.Code, r.ExchangeID, err)
			}
			if _, ok := sources[r.ExchangeID]; !ok {
				sources[r.ExchangeID] = ""
				ids = append(ids, r.ExchangeID)
			}
			if !seenCode[r.Code] {
				seenCode[r.Code] = true
				codes = append(codes, r.Code)
			}
		}
		// The detail names the exchange's source, as every ledger event
		// does, so that the sender's live subscribers hear of it too.
		srows, err := tx.QueryContext(ctx, "SELECT 0, id, source FROM exchanges WHERE id IN ("+placeholders(len(ids))+
			") UNION ALL SELECT 1, code, webhook_url FROM systems WHERE code IN ("+placeholders(len(codes))+")", append(ids, codes...)...)
		if err != nil {
			return fmt.Errorf("reading sources of due exchanges: %w", err)
		}
		for srows.Next() {
			var which int
			var key, val string
			if err := srows.Scan(&which, &key, &val); err != nil {
				srows.Close()
				return fmt.Errorf("reading sources of due exchanges: %w", err)
			}
			if which == 0 {
				sources[key] = val
			} else {
				hooks[key] = val
			}
		}
		srows.Close()
		if err := srows.Err(); err != nil {
			return fmt.Errorf("reading sources of due exchanges: %w", err)
		}
		evs := make([]Event, 0, len(out))
		items := make([]OutboxItem, 0, len(out))
		for _, r := range out {
			detail, _ := json.Marshal(map[string]string{"source": sources[r.ExchangeID]})
			evs = append(evs, Event{ExchangeID: r.ExchangeID, At: now, Kind: RecipientNotified, Actor: "lgsp", Recipient: r.Code, Detail: string(detail), Node: node})
			if url, registered := hooks[r.Code]; registered && url == "" && (pushed == nil || !pushed(r.Code)) {
				continue // nothing to deliver: the system polls its inbox or subscribes
			}
			payload, err := json.Marshal(notification{ExchangeID: r.ExchangeID, Recipient: r.Code, Event: RecipientNotified})
			if err != nil {
				return fmt.Errorf("encoding notification of %s: %w", r.ExchangeID, err)
			}
			items = append(items, OutboxItem{Kind: "webhook", Target: r.Code, ExchangeID: r.ExchangeID, Payload: payload, DueAt: now, FirstAt: now})
		}
		if err := insertEvents(ctx, tx, "", now, evs); err != nil {
			return err
		}
		return insertOutboxItems(ctx, tx, items)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Transition fills an empty Event.Kind with To, an empty Event.Recipient
// with Recipient and a zero Event.At with At. It keeps the stored Outcome
// when t.Outcome is empty. The recipient moves with one conditional UPDATE
// (status in From); its row is read only when that matches nothing.
func (s *sqlStore) Transition(ctx context.Context, t Transition) error {
	at := orNow(t.At)
	if t.Settle != nil {
		switch t.Settle.Status {
		case ExchangeCompleted, ExchangeCancelled, ExchangeExpired, ExchangeFailed:
		default:
			return fmt.Errorf("settling %s: %q is not a final exchange status", t.ExchangeID, t.Settle.Status)
		}
	}
	settled := false
	err := s.write(ctx, func(tx *txx) error {
		settled = false
		if t.Settle != nil && s.d.forUpdate != "" {
			// Confirmations of one exchange queue on its row, so that the
			// last one sees the others' final states (MySQL; SQLite's
			// writes are serial anyway). Exchange before recipients, the
			// order every writer locks them in.
			if _, _, _, err := s.exchangeState(ctx, tx, t.ExchangeID, s.d.forUpdate); err != nil {
				return err
			}
		}
		q := "UPDATE recipients SET status = ?"
		args := []any{t.To}
		switch {
		case t.To == RecipientNotified:
			q += ", notified_at = ?"
			args = append(args, micros(at))
		case t.To == RecipientReady:
			q += ", ready_at = ?"
			args = append(args, micros(at))
		case FinalRecipient(t.To):
			q += ", done_at = ?"
			args = append(args, micros(at))
		}
		if t.Outcome != "" {
			q += ", outcome = ?"
			args = append(args, t.Outcome)
		}
		if len(t.From) == 0 {
			return bus.ErrExchangeState.New("recipient %s of %s: no status to move from", t.Recipient, t.ExchangeID)
		}
		q += " WHERE exchange_id = ? AND code = ? AND status IN (" + placeholders(len(t.From)) + ")"
		args = append(args, t.ExchangeID, t.Recipient)
		for _, f := range t.From {
			args = append(args, f)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("moving recipient %s of %s to %s: %w", t.Recipient, t.ExchangeID, t.To, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			var status string
			err := tx.QueryRowContext(ctx, "SELECT status FROM recipients WHERE exchange_id = ? AND code = ?"+s.d.forUpdate, t.ExchangeID, t.Recipient).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) {
				return bus.ErrExchangeNotFound.New("%s has no recipient %s", t.ExchangeID, t.Recipient)
			}
			if err != nil {
				return fmt.Errorf("reading recipient %s of %s: %w", t.Recipient, t.ExchangeID, err)
			}
			if !slices.Contains(t.From, status) {
				return bus.ErrExchangeState.New("recipient %s of %s is %s, not %s", t.Recipient, t.ExchangeID, status, strings.Join(t.From, " or "))
			}
			// Matched, but nothing changed (MySQL counts changed rows).
		}
		ev := t.Event
		if ev.Kind == "" {
			ev.Kind = t.To
		}
		if ev.Recipient == "" {
			ev.Recipient = t.Recipient
		}
		if t.Settle == nil {
			return insertEvents(ctx, tx, t.ExchangeID, at, []Event{ev})
		}
		args = append([]any{t.ExchangeID}, finalRecipientStatuses...)
		var open int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM recipients WHERE exchange_id = ? AND status NOT IN ("+placeholders(len(finalRecipientStatuses))+")", args...).Scan(&open); err != nil {
			return fmt.Errorf("counting open recipients of %s: %w", t.ExchangeID, err)
		}
		if open > 0 {
			return insertEvents(ctx, tx, t.ExchangeID, at, []Event{ev})
		}
		var err2 error
		settled, err2 = s.purgeTx(ctx, tx, t.ExchangeID, t.Settle.Status, "", at, append([]Event{ev}, t.Settle.Events...))
		return err2
	})
	if err != nil {
		return err
	}
	if settled && s.afterPurge != nil {
		if err := s.afterPurge(ctx); err != nil {
			return fmt.Errorf("after purging %s: %w", t.ExchangeID, err)
		}
	}
	return nil
}

// Inbox returns every status of the recipient when statuses is empty.
func (s *sqlStore) Inbox(ctx context.Context, code string, statuses []string, limit int) ([]InboxItem, error) {
	q := "SELECT " + prefixed("e", exchangeCols) + ", " + prefixed("r", recipientCols) +
		" FROM recipients r JOIN exchanges e ON e.id = r.exchange_id WHERE r.code = ?"
	args := []any{code}
	if len(statuses) > 0 {
		q += " AND r.status IN (" + placeholders(len(statuses)) + ")"
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	q += " ORDER BY r.due_at, r.exchange_id LIMIT ?"
	args = append(args, limitOr(limit))
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing inbox of %s: %w", code, err)
	}
	defer rows.Close()
	var out []InboxItem
	for rows.Next() {
		var it InboxItem
		var te, tr [4]int64
		if err := rows.Scan(append(exchangeDest(&it.Exchange, &te), recipientDest(&it.Recipient, &tr)...)...); err != nil {
			return nil, fmt.Errorf("listing inbox of %s: %w", code, err)
		}
		setExchangeTimes(&it.Exchange, &te)
		setRecipientTimes(&it.Recipient, &tr)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing inbox of %s: %w", code, err)
	}
	return out, nil
}

var finalRecipientStatuses = []any{RecipientConfirmed, RecipientRejected, RecipientExpired, RecipientCancelled, RecipientFailed}

// Purge accepts the final exchange statuses only. An empty recipientStatus
// leaves the recipients as they are.
func (s *sqlStore) Purge(ctx context.Context, id, status, recipientStatus string, at time.Time, events ...Event) error {
	if !finalExchange(status) {
		return fmt.Errorf("purging %s: %q is not a final exchange status", id, status)
	}
	if recipientStatus != "" && !FinalRecipient(recipientStatus) {
		return fmt.Errorf("purging %s: %q is not a final recipient status", id, recipientStatus)
	}
	at = orNow(at)
	err := s.write(ctx, func(tx *txx) error {
		_, err := s.purgeTx(ctx, tx, id, status, recipientStatus, at, events)
		return err
	})
	if err != nil {
		return err
	}
	if s.afterPurge != nil {
		if err := s.afterPurge(ctx); err != nil {
			return fmt.Errorf("after purging %s: %w", id, err)
		}
	}
	return nil
}

// purgeTx is Purge inside a write transaction: it reports false (and
// writes nothing) when the exchange is purged already. The exchange row is
// marked first, with one conditional UPDATE (it is read only when that
// matches nothing), so that on MySQL it is locked before its recipients and
// chunks, as every writer locks them.
func (s *sqlStore) purgeTx(ctx context.Context, tx *txx, id, status, recipientStatus string, at time.Time, events []Event) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE exchanges SET wrapped_key = NULL, status = ?, purged_at = ?, updated_at = ? WHERE id = ? AND purged_at = 0",
		status, micros(at), micros(at), id)
	if err != nil {
		return false, fmt.Errorf("purging exchange %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		var purged int64
		err := tx.QueryRowContext(ctx, "SELECT purged_at FROM exchanges WHERE id = ?"+s.d.forUpdate, id).Scan(&purged)
		if errors.Is(err, sql.ErrNoRows) {
			return false, bus.ErrExchangeNotFound.New("%s", id)
		}
		if err != nil {
			return false, fmt.Errorf("reading exchange %s: %w", id, err)
		}
		if purged != 0 {
			return false, nil
		}
		return false, fmt.Errorf("purging exchange %s: no row changed", id)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE exchange_id = ?", id); err != nil {
		return false, fmt.Errorf("deleting chunks of %s: %w", id, err)
	}
	if recipientStatus != "" {
		args := append([]any{recipientStatus, micros(at), id}, finalRecipientStatuses...)
		if _, err := tx.ExecContext(ctx, "UPDATE recipients SET status = ?, done_at = ? WHERE exchange_id = ? AND status NOT IN ("+placeholders(len(finalRecipientStatuses))+")", args...); err != nil {
			return false, fmt.Errorf("closing recipients of %s: %w", id, err)
		}
	}
	if err := s.rollupExchange(ctx, tx, id); err != nil {
		return false, err
	}
	return true, insertEvents(ctx, tx, id, at, events)
}

func (s *sqlStore) Expired(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.queryIDs(ctx, "listing expired exchanges",
		"SELECT id FROM exchanges WHERE purged_at = 0 AND expires_at > 0 AND expires_at <= ? ORDER BY expires_at, id LIMIT ?",
		micros(orNow(now)), limitOr(limit))
}

// queryIDs runs a query whose one column is an id and collects it; errors
// name what was being done.
func (s *sqlStore) queryIDs(ctx context.Context, what, q string, args ...any) ([]string, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids, err := collect(rows, func(sc interface{ Scan(...any) error }) (id string, err error) { return id, sc.Scan(&id) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}

func (s *sqlStore) Settled(ctx context.Context, limit int) ([]string, error) {
	args := append([]any{ExchangeAccepted}, finalRecipientStatuses...)
	args = append(args, limitOr(limit))
	return s.queryIDs(ctx, "listing settled exchanges", "SELECT e.id FROM exchanges e WHERE e.status = ? AND e.purged_at = 0 AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.exchange_id = e.id AND r.status NOT IN ("+placeholders(len(finalRecipientStatuses))+")) ORDER BY e.id LIMIT ?", args...)
}
