package xmldsig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/beevik/etree"

	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// DefaultMaxBytes is the size limit Verifier uses when MaxBytes is zero.
const DefaultMaxBytes = 32 << 20

// maxDepth bounds element nesting; edXML packets are about ten levels deep.
// goxmldsig walks trees recursively, so the bound also bounds its stack.
const maxDepth = 256

// checkDeclarations refuses any markup declaration (<!DOCTYPE, <!ENTITY,
// <!ELEMENT, ...) outside comments and CDATA sections, before the document
// is parsed: entity expansion and external entities are never attempted,
// and a document is read the same way by us and by libxml2-based peers.
// Text and attribute values cannot hold a raw '<', so the scan is exact.
func checkDeclarations(doc []byte) error {
	for i := 0; ; {
		j := bytes.IndexByte(doc[i:], '<')
		if j < 0 {
			return nil
		}
		i += j
		rest := doc[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				return nil // unterminated; the parser reports it
			}
			i += 4 + k + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			k := bytes.Index(rest[9:], []byte("]]>"))
			if k < 0 {
				return nil
			}
			i += 9 + k + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			k := bytes.Index(rest[2:], []byte("?>"))
			if k < 0 {
				return nil
			}
			i += 2 + k + 2
		case bytes.HasPrefix(rest, []byte("<!")):
			word := rest[2:min(len(rest), 20)]
			if k := bytes.IndexAny(word, " \t\r\n[>"); k >= 0 {
				word = word[:k]
			}
			return newErr(CodeDTD, fmt.Sprintf("document declaration %q is not accepted", "<!"+string(word)), nil)
		default:
			i++
		}
	}
}

// utf8Only is the charset reader for etree: edXML is UTF-8, and reading
// another declared encoding as if it were UTF-8 would make us verify
// different characters than a peer that honours the declaration.
func utf8Only(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("encoding %q is not accepted, only UTF-8", charset)
}

// parse reads doc into an etree document after the declaration check and
// the shape pre-scan. It refuses documents without a root element, with
// more than one, or with any remaining directive.
//
// The pre-scan is what bounds memory: an etree element costs a few hundred
// bytes and goxmldsig copies the tree twice (Validate, then the
// canonicalizer), so a 31 MB document of empty elements cost 2.24 GB
// before the limits; with them the trees are bounded by lim, and what
// grows with the input is text, copied a small number of times.
func parse(doc []byte, lim xmlscan.Limits) (*etree.Document, error) {
	doc = trimBOM(doc)
	if err := precheck(doc, lim); err != nil {
		return nil, err
	}
	return parseDoc(doc)
}

// trimBOM drops a UTF-8 byte order mark (files saved by Windows tools): it
// is no part of the document; xmlsec1 skips it, and etree would read it as
// text outside the root.
func trimBOM(doc []byte) []byte { return bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf")) }

// precheck refuses declarations and shapes beyond lim before anything
// else reads doc (BOM already trimmed).
func precheck(doc []byte, lim xmlscan.Limits) error {
	if err := checkDeclarations(doc); err != nil {
		return err
	}
	if err := xmlscan.Check(doc, lim); err != nil {
		var le *xmlscan.LimitError
		if errors.As(err, &le) {
			return newErr(CodeTooComplex, fmt.Sprintf("%s at %d:%d (byte %d)", le.What(), le.Line, le.Col, le.Offset), err)
		}
		return newErr(CodeDTD, "document declaration is not accepted", nil)
	}
	return nil
}

// parseDoc builds the DOM of doc, which precheck has passed.
func parseDoc(doc []byte) (*etree.Document, error) {
	d := etree.NewDocument()
	d.ReadSettings = etree.ReadSettings{CharsetReader: utf8Only, MaxDepth: maxDepth}
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, newErr(CodeMalformed, "document is not well-formed XML", err)
	}
	roots := 0
	for _, t := range d.Child {
		switch t := t.(type) {
		case *etree.Element:
			roots++
		case *etree.Directive:
			return nil, newErr(CodeDTD, "document declaration is not accepted", nil)
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, newErr(CodeMalformed, "text outside the root element", nil)
			}
		}
	}
	if roots != 1 {
		return nil, newErr(CodeMalformed, fmt.Sprintf("document has %d root elements, want 1", roots), nil)
	}
	return d, nil
}

// readLimited reads r up to max bytes and refuses more without reading on.
// When r knows its size (a file, a bytes or strings reader) the buffer is
// allocated once at that size, so a document is held once, not grown by
// doubling.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	var size int64 = -1
	switch s := r.(type) {
	case interface{ Len() int }:
		size = int64(s.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	if size > max {
		return nil, newErr(CodeTooLarge, fmt.Sprintf("document exceeds %d bytes", max), nil)
	}
	var b []byte
	var err error
	if size >= 0 {
		// One byte more than announced, to see the end (or a file that
		// grew, which the limit still bounds).
		buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
		_, err = buf.ReadFrom(io.LimitReader(r, max+1))
		b = buf.Bytes()
	} else {
		b, err = io.ReadAll(io.LimitReader(r, max+1))
	}
	if err != nil {
		return nil, newErr(CodeMalformed, "reading document", err)
	}
	if int64(len(b)) > max {
		return nil, newErr(CodeTooLarge, fmt.Sprintf("document exceeds %d bytes", max), nil)
	}
	return b, nil
}
