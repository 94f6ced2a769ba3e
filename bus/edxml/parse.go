package edxml

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Options tunes Parse. The zero value is usable: attachments are decoded,
// measured (size, SHA-256, ZIP magic) and discarded.
type Options struct {
	// Sink, when set, receives every attachment's decoded bytes as a stream
	// while the packet is read. content is valid only during the call; what
	// the sink does not read is drained. An error from Sink aborts Parse.
	Sink func(meta AttachmentMeta, content io.Reader) error
	// SpoolDir, when set and Sink is nil, makes Parse write each decoded
	// attachment to a temporary file in that directory (Attachment.SpoolPath,
	// Attachment.Open); call Packet.Cleanup to remove them.
	SpoolDir string

	// Limits bounds the shape of the packet: elements, attributes (per
	// element and in total), nesting, name length, comments and processing
	// instructions (edxml.too_complex). Zero fields take xmlscan.Defaults.
	// The tree Parse keeps costs a bounded amount per element, so these
	// limits bound the memory of a packet whatever its size.
	Limits xmlscan.Limits

	MaxDepth           int   // element nesting; when set, overrides Limits.MaxDepth
	MaxHeaderBytes     int64 // bytes outside attachment content; default 16 MiB
	MaxTextBytes       int   // longest run of text, attribute or comment; default 1 MiB
	MaxAttachmentBytes int64 // decoded bytes per attachment; default 4 GiB
	MaxAttachments     int   // default 10000
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.MaxDepth > 0 {
		v.Limits.MaxDepth = v.MaxDepth
	}
	v.Limits = v.Limits.WithDefaults()
	v.MaxDepth = v.Limits.MaxDepth
	if v.MaxHeaderBytes <= 0 {
		v.MaxHeaderBytes = 16 << 20
	}
	if v.MaxTextBytes <= 0 {
		v.MaxTextBytes = 1 << 20
	}
	if v.MaxAttachmentBytes <= 0 {
		v.MaxAttachmentBytes = 4 << 30
	}
	if v.MaxAttachments <= 0 {
		v.MaxAttachments = 10000
	}
	return v
}

var errTextLimit = errors.New("text run too long")

// guard sits between the xml.Decoder and the buffered input. Because it is
// an io.ByteReader the decoder does not buffer on its own, so after a start
// tag the parser can read the attachment text straight from br. guard also
// bounds the longest run between markup characters, which bounds the size
// of any single token the decoder allocates.
type guard struct {
	br       *bufio.Reader
	run, max int
	last     [2]byte
}

func (g *guard) ReadByte() (byte, error) {
	b, err := g.br.ReadByte()
	if err != nil {
		return b, err
	}
	g.last[0], g.last[1] = g.last[1], b
	if b == '<' || b == '>' {
		g.run = 0
	} else if g.run++; g.run > g.max {
		return 0, errTextLimit
	}
	return b, nil
}

func (g *guard) Read(p []byte) (int, error) {
	// The decoder only uses ReadByte; Read exists for io.Reader.
	if len(p) == 0 {
		return 0, nil
	}
	b, err := g.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

type parser struct {
	o     Options
	g     *guard
	dec   *xml.Decoder
	cnt   *xmlscan.Counter
	pkt   *Packet
	stack []*Node
	// texts[i] collects the character data of stack[i] when it comes in
	// more than one token (text broken by comments, CDATA, references):
	// appending to Node.Text each time would copy it quadratically.
	texts [][]byte
	root  *Node
	ae    *Node // current AttachmentEncoded
	att   *Node // current Attachment
	cur   *streamResult
	lines int // newlines consumed by the attachment reader (the decoder does not see them)
	nAtt  int
}

type streamResult struct {
	size  int64
	sum   string
	zip   bool
	spool string
	pos   Pos
	seen  bool
}

// Parse reads one edXML packet from r. Attachments are streamed (see
// Options); the header is kept in memory within Options.MaxHeaderBytes. A
// malformed packet yields an *Error naming the element path and line:col.
// Non-fatal findings (non-canonical dates, duplicates, placeholder
// signatures) are returned later by Validate.
func Parse(r io.Reader, opts *Options) (*Packet, error) {
	o := opts.withDefaults()
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	p := &parser{o: o, pkt: &Packet{}, cnt: xmlscan.NewCounter(o.Limits)}
	p.g = &guard{br: br, max: o.MaxTextBytes}
	p.dec = xml.NewDecoder(p.g)
	p.dec.Strict = true
	if err := p.run(); err != nil {
		_ = p.pkt.Cleanup()
		return nil, err
	}
	return p.pkt, nil
}

func (p *parser) pos() Pos {
	l, c := p.dec.InputPos()
	return Pos{Line: l + p.lines, Col: c}
}

func (p *parser) path() string {
	var b strings.Builder
	for _, n := range p.stack {
		b.WriteByte('/')
		b.WriteString(n.Name.Local)
	}
	return b.String()
}

func (p *parser) fail(code IssueCode, at Pos, path string, err error, format string, args ...any) *Error {
	return &Error{Issue: Issue{Code: code, Severity: SeverityError, Path: path, Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...)}, Err: err}
}

