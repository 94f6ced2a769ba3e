// Package edxml owns the edXML packet format of QCVN 102:2016/BTTTT and its
// Amendment 1:2022: the Go model of document packets (new, revoke, update,
// replace) and status packets (codes 01–06, 13, 15, 16), a streaming parser
// that decodes base64 attachments while it reads, a streaming builder, the
// data-driven validator (rules.json, embedded) and helpers for the CLI
// (Inspect, ExtractAttachments, UnwrapZip).
//
// The parser is namespace-aware and order-insensitive, treats empty elements
// as absent and keeps unknown elements (as *Node) so that a packet
// round-trips without losing content. It never holds a whole attachment in
// memory: attachments go to a caller's sink, to spool files, or are hashed
// and discarded (see Options). DTDs are refused (edxml.dtd); header size,
// text runs and attachments are bounded (edxml.limit), and so is the shape
// of the packet (elements, attributes, depth, name length, comments and
// processing instructions; edxml.too_complex, limits from bus/xmlscan), so
// that the tree kept for the header costs at most a small multiple of the
// input (docs/edxml.md has the measured figures).
//
// Validation issues carry stable codes (edxml.required, edxml.code_list, …),
// the element path and line:col; the lead maps them to the bus error
// catalogue, this package adds nothing there.
//
// edxml imports only the standard library and bus/xmlscan (and may use bus
// and github.com/beevik/etree); it must not import any other package of
// this module. The XSD in xsd/edxml.xsd describes the same format for external
// validators; docs/edxml.md is the integrators' guide.
package edxml
