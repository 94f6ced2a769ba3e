package edxml

import (
	"fmt"
	"time"
)

// StatusFor returns a status packet answering the document packet doc:
// From is by, ResponseFor names doc (its DocumentId when present, else the
// composed one; OrganId, Code and PromulgationDate always from doc's own
// fields), Timestamp is at. Set StaffInfo on the result if needed.
func StatusFor(doc *Packet, code StatusCode, by Organization, at time.Time, description string) (*Packet, error) {
	if doc == nil || doc.Kind() != KindDocument {
		return nil, fmt.Errorf("status for a packet that is not a document packet")
	}
	mh := &doc.Envelope.Header.MessageHeader
	rf := ResponseFor{DocumentId: mh.DocumentId, Code: mh.Code.String()}
	if mh.From != nil {
		rf.OrganId = mh.From.OrganId
	}
	if mh.PromulgationInfo != nil {
		rf.PromulgationDate = mh.PromulgationInfo.PromulgationDate
		rf.PromulgationDate.HasTime = false
	}
	if rf.DocumentId == "" && mh.Code != nil && !rf.PromulgationDate.Time.IsZero() {
		rf.DocumentId = ComposeDocumentId(rf.OrganId, rf.PromulgationDate.Time, mh.Code.CodeNumber, mh.Code.CodeNotation)
	}
	p := &Packet{}
	p.Envelope.Header.MessageHeader = MessageHeader{
		From:        &by,
		ResponseFor: []ResponseFor{rf},
		StatusCode:  string(code),
		Description: description,
		Timestamp:   NewDateTime(at),
	}
	return p, nil
}
