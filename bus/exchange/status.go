package exchange

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/store"
)

// MaxStatusBytes bounds a status packet (they carry no attachments).
const MaxStatusBytes = 1 << 20

// StatusReport is what ReportStatus recorded: a destination's business
// status of a delivered document (edXML status packet, QCVN 102).
type StatusReport struct {
	ExchangeID  string    `json:"exchange_id"`
	Code        string    `json:"code"`
	Label       string    `json:"label,omitempty"`
	Description string    `json:"description"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// ReportStatus records the edXML status packet that a recipient of id sends
// back (đã đến, đã vào sổ, …) as a ledger event of kind "status" whose
// detail carries the source (so the sender is notified), the StatusCode, the
// Description and the reporting organ (From/OrganId). Only a recipient to
// whom the exchange was delivered may report; reports are accepted after
// the payload is purged (they are metadata only). A packet that is not a
// valid status packet is refused with edxml.invalid naming the issue.
//
// The packet speaks for the caller only (R6, Art. 5): its From/OrganId must
// be system's own code or an organ listed for it (CheckSender,
// edxml.sender_mismatch), and every ResponseFor must name this exchange's
// document — its id as DocumentId, or the edXML identity recorded when it
// was accepted (edxml.status_foreign). A refusal records nothing.
func (s *Service) ReportStatus(ctx context.Context, system, id string, packet io.Reader) (*StatusReport, error) {
	ex, rc, err := s.get(ctx, system, id)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, bus.ErrNotRecipient.New("%s", id)
	}
	if rc.Status == store.RecipientPending || rc.Status == store.RecipientPlanned {
		return nil, bus.ErrExchangeState.New("%s has not been delivered to %s yet", id, system)
	}
	raw, err := io.ReadAll(io.LimitReader(packet, MaxStatusBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxStatusBytes {
		return nil, bus.ErrBodyTooLarge.New("a status packet is limited to %d bytes", MaxStatusBytes)
	}
	p, err := edxml.Parse(bytes.NewReader(raw), &edxml.Options{MaxAttachments: 1, MaxAttachmentBytes: 1})
	if err != nil {
		return nil, edxml.ParseFailure(err)
	}
	if p.Kind() != edxml.KindStatus {
		return nil, bus.ErrEDXMLInvalid.New("a document packet was sent; this endpoint takes status packets (MessageHeader/StatusCode)")
	}
	var errs []string
	for _, is := range edxml.Validate(p) {
		if is.Severity == edxml.SeverityError {
			errs = append(errs, is.String())
		}
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return nil, bus.ErrEDXMLInvalid.New("%s", strings.Join(errs, "; "))
	}
	mh := p.Envelope.Header.MessageHeader
	by := system
	if mh.From != nil && mh.From.OrganId != "" {
		by = mh.From.OrganId
	}
	if err := s.CheckSender(ctx, system, by); err != nil {
		return nil, err
	}
	if err := s.checkResponseFor(ctx, ex, system, mh.ResponseFor); err != nil {
		return nil, err
	}
	ev := s.event(id, "status", system, system, map[string]any{"source": ex.Source, "code": mh.StatusCode, "description": mh.Description, "by": by})
	if err := s.store.AddEvents(ctx, ev); err != nil {
		return nil, fmt.Errorf("recording status of %s: %w", id, err)
	}
	s.wake()
	return &StatusReport{ExchangeID: id, Code: mh.StatusCode, Label: edxml.CodeLabel("StatusCode", mh.StatusCode), Description: mh.Description, By: by, At: ev.At}, nil
}