// tokenErr turns a decoder error into a coded *Error.
func (p *parser) tokenErr(err error) *Error {
	at := p.pos()
	if errors.Is(err, errTextLimit) {
		return p.fail(CodeLimit, at, p.path(), err, "text, attribute or comment longer than %d bytes", p.o.MaxTextBytes)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return p.fail(CodeSyntax, at, p.path(), err, "not well-formed: %s", clipMsg(se.Msg))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return p.fail(CodeSyntax, at, p.path(), err, "not well-formed: unexpected end of input")
	}
	return p.fail(CodeSyntax, at, p.path(), err, "not well-formed: %v", err)
}

func (p *parser) run() error {
	for {
		at := p.pos()
		tok, err := p.dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.tokenErr(err)
		}
		if p.dec.InputOffset() > p.o.MaxHeaderBytes {
			return p.fail(CodeLimit, at, p.path(), nil, "packet header (everything but attachment content) larger than %d bytes", p.o.MaxHeaderBytes)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if le := p.cnt.Start(t.Name, t.Attr); le != nil {
				return p.tooComplex(le, at, p.path()+"/"+clip(t.Name.Local))
			}
			if err := p.start(t, at); err != nil {
				return err
			}
		case xml.EndElement:
			p.cnt.End()
			p.end()
		case xml.Comment, xml.ProcInst:
			if le := p.cnt.Node(); le != nil {
				return p.tooComplex(le, at, p.path())
			}
		case xml.CharData:
			if len(p.stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return p.fail(CodeSyntax, at, "", nil, "not well-formed: text outside the root element")
				}
				continue
			}
			p.text(t)
		case xml.Directive:
			return p.fail(CodeDTD, at, p.path(), nil, "<!%s> refused: DOCTYPE and entity declarations are not allowed in edXML", firstWord(t))
		}
	}
	if p.root == nil {
		return p.fail(CodeRoot, p.pos(), "", nil, "no root element")
	}
	return p.finish()
}

// text adds character data to the innermost element. The first run becomes
// Node.Text directly; later runs go through texts so that the element's
// text is copied once, not once per run.
func (p *parser) text(t xml.CharData) {
	d := len(p.stack) - 1
	top := p.stack[d]
	if len(top.Children) > 0 && len(bytes.TrimSpace(t)) == 0 {
		return
	}
	for len(p.texts) <= d {
		p.texts = append(p.texts, nil)
	}
	switch {
	case len(p.texts[d]) > 0:
		p.texts[d] = append(p.texts[d], t...)
	case top.Text == "":
		top.Text = string(t)
	default:
		p.texts[d] = append(append(p.texts[d], top.Text...), t...)
	}
}

// tooComplex turns a limit of the packet's shape into edxml.too_complex,
// naming the limit and the position, never the content.
func (p *parser) tooComplex(le *xmlscan.LimitError, at Pos, path string) *Error {
	le.Line, le.Col, le.Offset = at.Line, at.Col, p.dec.InputOffset()
	return p.fail(CodeTooComplex, at, path, le, "packet too complex (%s): %s", le.Limit, le.What())
}

