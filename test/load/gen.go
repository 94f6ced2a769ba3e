package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
)

// The generated content is XML-ish text: a prolog and an opening element,
// lines of 76 printable characters drawn from a ChaCha8 stream, and a closing
// element — exactly size bytes (cut short when size is tiny). The same seed
// and size always give the same bytes, so a stream can be hashed in one pass
// and sent in a second without being held in memory.
const (
	genHead     = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<van-ban xmlns=\"urn:lgsp:thu-tai\">\n<noi-dung>\n"
	genTail     = "\n</noi-dung>\n</van-ban>\n"
	genLine     = 77 // 76 characters and a newline
	genAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// genReader is the io.Reader of the generated content.
type genReader struct {
	rng  *rand.ChaCha8
	size int64 // total bytes
	pos  int64 // bytes read so far
}

// newGen returns the content of seed, size bytes long.
func newGen(seed uint64, size int64) *genReader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "lgsp-load-generator-v1")
	return &genReader{rng: rand.NewChaCha8(key), size: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.pos >= g.size {
		return 0, io.EOF
	}
	if rest := g.size - g.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n := 0
	for n < len(p) {
		n += g.fill(p[n:])
	}
	return n, nil
}

// fill writes the bytes at g.pos into p (up to the end of the current region:
// head, body or tail) and advances; it returns how many it wrote.
func (g *genReader) fill(p []byte) int {
	head, tail := int64(len(genHead)), int64(len(genTail))
	bodyEnd := g.size - tail
	if bodyEnd < head { // tiny content: the head, cut to size
		bodyEnd = head
	}
	var n int
	switch {
	case g.pos < head:
		n = copy(p, genHead[g.pos:])
	case g.pos < bodyEnd:
		n = g.body(p[:min(int64(len(p)), bodyEnd-g.pos)], g.pos-head)
	default:
		n = copy(p, genTail[g.pos-bodyEnd:])
	}
	g.pos += int64(n)
	return n
}

// body fills p with body text starting at body offset off.
func (g *genReader) body(p []byte, off int64) int {
	_, _ = g.rng.Read(p)
	for i := range p {
		if (off+int64(i))%genLine == genLine-1 {
			p[i] = '\n'
		} else {
			p[i] = genAlphabet[p[i]&63]
		}
	}
	return len(p)
}

// genSHA256 hashes the content of seed and size by streaming it.
func genSHA256(seed uint64, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, newGen(seed, size), make([]byte, 256<<10)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
