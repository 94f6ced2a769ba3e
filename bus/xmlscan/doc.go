// Package xmlscan bounds the shape of outside XML before anything builds a
// tree from it: how many elements, attributes (per element and in total)
// and other nodes a document has, how deep it nests and how long its names
// are. A tree (etree DOM, edxml.Node, decoded structs) costs tens to
// hundreds of bytes per element, so a 16 MB document of empty elements can
// cost gigabytes; with these limits the cost of a tree is bounded by the
// limits, whatever the input.
//
// Two ways in: Check pre-scans a document held in memory with a byte
// scanner (no allocation per token) before it is parsed into a DOM, and
// Counter applies the same limits inline to a streaming encoding/xml
// parser. Both refuse with a *LimitError that names the limit and the
// position (line:col and byte offset), never the content.
//
// The defaults are sized for real documents (an edXML packet has hundreds
// to a few thousand elements outside its base64 attachments) and can be
// changed once at start-up with SetDefaults (the service's xml_limits
// configuration). xmlscan imports only the standard library.
package xmlscan
