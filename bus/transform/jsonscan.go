package transform

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The JSON scanner of PacketFromJSON: it copies the document to a skeleton
// (held in memory, bounded) except the values of files[i].content_base64,
// which it checks as base64 while streaming them to nowhere, recording where
// they are so that openSpan can stream them again when the packet is built.

// placeholder replaces a content_base64 value in the skeleton.
const placeholder = "#b64:"

// maxDepth bounds the nesting of the JSON document.
const maxDepth = 32

// span is where one content_base64 string lies in the JSON (the bytes
// between its quotes) and its decoded size.
type span struct {
	start, end int64
	size       int64
	file       int
}

type countingReader struct {
	r   *bufio.Reader
	off int64
}

func newCountingReader(r io.Reader) *countingReader {
	return &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
}

func (c *countingReader) next() (byte, error) {
	b, err := c.r.ReadByte()
	if err == io.EOF {
		return 0, badf("JSON document ends too early (at byte %d)", c.off)
	}
	if err != nil {
		return 0, err
	}
	c.off++
	return b, nil
}

func (c *countingReader) back() {
	_ = c.r.UnreadByte()
	c.off--
}

type scanner struct {
	r     *countingReader
	skel  []byte
	max   int
	spans []span
	files int // index of the next files[] element
}

// where a value sits, as far as the scanner cares.
type where int

const (
	wOther   where = iota
	wRoot          // the document
	wFiles         // the value of the root's "files"
	wFile          // an element of files
	wContent       // the content_base64 of a file
)

