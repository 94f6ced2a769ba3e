package xmldsig

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanCanon is streamCanon with a byte scanner over a document held in
// memory in place of encoding/xml: the same canonicaliser, driven by a
// tokenizer that copies text only to escape it. It is at least as strict
// as encoding/xml on everything that reaches the output, and stricter
// elsewhere (ASCII names only; no "]]>" in text; no "--" in comments);
// what it refuses, the caller takes to the DOM path. Its output equals
// streamCanon's and goxmldsig's (TestStreamCanonMatchesGoxmldsig,
// FuzzStreamCanon).
func scanCanon(doc []byte, w io.Writer, m streamMethod) error {
	c := newCanon(w, m)
	s := &scanner{doc: doc}
	if err := s.run(c); err != nil {
		return err
	}
	return c.finish()
}

type scanner struct {
	doc []byte
	i   int
	buf []byte // decoded text of one run between markup
}

func scanErr(what string) error { return fmt.Errorf("%w: %s", errStream, what) }

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func isNameByte(b byte, first bool) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_', b == ':':
		return true
	case b >= '0' && b <= '9', b == '-', b == '.':
		return !first
	}
	return false
}

// name reads an ASCII name and splits it at its colon.
func (s *scanner) name() (xml.Name, error) {
	j := s.i
	for j < len(s.doc) && isNameByte(s.doc[j], j == s.i) {
		j++
	}
	if j == s.i {
		return xml.Name{}, scanErr("name expected")
	}
	n := string(s.doc[s.i:j])
	s.i = j
	if k := strings.IndexByte(n, ':'); k >= 0 {
		if k == 0 || k == len(n)-1 || strings.IndexByte(n[k+1:], ':') >= 0 {
			return xml.Name{}, scanErr("bad qualified name")
		}
		return xml.Name{Space: n[:k], Local: n[k+1:]}, nil
	}
	return xml.Name{Local: n}, nil
}

func (s *scanner) skipSpace() {
	for s.i < len(s.doc) && isSpace(s.doc[s.i]) {
		s.i++
	}
}

// checkChars refuses what encoding/xml refuses in text: invalid UTF-8
// and characters outside the XML character range.
func checkChars(b []byte) error {
	ascii := true
	check := func(c byte) error {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return scanErr("control character")
		}
		if c >= 0x80 {
			ascii = false
		}
		return nil
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		// Eight bytes at a time: none has the high bit set and none is
		// below 0x20 (a borrow only starts at a byte below 0x20, which
		// is caught itself), the common case of base64 text.
		w := binary.LittleEndian.Uint64(b[i:])
		if (w|(w-0x2020202020202020))&0x8080808080808080 == 0 {
			continue
		}
		for _, c := range b[i : i+8] {
			if err := check(c); err != nil {
				return err
			}
		}
	}
	for _, c := range b[i:] {
		if err := check(c); err != nil {
			return err
		}
	}
	if ascii {
		return nil
	}
	if !utf8.Valid(b) || bytes.Contains(b, []byte("\uFFFE")) || bytes.Contains(b, []byte("\uFFFF")) {
		return scanErr("invalid character")
	}
	return nil
}

// decode appends to dst the character data of raw (text or an attribute
// value): references resolved, CR LF and lone CR read as LF.
func decode(dst, raw []byte) ([]byte, error) {
	if err := checkChars(raw); err != nil {
		return nil, err
	}
	for len(raw) > 0 {
		k := bytes.IndexAny(raw, "&\r<")
		if k < 0 {
			dst = append(dst, raw...)
			break
		}
		dst = append(dst, raw[:k]...)
		raw = raw[k:]
		switch raw[0] {
		case '<':
			return nil, scanErr("< in a value")
		case '\r':
			dst = append(dst, '\n')
			raw = raw[1:]
			if len(raw) > 0 && raw[0] == '\n' {
				raw = raw[1:]
			}
		case '&':
			e := bytes.IndexByte(raw, ';')
			if e < 0 || e > 12 {
				return nil, scanErr("bad reference")
			}
			ref := string(raw[1:e])
			raw = raw[e+1:]
			switch ref {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "apos":
				dst = append(dst, '\'')
			case "quot":
				dst = append(dst, '"')
			default:
				if len(ref) < 2 || ref[0] != '#' {
					return nil, scanErr("unknown entity")
				}
				var n uint64
				var err error
				if ref[1] == 'x' {
					n, err = strconv.ParseUint(ref[2:], 16, 32)
				} else {
					n, err = strconv.ParseUint(ref[1:], 10, 32)
				}
				r := rune(n)
				if err != nil || !(r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
					return nil, scanErr("bad character reference")
				}
				dst = utf8.AppendRune(dst, r)
			}
		}
	}
	return dst, nil
}