// clip bounds a name quoted in an error (names are bounded by the limits;
// this keeps messages short whatever the limits are).
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// clipMsg bounds a decoder message (it may name markup, never more).
func clipMsg(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

func firstWord(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \t\r\n["); i >= 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

func (p *parser) start(t xml.StartElement, at Pos) error {
	n := &Node{Name: t.Name, Pos: at}
	if len(t.Attr) > 0 {
		n.Attrs = userAttrs(t.Attr) // declarations are regenerated by Build
	}
	if len(p.stack) == 0 {
		if p.root != nil {
			return p.fail(CodeSyntax, at, "", nil, "not well-formed: a second root element <%s>", clip(t.Name.Local))
		}
		if t.Name.Local != "edXML" || t.Name.Space != NS {
			return p.fail(CodeRoot, at, "/"+clip(t.Name.Local), nil, "root element is {%s}%s; want {%s}edXML", clip(t.Name.Space), clip(t.Name.Local), NS)
		}
		p.root = n
		p.stack = append(p.stack, n)
		return nil
	}
	parent := p.stack[len(p.stack)-1]
	known := isKnownSpace(t.Name.Space)
	switch {
	case len(p.stack) == 1 && known && t.Name.Local == "AttachmentEncoded":
		p.ae = n
	case parent == p.ae && p.ae != nil && known && t.Name.Local == "Attachment":
		if p.nAtt++; p.nAtt > p.o.MaxAttachments {
			return p.fail(CodeLimit, at, p.path()+"/Attachment", nil, "more than %d attachments", p.o.MaxAttachments)
		}
		p.att = n
		p.cur = &streamResult{}
	case parent == p.att && p.att != nil && known && t.Name.Local == "ContentTransferEncoded":
		return p.stream(t, at)
	}
	parent.Children = append(parent.Children, n)
	p.stack = append(p.stack, n)
	return nil
}

func (p *parser) end() {
	d := len(p.stack) - 1
	n := p.stack[d]
	p.stack = p.stack[:d]
	if d < len(p.texts) && len(p.texts[d]) > 0 {
		n.Text = string(p.texts[d])
		p.texts[d] = p.texts[d][:0]
		if cap(p.texts[d]) > 64<<10 {
			p.texts[d] = nil // do not keep a large buffer for the rest of the parse
		}
	}
	if len(n.Children) > 0 && strings.TrimSpace(n.Text) == "" {
		n.Text = ""
	}
	if n == p.att {
		p.pkt.Attachments = append(p.pkt.Attachments, p.attachment(n))
		p.att, p.cur = nil, nil
	}
	if n == p.ae {
		p.ae = nil
	}
}

// attachment maps a finished Attachment element.
func (p *parser) attachment(n *Node) *Attachment {
	a := &Attachment{Attrs: userAttrs(n.Attrs), pos: n.Pos}
	for _, c := range n.Children {
		var f *string
		if isKnownSpace(c.Name.Space) && len(c.Children) == 0 {
			switch c.Name.Local {
			case "ContentId":
				f = &a.ContentId
			case "AttachmentName":
				f = &a.AttachmentName
			case "Description":
				f = &a.Description
			case "ContentType":
				f = &a.ContentType
			}
		}
		text := strings.TrimSpace(c.Text)
		switch {
		case f != nil && text == "":
		case f != nil && *f == "":
			*f = text
			a.leafPos = append(a.leafPos, leafPos{c.Name.Local, c.Pos})
		default:
			a.Extra = append(a.Extra, c)
		}
	}
	if r := p.cur; r != nil && r.seen {
		a.Size, a.SHA256, a.Zip, a.SpoolPath = r.size, r.sum, r.zip, r.spool
		if r.spool != "" {
			path := r.spool
			a.Open = func() (io.ReadCloser, error) { return os.Open(path) }
		}
	}
	return a
}

// meta describes the attachment being streamed from what has been read.
func (p *parser) meta(at Pos) AttachmentMeta {
	m := AttachmentMeta{Index: p.nAtt - 1, Line: at.Line, Col: at.Col}
	for _, c := range p.att.Children {
		text := strings.TrimSpace(c.Text)
		switch c.Name.Local {
		case "ContentId":
			m.ContentId = text
		case "AttachmentName":
			m.AttachmentName = text
		case "Description":
			m.Description = text
		case "ContentType":
			m.ContentType = text
		}
	}
	if m.ContentId == "" {
		return m
	}
	man := p.root.Child("edXMLEnvelope").Child("edXMLBody").Child("edXMLManifest")
	if man == nil {
		return m
	}
	for _, r := range man.Children {
		if r.Name.Local != "Reference" || stripCid(strings.TrimSpace(textOf(r.Child("ContentId")))) != stripCid(m.ContentId) {
			continue
		}
		if m.AttachmentName == "" {
			m.AttachmentName = strings.TrimSpace(textOf(r.Child("AttachmentName")))
		}
		if m.Description == "" {
			m.Description = strings.TrimSpace(textOf(r.Child("Description")))
		}
		if m.ContentType == "" {
			m.ContentType = strings.TrimSpace(textOf(r.Child("ContentType")))
		}
		break
	}
	return m
}

func textOf(n *Node) string {
	if n == nil {
		return ""
	}
	return n.Text
}

// stripCid removes the "cid:" prefix: producers differ on whether the
// Attachment side carries it.
func stripCid(s string) string {
	if len(s) >= 4 && strings.EqualFold(s[:4], "cid:") {
		return s[4:]
	}
	return s
}

// stream decodes one ContentTransferEncoded element; it returns after the
// element's end tag has been consumed.
func (p *parser) stream(t xml.StartElement, at Pos) error {
	path := p.path() + "/ContentTransferEncoded"
	if p.cur.seen {
		return p.fail(CodeAttachment, at, path, nil, "more than one ContentTransferEncoded in one Attachment")
	}
	p.cur.seen, p.cur.pos = true, at
	cr := &cteReader{p: p, br: p.g.br, path: path}
	if p.g.last == [2]byte{'/', '>'} { // <ContentTransferEncoded/>: the decoder owes us the end tag
		if _, err := p.dec.Token(); err != nil {
			return p.tokenErr(err)
		}
		cr.done = true
	}
	m := &meter{r: base64.NewDecoder(base64.StdEncoding, cr), h: sha256.New(), max: p.o.MaxAttachmentBytes}
	var err error
	switch {
	case p.o.Sink != nil:
		err = p.o.Sink(p.meta(at), m)
		if err == nil {
			_, err = io.Copy(io.Discard, m)
		}
	case p.o.SpoolDir != "":
		var f *os.File
		f, err = os.CreateTemp(p.o.SpoolDir, "edxml-att-*")
		if err == nil {
			p.pkt.spool = append(p.pkt.spool, f.Name())
			p.cur.spool = f.Name()
			_, err = io.Copy(f, m)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	default:
		_, err = io.Copy(io.Discard, m)
	}
	// The reader's own error (syntax, limit) wins over what the sink made of it.
	if cr.err != nil {
		return cr.err
	}
	if m.err != nil {
		return m.err.withPos(p, at, path)
	}
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return p.fail(CodeAttachment, at, path, err, "invalid base64 at decoded offset %d", int64(ce))
		}
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return p.fail(CodeAttachment, at, path, err, "attachment %d: %v", p.nAtt, err)
	}
	if !cr.done { // sink stopped early and drain failed silently: make sure the element is consumed
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return p.fail(CodeAttachment, at, path, err, "%v", err)
		}
	}
	p.cur.size, p.cur.sum, p.cur.zip = m.n, hex.EncodeToString(m.h.Sum(nil)), m.zip
	return nil
}

type limitErr struct{ max int64 }

func (l *limitErr) withPos(p *parser, at Pos, path string) *Error {
	return p.fail(CodeLimit, at, path, nil, "attachment larger than %d bytes", l.max)
}

// meter hashes, counts and sniffs the decoded bytes.
type meter struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	max int64
	zip bool
	hd  []byte
	err *limitErr
}