func (s *scanner) emit(b ...byte) error {
	s.skel = append(s.skel, b...)
	if len(s.skel) > s.max {
		return badf("JSON document: more than %d bytes outside files[].content_base64", s.max)
	}
	return nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// nonSpace returns the next byte that is not white space.
func (s *scanner) nonSpace() (byte, error) {
	for {
		b, err := s.r.next()
		if err != nil || !isSpace(b) {
			return b, err
		}
	}
}

func (s *scanner) document() error {
	b, err := s.nonSpace()
	if err != nil {
		return err
	}
	if b != '{' {
		return badf("JSON document: expected an object at byte %d, found %q", s.r.off, b)
	}
	if err := s.value(b, wRoot, 0); err != nil {
		return err
	}
	for {
		b, err := s.r.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		s.r.off++
		if !isSpace(b) {
			return badf("JSON document: data after the object at byte %d", s.r.off)
		}
	}
}

func (s *scanner) value(b byte, w where, depth int) error {
	if depth > maxDepth {
		return badf("JSON document: nested deeper than %d at byte %d", maxDepth, s.r.off)
	}
	switch b {
	case '{':
		return s.object(w, depth)
	case '[':
		return s.array(w, depth)
	case '"':
		if w == wContent {
			return s.content()
		}
		_, err := s.str(false)
		return err
	}
	// number or literal: copy up to a delimiter; encoding/json checks it.
	if err := s.emit(b); err != nil {
		return err
	}
	for {
		c, err := s.r.next()
		if err != nil {
			return err
		}
		if isSpace(c) || c == ',' || c == '}' || c == ']' {
			s.r.back()
			return nil
		}
		if err := s.emit(c); err != nil {
			return err
		}
	}
}

func (s *scanner) object(w where, depth int) error {
	if err := s.emit('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		b, err := s.nonSpace()
		if err != nil {
			return err
		}
		if b == '}' && first {
			return s.emit('}')
		}
		if b != '"' {
			return badf("JSON document: expected a field name at byte %d, found %q", s.r.off, b)
		}
		key, err := s.str(true)
		if err != nil {
			return err
		}
		if b, err = s.nonSpace(); err != nil {
			return err
		}
		if b != ':' {
			return badf("JSON document: expected ':' at byte %d, found %q", s.r.off, b)
		}
		if err := s.emit(':'); err != nil {
			return err
		}
		child := wOther
		switch {
		case w == wRoot && key == "files":
			child = wFiles
		case w == wFile && key == "content_base64":
			child = wContent
		}
		if b, err = s.nonSpace(); err != nil {
			return err
		}
		if err := s.value(b, child, depth+1); err != nil {
			return err
		}
		if b, err = s.nonSpace(); err != nil {
			return err
		}
		switch b {
		case ',':
			if err := s.emit(','); err != nil {
				return err
			}
		case '}':
			return s.emit('}')
		default:
			return badf("JSON document: expected ',' or '}' at byte %d, found %q", s.r.off, b)
		}
	}
}

func (s *scanner) array(w where, depth int) error {
	if err := s.emit('['); err != nil {
		return err
	}
	for first := true; ; first = false {
		b, err := s.nonSpace()
		if err != nil {
			return err
		}
		if b == ']' && first {
			return s.emit(']')
		}
		child := wOther
		if w == wFiles {
			child = wFile
		}
		if err := s.value(b, child, depth+1); err != nil {
			return err
		}
		if w == wFiles {
			s.files++
		}
		if b, err = s.nonSpace(); err != nil {
			return err
		}
		switch b {
		case ',':
			if err := s.emit(','); err != nil {
				return err
			}
		case ']':
			return s.emit(']')
		default:
			return badf("JSON document: expected ',' or ']' at byte %d, found %q", s.r.off, b)
		}
	}
}

// str copies a string (the opening quote is read) to the skeleton; with
// keep it also returns the raw text (field names, which are short).
func (s *scanner) str(keep bool) (string, error) {
	if err := s.emit('"'); err != nil {
		return "", err
	}
	var raw []byte
	escaped := false
	for {
		b, err := s.r.next()
		if err != nil {
			return "", err
		}
		if err := s.emit(b); err != nil {
			return "", err
		}
		switch {
		case escaped:
			escaped = false
		case b == '\\':
			escaped = true
		case b == '"':
			return string(raw), nil
		}
		if keep && len(raw) < 256 {
			raw = append(raw, b)
		}
	}
}

// content checks one content_base64 value and records its span.
func (s *scanner) content() error {
	sp := span{start: s.r.off, file: s.files}
	dec := base64.NewDecoder(base64.StdEncoding, &stringReader{r: s.r})
	n, err := io.Copy(io.Discard, dec)
	if err != nil {
		return contentErr(sp.file, err)
	}
	sp.end, sp.size = s.r.off-1, n
	s.spans = append(s.spans, sp)
	return s.emit([]byte(`"` + placeholder + strconv.Itoa(len(s.spans)-1) + `"`)...)
}

func contentErr(file int, err error) error {
	var ce base64.CorruptInputError
	var je *jsonError
	switch {
	case errors.As(err, &ce):
		return badf("files[%d].content_base64: invalid base64 at character %d", file, int64(ce))
	case errors.As(err, &je):
		return badf("files[%d].content_base64: %s", file, je.msg)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badf("files[%d].content_base64: base64 ends in the middle of a 4-character group (padding missing?)", file)
	}
	return err
}

// stringReader yields the characters of a JSON string holding base64 (the
// opening quote already read) up to its closing quote, unescaping "\/" and
// "\uXXXX" and dropping white space (literal or escaped).
type stringReader struct {
	r    *countingReader
	done bool
}

func (j *stringReader) Read(p []byte) (int, error) {
	if j.done {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) {
		b, err := j.r.next()
		if err != nil {
			return i, err
		}
		switch {
		case b == '"':
			j.done = true
			return i, io.EOF
		case b == '\\':
			c, err := j.r.next()
			if err != nil {
				return i, err
			}
			switch c {
			case '/':
				b = '/'
			case 'n', 'r', 't':
				continue
			case 'u':
				var hex [4]byte
				for k := range hex {
					if hex[k], err = j.r.next(); err != nil {
						return i, err
					}
				}
				v, err := strconv.ParseUint(string(hex[:]), 16, 16)
				if err != nil || v >= utf8.RuneSelf {
					return i, badf("unexpected escape \\u%s", hex[:])
				}
				b = byte(v)
				if isSpace(b) {
					continue
				}
			default:
				return i, badf("unexpected escape \\%c", c)
			}
		case b < 0x20 && b != '\t':
			return i, badf("control character %#x in a string", b)
		case isSpace(b):
			continue
		}
		p[i] = b
		i++
	}
	return i, nil
}

// openSpan re-reads the JSON from open and streams the decoded content of
// one file.
func openSpan(open func() (io.ReadCloser, error), sp span) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, sp.start); err != nil {
		rc.Close()
		return nil, fmt.Errorf("seeking to files[%d] in the JSON document: %w", sp.file, err)
	}
	cr := newCountingReader(io.LimitReader(rc, sp.end-sp.start+1))
	dec := base64.NewDecoder(base64.StdEncoding, &stringReader{r: cr})
	return struct {
		io.Reader
		io.Closer
	}{&sizeCheck{r: dec, want: sp.size, file: sp.file}, rc}, nil
}

// sizeCheck fails when the content read differs from what the first pass
// measured (the JSON changed between the passes).
type sizeCheck struct {
	r    io.Reader
	n    int64
	want int64
	file int
}

func (s *sizeCheck) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF && s.n != s.want {
		return n, fmt.Errorf("files[%d]: content changed while the packet was built (%d bytes, measured %d)", s.file, s.n, s.want)
	}
	return n, err
}
