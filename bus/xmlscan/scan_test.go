package xmlscan

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

var small = Limits{MaxElements: 5, MaxAttrs: 6, MaxAttrsPerElement: 3, MaxDepth: 3, MaxNameBytes: 8, MaxNodes: 7}

func TestCheckRefusesEachLimitWithItsPosition(t *testing.T) {
	cases := []struct {
		name, doc, limit string
		line, col        int
	}{
		{"elements", "<r><a/><a/><a/>\n<a/><a/></r>", LimitElements, 2, 5},
		{"depth", "<r><a><b><c/></b></a></r>", LimitDepth, 1, 10},
		{"attributes per element", `<r><a x="1" y='2' z="3" w="4"/></r>`, LimitAttrsPerElement, 1, 25},
		{"attributes in total", `<r a="" b=""><x c="" d=""/><y e="" f=""/><z g=""/></r>`, LimitAttrs, 1, 45},
		{"element name", "<r><abcdefghi/></r>", LimitNameBytes, 1, 4},
		{"element prefix", "<r><abcdefghi:x/></r>", LimitNameBytes, 1, 4},
		{"attribute name", `<r><a abcdefghi="1"/></r>`, LimitNameBytes, 1, 7},
		{"nodes", "<r><!--1--><?p?><![CDATA[x]]><a/><!----><!----><!----></r>", LimitNodes, 1, 48},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check([]byte(c.doc), small)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Check = %v, want a *LimitError", err)
			}
			if le.Limit != c.limit || le.Line != c.line || le.Col != c.col {
				t.Fatalf("got %s at %d:%d, want %s at %d:%d (%v)", le.Limit, le.Line, le.Col, c.limit, c.line, c.col, err)
			}
			if int(le.Offset) >= len(c.doc) || c.doc[le.Offset] != '<' && c.doc[le.Offset-1] != ' ' {
				t.Fatalf("offset %d does not point at the construct", le.Offset)
			}
		})
	}
}

func TestCheckAcceptsWithinLimitsAndSkipsHiddenMarkup(t *testing.T) {
	// Markup inside comments, CDATA, processing instructions and quoted
	// values is text: it must not count, and '>' in a value must not end
	// the tag.
	doc := `<?xml version="1.0"?><r a="<b><c><d>" b='>'><!-- <x><x><x><x><x><x> --><![CDATA[<y><y><y><y><y><y>]]><?pi <z><z><z><z><z><z>?><a><b/></a></r>`
	if err := Check([]byte(doc), small); err != nil {
		t.Fatal(err)
	}
	if err := Check([]byte("<r><a/><a/><a/><a/></r>"), small); err != nil {
		t.Fatalf("five elements (the limit) refused: %v", err)
	}
}

func TestCheckRefusesDeclarations(t *testing.T) {
	err := Check([]byte("<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY a \"b\">]><r/>"), Limits{})
	var de *DeclarationError
	if !errors.As(err, &de) || !errors.Is(err, ErrDeclaration) || de.Line != 2 || de.Col != 1 {
		t.Fatalf("Check = %v, want a declaration error at 2:1", err)
	}
}

func TestLimitErrorNeverQuotesContent(t *testing.T) {
	secret := strings.Repeat("BIMAT", 40)
	err := Check([]byte("<r><"+secret+"/></r>"), Limits{})
	if err == nil || strings.Contains(err.Error(), "BIMAT") {
		t.Fatalf("error %v: want a refusal that does not quote the name", err)
	}
}

func TestSetDefaults(t *testing.T) {
	t.Cleanup(func() { SetDefaults(Limits{}) })
	SetDefaults(Limits{MaxElements: 2})
	if d := Defaults(); d.MaxElements != 2 || d.MaxDepth != DefaultMaxDepth {
		t.Fatalf("Defaults = %+v", d)
	}
	if err := Check([]byte("<r><a/><a/></r>"), Limits{}); err == nil {
		t.Fatal("three elements accepted under a default of 2")
	}
	if err := Check([]byte("<r><a/><a/></r>"), Limits{MaxElements: 3}); err != nil {
		t.Fatalf("explicit limit not used: %v", err)
	}
}

// streamCount applies Counter to doc through encoding/xml (RawToken keeps
// the prefixes, which the scanner also checks). ok is false when doc is not
// well-formed for the strict decoder: then nothing is claimed.
func streamCount(doc []byte, l Limits) (limitErr error, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	c := NewCounter(l)
	depth := 0
	var first error
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return first, depth == 0
		}
		if err != nil {
			return nil, false
		}
		if first != nil {
			continue
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if e := c.Start(t.Name, t.Attr); e != nil {
				first = e
			}
		case xml.EndElement:
			depth--
			c.End()
		case xml.Comment, xml.ProcInst:
			if e := c.Node(); e != nil {
				first = e
			}
		case xml.Directive:
			return nil, false
		}
	}
}

// FuzzCheck: Check never panics, and on every document the strict decoder
// reads to the end it agrees with Counter fed by that decoder: both accept
// or both refuse (the pre-scan and the streaming path enforce the same
// limits). Prefixes are kept short by the harness because the decoder
// resolves them to namespace URIs.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"<r><a/><a/><a/><a/></r>", "<r><a/><a/><a/><a/><a/><a/></r>", "<r><a><b><c><d/></c></b></a></r>",
		`<r x="1" y="2" z="3" w="4"/>`, `<r a=">" b='<'><!--<x/>--><?p <y/>?></r>`,
		"<r><abcdefghijk/></r>", `<r xmlns:p="u"><p:a p:b="1"/></r>`, "<r><!----><!----><!----></r>",
	} {
		f.Add([]byte(s))
	}
	l := Limits{MaxElements: 5, MaxAttrs: 6, MaxAttrsPerElement: 3, MaxDepth: 3, MaxNameBytes: 8, MaxNodes: 1 << 30}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Check(doc, l)
		var le *LimitError
		var de *DeclarationError
		if err != nil && !errors.As(err, &le) && !errors.As(err, &de) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if bytes.Contains(doc, []byte("<![CDATA[")) || bytes.Contains(doc, []byte(":")) {
			return // CDATA looks like text to the decoder; prefixes are resolved by it
		}
		streamErr, ok := streamCount(doc, l)
		if !ok || de != nil {
			return
		}
		if (err == nil) != (streamErr == nil) {
			t.Fatalf("pre-scan says %v, streaming count says %v", err, streamErr)
		}
	})
}
