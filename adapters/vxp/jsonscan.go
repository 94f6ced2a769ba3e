package vxp

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseFlatObject parses a JSON object whose values are strings, keeping
// the order of its keys.
func parseFlatObject(s string) (keys, vals []string, err error) {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		v, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		vs, ok := v.(string)
		if !ok {
			return nil, nil, fmt.Errorf("value of %v is not a string", k)
		}
		keys, vals = append(keys, k.(string)), append(vals, vs)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return keys, vals, nil
}

// scanner reads a JSON document from a stream without holding it: the
// getEdoc answer carries the whole .edxml as one base64 string ("data"),
// tens of MB, which is decoded while it is read.
type scanner struct {
	br *bufio.Reader
}

const maxScalar = 1 << 20 // longest string or number kept in memory

func (s *scanner) ws() (byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

// str reads the rest of a string whose opening quote was read.
func (s *scanner) str() (string, error) {
	var b strings.Builder
	r := &strReader{s: s}
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if b.Len() > maxScalar {
			return "", errors.New("JSON string too long")
		}
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// value reads one value starting with c: scalars are returned as text
// (strings unescaped), objects and arrays are skipped ("" returned).
func (s *scanner) value(c byte) (string, error) {
	switch c {
	case '"':
		return s.str()
	case '{', '[':
		depth := 1
		for depth > 0 {
			c, err := s.br.ReadByte()
			if err != nil {
				return "", err
			}
			switch c {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			case '"':
				if _, err := s.str(); err != nil {
					return "", err
				}
			}
		}
		return "", nil
	default:
		var b strings.Builder
		b.WriteByte(c)
		for {
			c, err := s.br.ReadByte()
			if err == io.EOF {
				return b.String(), nil
			}
			if err != nil {
				return "", err
			}
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				_ = s.br.UnreadByte()
				return b.String(), nil
			}
			if b.Len() > 64 {
				return "", errors.New("JSON literal too long")
			}
			b.WriteByte(c)
		}
	}
}

// strReader yields the unescaped bytes of a JSON string up to its closing
// quote, then io.EOF.
type strReader struct {
	s    *scanner
	done bool
	pend []byte
}

func (r *strReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pend) > 0 {
			c := copy(p[n:], r.pend)
			r.pend = r.pend[c:]
			n += c
			continue
		}
		if r.done {
			break
		}
		c, err := r.s.br.ReadByte()
		if err == io.EOF {
			return n, io.ErrUnexpectedEOF
		}
		if err != nil {
			return n, err
		}
		switch c {
		case '"':
			r.done = true
		case '\\':
			e, err := r.s.br.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			switch e {
			case '"', '\\', '/':
				p[n] = e
				n++
			case 'n':
				p[n] = '\n'
				n++
			case 'r':
				p[n] = '\r'
				n++
			case 't':
				p[n] = '\t'
				n++
			case 'b':
				p[n] = '\b'
				n++
			case 'f':
				p[n] = '\f'
				n++
			case 'u':
				var hx [4]byte
				if _, err := io.ReadFull(r.s.br, hx[:]); err != nil {
					return n, io.ErrUnexpectedEOF
				}
				v, err := strconv.ParseUint(string(hx[:]), 16, 16)
				if err != nil {
					return n, fmt.Errorf("bad JSON escape \\u%s", hx[:])
				}
				r.pend = utf8.AppendRune(nil, rune(v))
			default:
				return n, fmt.Errorf("bad JSON escape \\%c", e)
			}
		default:
			p[n] = c
			n++
		}
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}
