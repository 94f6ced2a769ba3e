package xmlscan

import "bytes"

// Check pre-scans doc and returns a *LimitError for the first limit it
// crosses, a *DeclarationError for a markup declaration (<!DOCTYPE …), or
// nil. It allocates nothing per token and reads doc once, so it is cheap to
// run before a DOM parser.
//
// Check does not judge well-formedness: where doc stops being XML that a
// parser could accept (a '<' without a name, an unterminated comment or
// quote) it returns nil and leaves the error to the parser, which fails at
// that point too; everything before it was counted. Quoted attribute values,
// comments, CDATA sections and processing instructions are skipped as a
// parser skips them, so markup hidden in them is not counted and a '>' in
// an attribute value does not end a tag.
func Check(doc []byte, l Limits) error {
	s := scanner{doc: doc, c: Counter{L: l.WithDefaults()}}
	return s.run()
}

type scanner struct {
	doc []byte
	i   int
	c   Counter
}

// at fills in the position of off.
func (s *scanner) at(e *LimitError, off int) error {
	e.Offset = int64(off)
	e.Line, e.Col = lineCol(s.doc, off)
	return e
}

func lineCol(doc []byte, off int) (line, col int) {
	before := doc[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = off + 1
	if k := bytes.LastIndexByte(before, '\n'); k >= 0 {
		col = off - k
	}
	return line, col
}

var (
	commentOpen = []byte("<!--")
	cdataOpen   = []byte("<![CDATA[")
)

func (s *scanner) run() error {
	for {
		j := bytes.IndexByte(s.doc[s.i:], '<')
		if j < 0 {
			return nil
		}
		s.i += j
		start := s.i
		rest := s.doc[s.i:]
		var ok bool
		switch {
		case bytes.HasPrefix(rest, commentOpen):
			ok = s.skipPast(start+4, "-->")
		case bytes.HasPrefix(rest, cdataOpen):
			ok = s.skipPast(start+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			ok = s.skipPast(start+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			line, col := lineCol(s.doc, start)
			return &DeclarationError{Line: line, Col: col, Offset: int64(start)}
		case bytes.HasPrefix(rest, []byte("</")):
			s.c.End()
			ok = s.skipPast(start+2, ">")
			continue
		default:
			var err error
			if ok, err = s.startTag(); err != nil {
				return err
			}
			if !ok {
				return nil
			}
			continue
		}
		if !ok {
			return nil
		}
		if e := s.c.Node(); e != nil {
			return s.at(e, start)
		}
	}
}

// skipPast moves past the first end at or after from; false when there is none.
func (s *scanner) skipPast(from int, end string) bool {
	k := bytes.Index(s.doc[from:], []byte(end))
	if k < 0 {
		s.i = len(s.doc)
		return false
	}
	s.i = from + k + len(end)
	return true
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// name reads a name at s.i up to a blank, '/', '>' or '='.
func (s *scanner) name() []byte {
	j := s.i
	for j < len(s.doc) {
		b := s.doc[j]
		if isBlank(b) || b == '/' || b == '>' || b == '=' {
			break
		}
		j++
	}
	n := s.doc[s.i:j]
	s.i = j
	return n
}

// nameTooLong reports whether the prefix or the local part of a qualified
// name is longer than the limit.
func (s *scanner) nameTooLong(n []byte) bool {
	prefix, local := []byte(nil), n
	if k := bytes.IndexByte(n, ':'); k >= 0 {
		prefix, local = n[:k], n[k+1:]
	}
	return len(prefix) > s.c.L.MaxNameBytes || len(local) > s.c.L.MaxNameBytes
}

func (s *scanner) skipBlanks() {
	for s.i < len(s.doc) && isBlank(s.doc[s.i]) {
		s.i++
	}
}

// startTag reads one start tag at s.i (on its '<'): name, attributes, and
// whether it closes itself. ok is false where the input stops being XML.
func (s *scanner) startTag() (ok bool, err error) {
	start := s.i
	s.i++
	n := s.name()
	if len(n) == 0 {
		return false, nil
	}
	local := n
	if k := bytes.IndexByte(n, ':'); k >= 0 {
		local = n[k+1:]
	}
	if s.nameTooLong(n) {
		return false, s.at(&LimitError{Limit: LimitNameBytes, Max: s.c.L.MaxNameBytes}, start)
	}
	if e := s.c.open(len(local)); e != nil {
		return false, s.at(e, start)
	}
	attrs := 0
	for {
		s.skipBlanks()
		if s.i >= len(s.doc) {
			return false, nil
		}
		switch s.doc[s.i] {
		case '>':
			s.i++
			return true, nil
		case '/':
			s.c.End() // <a/>: opened and closed
			return s.skipPast(s.i, ">"), nil
		}
		attrAt := s.i
		an := s.name()
		if len(an) == 0 {
			return false, nil
		}
		if s.nameTooLong(an) {
			return false, s.at(&LimitError{Limit: LimitNameBytes, Max: s.c.L.MaxNameBytes}, attrAt)
		}
		if attrs++; attrs > s.c.L.MaxAttrsPerElement {
			return false, s.at(&LimitError{Limit: LimitAttrsPerElement, Max: s.c.L.MaxAttrsPerElement}, attrAt)
		}
		if e := s.c.attr(1); e != nil {
			return false, s.at(e, attrAt)
		}
		s.skipBlanks()
		if s.i >= len(s.doc) || s.doc[s.i] != '=' {
			continue // a value-less attribute: a parser refuses it
		}
		s.i++
		s.skipBlanks()
		if s.i >= len(s.doc) {
			return false, nil
		}
		if q := s.doc[s.i]; q == '"' || q == '\'' {
			if !s.skipPast(s.i+1, string(q)) {
				return false, nil
			}
			continue
		}
		for s.i < len(s.doc) && !isBlank(s.doc[s.i]) && s.doc[s.i] != '>' {
			s.i++ // unquoted value (lenient parsers)
		}
	}
}
