package edxml

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Refs returns short references to a document packet's identity, for
// matching the ResponseFor of a status packet without keeping the
// identity's text: "k:" and 16 hex digits of the SHA-256 of its DocKey
// (when issuer, number/notation and date are all present) and "i:" and
// 16 hex digits of the SHA-256 of its DocumentId (when present).
func (p *Packet) Refs() []string {
	mh := &p.Envelope.Header.MessageHeader
	k := p.Key()
	return refs(k, mh.DocumentId)
}

// Refs returns the references (see Packet.Refs) of the document a
// ResponseFor points at.
func (rf ResponseFor) Refs() []string {
	k := DocKey{OrganId: rf.OrganId, Code: rf.Code, Date: rf.PromulgationDate.DateString()}
	return refs(k, rf.DocumentId)
}

func refs(k DocKey, documentID string) []string {
	k.OrganId, k.Code, k.Date = strings.TrimSpace(k.OrganId), strings.TrimSpace(k.Code), strings.TrimSpace(k.Date)
	var out []string
	if k.OrganId != "" && k.Code != "" && k.Date != "" {
		out = append(out, shortRef("k:", k.String()))
	}
	if id := strings.TrimSpace(documentID); id != "" {
		out = append(out, shortRef("i:", id))
	}
	return out
}

func shortRef(prefix, v string) string {
	sum := sha256.Sum256([]byte(prefix + v))
	return prefix + hex.EncodeToString(sum[:8])
}
