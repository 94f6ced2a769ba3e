package edxml

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/tuyenquang/lgsp/bus"
)

// IssueCode is a stable code of a parse or validation finding. Codes never
// change meaning once shipped; the bus error catalogue maps them.
type IssueCode string

// The issue codes. docs/edxml.md has the table.
const (
	CodeSyntax      IssueCode = "edxml.syntax"      // not well-formed XML
	CodeDTD         IssueCode = "edxml.dtd"         // DOCTYPE / entity declarations are refused
	CodeLimit       IssueCode = "edxml.limit"       // header size, text run, attachment size or count over the limit
	CodeTooComplex  IssueCode = "edxml.too_complex" // elements, attributes, depth, name length or nodes over the limit (xmlscan)
	CodeRoot        IssueCode = "edxml.root"        // root is not {NS}edXML or has no edXMLEnvelope
	CodeAttachment  IssueCode = "edxml.attachment"  // bad base64, unsupported content in ContentTransferEncoded, sink error
	CodeRequired    IssueCode = "edxml.required"    // a required element is missing or empty
	CodeForbidden   IssueCode = "edxml.forbidden"   // an element that this packet kind must not carry
	CodeCodeList    IssueCode = "edxml.code_list"   // value not in its code list
	CodeIdentifier  IssueCode = "edxml.identifier"  // organisation identifier form
	CodeDate        IssueCode = "edxml.date"        // date not parsable (error) or not canonical (warning)
	CodeFormat      IssueCode = "edxml.format"      // integer, boolean, length or pattern
	CodeConditional IssueCode = "edxml.conditional" // a rule of the form "when X then Y" failed
	CodeReference   IssueCode = "edxml.reference"   // manifest Reference and Attachment do not match
	CodeDuplicate   IssueCode = "edxml.duplicate"   // a single-valued element occurs more than once (extra kept as unknown)
	CodeUnexpected  IssueCode = "edxml.unexpected"  // a known leaf element has child elements (kept as unknown)
	CodeSignature   IssueCode = "edxml.signature"   // Signature absent from the xmldsig namespace
	CodeDocumentId  IssueCode = "edxml.document_id" // DocumentId differs from the composed form
)

// Severity tells errors from warnings.
type Severity int

// The severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText writes "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error", "":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Issue is one finding with its element path and position (Line 0 when
// unknown, e.g. for a packet built in memory).
type Issue struct {
	Code     IssueCode `json:"code"`
	Severity Severity  `json:"severity"`
	Path     string    `json:"path,omitempty"`
	Line     int       `json:"line,omitempty"`
	Col      int       `json:"col,omitempty"`
	Msg      string    `json:"msg"`
}

// String renders "line:col: severity code path: msg".
func (i Issue) String() string {
	s := ""
	if i.Line > 0 {
		s = strconv.Itoa(i.Line) + ":" + strconv.Itoa(i.Col) + ": "
	}
	s += i.Severity.String() + " " + string(i.Code)
	if i.Path != "" {
		s += " " + i.Path
	}
	return s + ": " + i.Msg
}

// Error is the error Parse returns; it names the element and position.
type Error struct {
	Issue
	Err error // underlying cause, if any
}

func (e *Error) Error() string { return e.Issue.String() }

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the issue code of an *Error in err's chain, or "".
func CodeOf(err error) IssueCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// HasErrors reports whether issues contain at least one error.
func HasErrors(issues []Issue) bool {
	for _, i := range issues {
		if i.Severity == SeverityError {
			return true
		}
	}
	return false
}

// ValueRef describes a value from a packet without quoting it: its length in
// characters and the first 4 bytes of its SHA-256 ("12 characters,
// sha256:ab12cd34"). Issue messages end up in error details, the ledger and
// logs, which must never hold payload text (R2); the short hash still lets
// a sender find which of its values was meant.
func ValueRef(v string) string {
	sum := sha256.Sum256([]byte(v))
	return strconv.Itoa(utf8.RuneCountInString(v)) + " characters, sha256:" + hex.EncodeToString(sum[:4])
}

// ParseFailure is the bus error for a packet Parse refused:
// edxml.too_complex for a limit on its shape, edxml.invalid otherwise; the
// detail is the issue (code, path, position, rule), never content.
func ParseFailure(err error) error {
	if CodeOf(err) == CodeTooComplex {
		return bus.ErrEDXMLTooComplex.New("%s", err)
	}
	return bus.ErrEDXMLInvalid.New("%s", err)
}
