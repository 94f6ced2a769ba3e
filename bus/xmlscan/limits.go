package xmlscan

import (
	"encoding/xml"
	"errors"
	"fmt"
	"sync/atomic"
)

// Limits bounds the shape of one document. A zero field takes the current
// default (see Defaults).
type Limits struct {
	MaxElements        int // elements in the document
	MaxAttrs           int // attributes in the document, namespace declarations included
	MaxAttrsPerElement int // attributes of one element
	MaxDepth           int // element nesting
	MaxNameBytes       int // bytes of the local part (and of the prefix) of an element or attribute name
	MaxNodes           int // elements, comments, processing instructions and CDATA sections together
}

// The built-in defaults. A real edXML packet has hundreds to a few thousand
// elements outside its attachments, about ten levels and names under 30
// bytes; a signature adds a few dozen elements.
const (
	DefaultMaxElements        = 20000
	DefaultMaxAttrs           = 20000
	DefaultMaxAttrsPerElement = 64
	DefaultMaxDepth           = 64
	DefaultMaxNameBytes       = 128
	DefaultMaxNodes           = 40000
)

var builtin = Limits{
	MaxElements: DefaultMaxElements, MaxAttrs: DefaultMaxAttrs, MaxAttrsPerElement: DefaultMaxAttrsPerElement,
	MaxDepth: DefaultMaxDepth, MaxNameBytes: DefaultMaxNameBytes, MaxNodes: DefaultMaxNodes,
}

var current atomic.Pointer[Limits]

// Defaults returns the limits in force for callers that give none: the
// built-in defaults, or what SetDefaults installed.
func Defaults() Limits {
	if l := current.Load(); l != nil {
		return *l
	}
	return builtin
}

// SetDefaults installs process-wide defaults (the service calls it once
// from its configuration); zero fields keep the built-in values.
func SetDefaults(l Limits) {
	l = l.fill(builtin)
	current.Store(&l)
}

// WithDefaults returns l with every zero field taken from Defaults.
func (l Limits) WithDefaults() Limits { return l.fill(Defaults()) }

func (l Limits) fill(d Limits) Limits {
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxElements, d.MaxElements)
	set(&l.MaxAttrs, d.MaxAttrs)
	set(&l.MaxAttrsPerElement, d.MaxAttrsPerElement)
	set(&l.MaxDepth, d.MaxDepth)
	set(&l.MaxNameBytes, d.MaxNameBytes)
	set(&l.MaxNodes, d.MaxNodes)
	return l
}

// The names of the limits, as LimitError.Limit reports them.
const (
	LimitElements        = "elements"
	LimitAttrs           = "attributes"
	LimitAttrsPerElement = "attributes_per_element"
	LimitDepth           = "depth"
	LimitNameBytes       = "name_length"
	LimitNodes           = "nodes"
)

// LimitError is a refusal: which limit, its value and where the document
// crossed it. It never carries document content.
type LimitError struct {
	Limit  string // one of the Limit* names
	Max    int
	Line   int   // 1-based; 0 when unknown
	Col    int   // 1-based, in bytes
	Offset int64 // byte offset of the construct; -1 when unknown
}

// What says in words which limit was crossed.
func (e *LimitError) What() string {
	switch e.Limit {
	case LimitElements:
		return fmt.Sprintf("more than %d elements", e.Max)
	case LimitAttrs:
		return fmt.Sprintf("more than %d attributes in the document", e.Max)
	case LimitAttrsPerElement:
		return fmt.Sprintf("an element with more than %d attributes", e.Max)
	case LimitDepth:
		return fmt.Sprintf("elements nested deeper than %d", e.Max)
	case LimitNameBytes:
		return fmt.Sprintf("a name longer than %d bytes", e.Max)
	case LimitNodes:
		return fmt.Sprintf("more than %d nodes (elements, comments, processing instructions, CDATA sections)", e.Max)
	}
	return fmt.Sprintf("limit %s (%d) exceeded", e.Limit, e.Max)
}

func (e *LimitError) Error() string {
	s := "document too complex (" + e.Limit + "): " + e.What()
	if e.Line > 0 {
		s += fmt.Sprintf(" at %d:%d", e.Line, e.Col)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (byte %d)", e.Offset)
	}
	return s
}

// ErrDeclaration is what a DeclarationError matches with errors.Is.
var ErrDeclaration = errors.New("markup declaration (<!DOCTYPE, <!ENTITY …) in the document")

// DeclarationError reports a markup declaration found by Check: every user
// of this package refuses DTDs, and the scanner does not parse them.
type DeclarationError struct {
	Line, Col int
	Offset    int64
}

func (e *DeclarationError) Error() string {
	return fmt.Sprintf("%v at %d:%d (byte %d)", ErrDeclaration, e.Line, e.Col, e.Offset)
}

// Is makes errors.Is(err, ErrDeclaration) work.
func (e *DeclarationError) Is(target error) bool { return target == ErrDeclaration }

// Counter applies Limits to a stream of encoding/xml tokens: call Start for
// every StartElement, End for every EndElement and Node for every comment
// and processing instruction. The *LimitError it returns has no position
// (Line 0, Offset -1); the caller knows it and sets it.
type Counter struct {
	L                      Limits
	elements, attrs, nodes int
	depth                  int
}

// NewCounter returns a Counter for l (zero fields take the defaults).
func NewCounter(l Limits) *Counter { return &Counter{L: l.WithDefaults()} }

func (c *Counter) refuse(limit string, max int) *LimitError {
	return &LimitError{Limit: limit, Max: max, Offset: -1}
}

// Start counts an element and its attributes.
func (c *Counter) Start(name xml.Name, attrs []xml.Attr) *LimitError {
	if e := c.open(len(name.Local)); e != nil {
		return e
	}
	if len(attrs) > c.L.MaxAttrsPerElement {
		return c.refuse(LimitAttrsPerElement, c.L.MaxAttrsPerElement)
	}
	for _, a := range attrs {
		if len(a.Name.Local) > c.L.MaxNameBytes {
			return c.refuse(LimitNameBytes, c.L.MaxNameBytes)
		}
	}
	return c.attr(len(attrs))
}

// open counts one element start whose name part is n bytes long.
func (c *Counter) open(n int) *LimitError {
	switch {
	case n > c.L.MaxNameBytes:
		return c.refuse(LimitNameBytes, c.L.MaxNameBytes)
	case c.elements >= c.L.MaxElements:
		return c.refuse(LimitElements, c.L.MaxElements)
	case c.nodes >= c.L.MaxNodes:
		return c.refuse(LimitNodes, c.L.MaxNodes)
	case c.depth >= c.L.MaxDepth:
		return c.refuse(LimitDepth, c.L.MaxDepth)
	}
	c.elements++
	c.nodes++
	c.depth++
	return nil
}

func (c *Counter) attr(n int) *LimitError {
	if c.attrs+n > c.L.MaxAttrs {
		return c.refuse(LimitAttrs, c.L.MaxAttrs)
	}
	c.attrs += n
	return nil
}

// End closes the innermost element.
func (c *Counter) End() {
	if c.depth > 0 {
		c.depth--
	}
}

// Node counts a comment, a processing instruction or a CDATA section.
func (c *Counter) Node() *LimitError {
	if c.nodes >= c.L.MaxNodes {
		return c.refuse(LimitNodes, c.L.MaxNodes)
	}
	c.nodes++
	return nil
}

// Depth is the current nesting.
func (c *Counter) Depth() int { return c.depth }

// Elements is the number of elements counted so far.
func (c *Counter) Elements() int { return c.elements }