func (s *scanner) run(c *canon) error {
	doc := s.doc
	if bytes.HasPrefix(doc, []byte("<?xml")) && len(doc) > 5 && isSpace(doc[5]) {
		e := bytes.Index(doc, []byte("?>"))
		if e < 0 {
			return scanErr("unterminated declaration")
		}
		decl := string(doc[:e])
		if k := strings.Index(decl, "encoding"); k >= 0 {
			rest := strings.TrimLeft(decl[k+len("encoding"):], " \t\r\n")
			rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t\r\n")
			if len(rest) < 2 || rest[0] != '"' && rest[0] != '\'' {
				return scanErr("bad encoding declaration")
			}
			q := strings.IndexByte(rest[1:], rest[0])
			if q < 0 {
				return scanErr("bad encoding declaration")
			}
			if _, err := utf8Only(rest[1:1+q], nil); err != nil {
				return scanErr("encoding")
			}
		}
		s.i = e + 2
	}
	for s.i < len(doc) {
		if doc[s.i] != '<' {
			// Text: up to the next markup.
			k := bytes.IndexByte(doc[s.i:], '<')
			if k < 0 {
				k = len(doc) - s.i
			}
			raw := doc[s.i : s.i+k]
			s.i += k
			if bytes.Contains(raw, []byte("]]>")) {
				return scanErr("]]> in text")
			}
			if len(c.stack) == 0 || c.skip > 0 {
				if err := checkChars(raw); err != nil {
					return err
				}
				if err := c.text(raw); err != nil { // only whitespace passes outside the root
					return err
				}
				continue
			}
			if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
				// Nothing to resolve (an attachment's base64): escape
				// straight from the document, no copy.
				if err := checkChars(raw); err != nil {
					return err
				}
				if err := c.text(raw); err != nil {
					return err
				}
				continue
			}
			var err error
			if s.buf, err = decode(s.buf[:0], raw); err != nil {
				return err
			}
			if err := c.text(s.buf); err != nil {
				return err
			}
			continue
		}
		rest := doc[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			e := bytes.Index(rest[4:], []byte("--"))
			if e < 0 || !bytes.HasPrefix(rest[4+e:], []byte("-->")) {
				return scanErr("bad comment")
			}
			if err := checkChars(rest[4 : 4+e]); err != nil {
				return err
			}
			s.i += 4 + e + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if len(c.stack) == 0 {
				return scanErr("CDATA outside the root")
			}
			e := bytes.Index(rest[9:], []byte("]]>"))
			if e < 0 {
				return scanErr("unterminated CDATA")
			}
			raw := rest[9 : 9+e]
			s.i += 9 + e + 3
			if err := checkChars(raw); err != nil {
				return err
			}
			s.buf = s.buf[:0]
			for len(raw) > 0 {
				k := bytes.IndexByte(raw, '\r')
				if k < 0 {
					s.buf = append(s.buf, raw...)
					break
				}
				s.buf = append(append(s.buf, raw[:k]...), '\n')
				raw = raw[k+1:]
				if len(raw) > 0 && raw[0] == '\n' {
					raw = raw[1:]
				}
			}
			if err := c.text(s.buf); err != nil {
				return err
			}
		case bytes.HasPrefix(rest, []byte("<?")):
			s.i += 2
			n, err := s.name()
			if err != nil || n.Space != "" || strings.EqualFold(n.Local, "xml") {
				return scanErr("bad processing instruction")
			}
			e := bytes.Index(doc[s.i:], []byte("?>"))
			if e < 0 {
				return scanErr("unterminated processing instruction")
			}
			data := doc[s.i : s.i+e]
			s.i += e + 2
			if len(data) > 0 && !isSpace(data[0]) {
				return scanErr("bad processing instruction")
			}
			if err := checkChars(data); err != nil {
				return err
			}
			if bytes.IndexByte(data, '\r') >= 0 {
				return scanErr("CR in a processing instruction")
			}
			c.pi(n.Local, bytes.TrimLeft(data, " \t\n"))
		case bytes.HasPrefix(rest, []byte("<!")):
			return scanErr("document declaration")
		case bytes.HasPrefix(rest, []byte("</")):
			s.i += 2
			n, err := s.name()
			if err != nil {
				return err
			}
			s.skipSpace()
			if s.i >= len(doc) || doc[s.i] != '>' {
				return scanErr("bad end tag")
			}
			s.i++
			c.tagEnd = s.i
			if err := c.end(n); err != nil {
				return err
			}
		default:
			c.tagStart = s.i
			s.i++
			n, err := s.name()
			if err != nil {
				return err
			}
			var attrs []xml.Attr
			empty := false
			for {
				sp := s.i
				s.skipSpace()
				if s.i >= len(doc) {
					return scanErr("unterminated start tag")
				}
				if doc[s.i] == '>' {
					s.i++
					break
				}
				if doc[s.i] == '/' {
					if s.i+1 >= len(doc) || doc[s.i+1] != '>' {
						return scanErr("bad start tag")
					}
					s.i += 2
					empty = true
					break
				}
				if s.i == sp {
					return scanErr("attributes need space between them")
				}
				an, err := s.name()
				if err != nil {
					return err
				}
				s.skipSpace()
				if s.i >= len(doc) || doc[s.i] != '=' {
					return scanErr("attribute without a value")
				}
				s.i++
				s.skipSpace()
				if s.i >= len(doc) || doc[s.i] != '"' && doc[s.i] != '\'' {
					return scanErr("unquoted attribute value")
				}
				q := doc[s.i]
				e := bytes.IndexByte(doc[s.i+1:], q)
				if e < 0 {
					return scanErr("unterminated attribute value")
				}
				raw := doc[s.i+1 : s.i+1+e]
				s.i += e + 2
				var val string
				if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 && bytes.IndexByte(raw, '<') < 0 {
					// Nothing to decode: one copy, not two.
					if err := checkChars(raw); err != nil {
						return err
					}
					val = string(raw)
				} else {
					v, err := decode(nil, raw)
					if err != nil {
						return err
					}
					val = string(v)
				}
				attrs = append(attrs, xml.Attr{Name: an, Value: val})
			}
			if err := c.start(n, attrs); err != nil {
				return err
			}
			if empty {
				c.tagEnd = s.i
				if err := c.end(n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
