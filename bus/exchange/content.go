package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// chunkReader streams the decrypted payload of an exchange from a plaintext
// offset, one chunk in memory at a time.
type chunkReader struct {
	ctx    context.Context
	st     store.ExchangeStore
	dk     *vault.DataKey
	id     string
	index  []store.ChunkInfo
	i      int   // next chunk in index
	skip   int64 // bytes to drop from the first chunk
	remain int64 // bytes still to return; -1 = to the end
	cur    []byte
	// onEnd, if set, runs once just before the last bytes are returned, so
	// that what it records is committed before the reader's consumer can
	// have received the whole content.
	onEnd func()
}

// open returns a reader of length bytes from offset (length < 0: to the end).
func (s *Service) open(ctx context.Context, ex store.Exchange, offset, length int64) (*chunkReader, error) {
	if ex.WrappedKey == nil {
		return nil, bus.ErrExchangePurged.New("%s has no content", ex.ID)
	}
	dk, err := s.vault.UnwrapDataKey(ex.ID, ex.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("unwrapping data key of %s: %w", ex.ID, err)
	}
	idx, err := s.store.ChunkIndex(ctx, ex.ID)
	if err != nil {
		return nil, fmt.Errorf("listing chunks of %s: %w", ex.ID, err)
	}
	i := sort.Search(len(idx), func(i int) bool { return idx[i].Offset+idx[i].Size > offset })
	r := &chunkReader{ctx: ctx, st: s.store, dk: dk, id: ex.ID, index: idx, i: i, remain: length}
	if i < len(idx) {
		r.skip = offset - idx[i].Offset
	}
	return r, nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, io.EOF
	}
	for len(r.cur) == 0 {
		if r.i >= len(r.index) {
			return 0, io.EOF
		}
		ci := r.index[r.i]
		c, err := r.st.GetChunk(r.ctx, r.id, ci.Offset)
		if err != nil {
			return 0, fmt.Errorf("reading chunk at %d of %s: %w", ci.Offset, r.id, err)
		}
		plain, err := r.dk.OpenChunk(r.id, ci.Offset, c.Data)
		if err != nil {
			return 0, fmt.Errorf("decrypting chunk at %d of %s: %w", ci.Offset, r.id, err)
		}
		r.i++
		r.cur = plain[r.skip:]
		r.skip = 0
	}
	if r.remain > 0 && int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	if r.remain > 0 {
		r.remain -= int64(n)
	}
	if r.onEnd != nil && (r.remain == 0 || (len(r.cur) == 0 && r.i >= len(r.index))) {
		end := r.onEnd
		r.onEnd = nil
		end()
	}
	return n, nil
}

func (r *chunkReader) Close() error { r.cur = nil; return nil }

// message builds the bus.Message a route's steps see for ex, whose
// content is stored.
func (s *Service) message(ctx context.Context, ex *store.Exchange) *bus.Message {
	m := s.baseMessage(ex)
	m.Open = func() (io.ReadCloser, error) { return s.open(ctx, *ex, 0, -1) }
	m.Replace = func(ctx context.Context, mediaType string, r io.Reader) error {
		size, sum, wrapped, err := s.replace(ctx, ex.ID, ex.Source, mediaType, r)
		if err != nil {
			return err
		}
		ex.WrappedKey, ex.Size, ex.Received, ex.SHA256, ex.MediaType = wrapped, size, size, sum, mediaType
		m.Size, m.SHA256, m.MediaType = size, sum, mediaType
		return nil
	}
	return m
}

// baseMessage is the bus.Message of ex without Open and Replace.
func (s *Service) baseMessage(ex *store.Exchange) *bus.Message {
	m := &bus.Message{
		ExchangeID: ex.ID, Source: ex.Source, Title: ex.Title, Importance: ex.Importance,
		DataType: ex.DataType, Protocol: ex.Protocol, MediaType: ex.MediaType, Size: ex.Size, SHA256: ex.SHA256,
	}
	for _, r := range ex.Recipients {
		m.Recipients = append(m.Recipients, r.Code)
	}
	m.SpeaksFor = func(ctx context.Context, organ string) error { return s.CheckSender(ctx, ex.Source, organ) }
	return m
}

// replace re-encrypts a transformed payload under a new data key and swaps
// it in. Transformed payloads are bounded by the route's size limit; they
// are sealed chunk by chunk as read.
func (s *Service) replace(ctx context.Context, id, source, mediaType string, r io.Reader) (int64, string, []byte, error) {
	dk, wrapped, err := s.vault.NewDataKey(id)
	if err != nil {
		return 0, "", nil, err
	}
	h := sha256.New()
	var chunks []store.Chunk
	buf := make([]byte, s.cfg.ChunkSize)
	var pos int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			chunks = append(chunks, store.Chunk{ExchangeID: id, Offset: pos, Size: int64(n), Data: dk.SealChunk(id, pos, buf[:n])})
			pos += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return 0, "", nil, rerr
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := s.store.ReplaceContent(ctx, id, wrapped, pos, sum, mediaType, chunks, s.event(id, "transformed", "lgsp", "", map[string]any{"source": source, "size": pos, "sha256": sum, "media_type": mediaType})); err != nil {
		return 0, "", nil, err
	}
	return pos, sum, wrapped, nil
}