func (m *meter) Read(b []byte) (int, error) {
	if m.err != nil {
		return 0, errors.New("attachment over the size limit")
	}
	n, err := m.r.Read(b)
	if n > 0 {
		m.h.Write(b[:n])
		if len(m.hd) < 4 {
			m.hd = append(m.hd, b[:min(n, 4-len(m.hd))]...)
			m.zip = bytes.Equal(m.hd, []byte("PK\x03\x04"))
		}
		if m.n += int64(n); m.n > m.max {
			m.err = &limitErr{m.max}
			return n, errors.New("attachment over the size limit")
		}
	}
	return n, err
}

// cteReader yields the base64 characters of one ContentTransferEncoded,
// reading the input directly (whitespace and whitespace character
// references skipped) and handing markup back to the decoder: comments are
// skipped, CDATA sections are read, the end tag ends the stream.
type cteReader struct {
	p       *parser
	br      *bufio.Reader
	path    string
	pending []byte
	done    bool
	err     *Error
}

func (c *cteReader) fail(code IssueCode, format string, args ...any) (int, error) {
	c.err = c.p.fail(code, c.p.pos(), c.path, nil, format, args...)
	return 0, c.err
}

func (c *cteReader) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := 0
	for n == 0 && len(b) > 0 {
		if len(c.pending) > 0 {
			i := 0
			for ; i < len(c.pending) && n < len(b); i++ {
				if ch := c.pending[i]; !isSpace(ch) {
					b[n] = ch
					n++
				}
			}
			c.pending = c.pending[i:]
			continue
		}
		if c.done {
			return 0, io.EOF
		}
		if _, err := c.br.Peek(1); err != nil {
			return c.fail(CodeSyntax, "not well-formed: input ends inside ContentTransferEncoded")
		}
		buf, _ := c.br.Peek(c.br.Buffered())
		i := 0
		stop := false
		for ; i < len(buf) && n < len(b); i++ {
			ch := buf[i]
			if ch == '<' || ch == '&' {
				stop = true
				break
			}
			if ch == '\n' {
				c.p.lines++
			}
			if !isSpace(ch) {
				b[n] = ch
				n++
			}
		}
		_, _ = c.br.Discard(i)
		if !stop || n > 0 {
			continue
		}
		if buf[i] == '&' {
			if err := c.entity(); err != nil {
				return 0, err
			}
			continue
		}
		// Markup: let the decoder read it.
		tok, err := c.p.dec.Token()
		if err != nil {
			c.err = c.p.tokenErr(err)
			return 0, c.err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			c.done = true
			c.p.g.run = 0
		case xml.CharData: // CDATA section
			c.pending = append(c.pending[:0], t...)
		case xml.Comment, xml.ProcInst:
		case xml.StartElement:
			return c.fail(CodeAttachment, "element <%s> inside ContentTransferEncoded", clip(t.Name.Local))
		default:
			return c.fail(CodeAttachment, "unexpected markup inside ContentTransferEncoded")
		}
	}
	return n, nil
}

// entity consumes a character reference; only whitespace ones are allowed
// in base64 text (some producers write line ends as &#13;&#10;).
func (c *cteReader) entity() error {
	buf, _ := c.br.Peek(12)
	end := bytes.IndexByte(buf, ';')
	if end < 0 {
		_, err := c.fail(CodeAttachment, "bad character reference in ContentTransferEncoded")
		return err
	}
	switch strings.ToLower(string(buf[1:end])) {
	case "#13", "#xd", "#x0d", "#10", "#xa", "#x0a", "#9", "#x9", "#x09", "#32", "#x20":
		_, _ = c.br.Discard(end + 1)
		return nil
	}
	_, err := c.fail(CodeAttachment, "a character reference other than whitespace is not allowed in base64 content")
	return err
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// finish maps the tree onto the Packet.
func (p *parser) finish() error {
	root := p.root
	env := 0
	for _, c := range root.Children {
		if c.Name.Local == "edXMLEnvelope" && isKnownSpace(c.Name.Space) {
			env++
		}
	}
	if env == 0 {
		return p.fail(CodeRoot, root.Pos, "/edXML", nil, "no edXMLEnvelope element")
	}
	// Positions are recorded for the elements the model maps (their paths
	// are short); every other element keeps its own Node.Pos. A path per
	// element of the whole tree would cost more than the tree.
	p.pkt.pos = map[string]Pos{"/edXML": root.Pos}
	m := &mapper{pos: p.pkt.pos}
	// AttachmentEncoded was handled while streaming; keep its unknown children.
	kept := root.Children[:0:0]
	for _, c := range root.Children {
		if c.Name.Local == "AttachmentEncoded" && isKnownSpace(c.Name.Space) {
			if _, ok := p.pkt.pos["/edXML/AttachmentEncoded"]; !ok {
				p.pkt.pos["/edXML/AttachmentEncoded"] = c.Pos
			}
			for _, a := range c.Children {
				if a.Name.Local != "Attachment" || !isKnownSpace(a.Name.Space) {
					p.pkt.AttachmentExtra = append(p.pkt.AttachmentExtra, a)
				}
			}
			continue
		}
		kept = append(kept, c)
	}
	shallow := *root
	shallow.Children = kept
	m.decodeInto(&shallow, "/edXML", reflect.ValueOf(p.pkt).Elem())
	p.pkt.issues = m.issues
	return nil
}
