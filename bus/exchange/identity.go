package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/store"
)

// SpeaksFor decides which organ codes a system may name as the sender of a
// packet (auth.SpeaksFor): its own code and the organs listed for it.
type SpeaksFor interface {
	Check(ctx context.Context, system, organ string) error
}

type gatewayKey struct{}

// AsGateway marks ctx as the platform's own gateway code acting for system
// (the VXP poller pulling documents and status packets from the national
// axis for the gateway system): packets handled with this ctx for that
// system may name any organ as sender, since the axis, not a caller of
// LGSP, vouches for them. Only in-process code can set it; a request
// authenticated as the gateway system does not carry it and gets the
// ordinary rule.
func AsGateway(ctx context.Context, system string) context.Context {
	return context.WithValue(ctx, gatewayKey{}, system)
}

// CheckSender returns nil when system may name organ as the sender
// (From/OrganId) of a packet, else bus.ErrSenderMismatch naming both codes.
// Without a SpeaksFor, only the system's own code passes.
func (s *Service) CheckSender(ctx context.Context, system, organ string) error {
	organ = strings.TrimSpace(organ)
	if organ == system {
		return nil
	}
	if gw, _ := ctx.Value(gatewayKey{}).(string); gw != "" && gw == system {
		return nil
	}
	if s.speaks == nil {
		return bus.ErrSenderMismatch.New("the packet names %s as its sender; %s may send only as itself", bus.ShowCode(organ), system)
	}
	return s.speaks.Check(ctx, system, organ)
}

// RefsLabel is the label of the accepted event that holds the references
// (edxml.Packet.Refs, hashes) of an exchange's edXML document, so that a
// status packet about it can be matched after the payload is purged.
const RefsLabel = "edxml.refs"

// labelDocRefs records the references of the payload when, after the route's
// steps, it is an edXML document packet. Anything else records nothing:
// status packets about such an exchange must then name it by its id.
func (s *Service) labelDocRefs(m *bus.Message) {
	if !xmlMedia(m.MediaType) || m.Open == nil {
		return
	}
	rc, err := m.Open()
	if err != nil {
		s.log.WithError(err).WithField("exchange", m.ExchangeID).Warn("opening content to record the document's references")
		return
	}
	defer rc.Close()
	// Attachments are drained, never kept: only the header matters here.
	p, err := edxml.Parse(rc, &edxml.Options{Sink: func(edxml.AttachmentMeta, io.Reader) error { return nil }})
	if err != nil || p.Kind() != edxml.KindDocument {
		return
	}
	if refs := p.Refs(); len(refs) > 0 {
		m.Label(RefsLabel, strings.Join(refs, " "))
	}
}

func xmlMedia(mt string) bool {
	t, _, err := mime.ParseMediaType(mt)
	return err == nil && (t == "application/xml" || t == "text/xml" || strings.HasSuffix(t, "+xml"))
}

// recordedRefs returns the references recorded when ex was accepted.
func (s *Service) recordedRefs(ctx context.Context, id string) ([]string, error) {
	evs, err := s.store.Events(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the ledger of %s: %w", id, err)
	}
	for _, ev := range evs {
		if ev.Kind != "accepted" {
			continue
		}
		var d struct {
			Labels map[string]string `json:"labels"`
		}
		if json.Unmarshal([]byte(ev.Detail), &d) == nil {
			return strings.Fields(d.Labels[RefsLabel]), nil
		}
	}
	return nil, nil
}

// checkResponseFor refuses a status packet unless every ResponseFor names
// the document of exchange id: by the exchange id as DocumentId, or by the
// edXML identity recorded when it was accepted.
func (s *Service) checkResponseFor(ctx context.Context, ex store.Exchange, system string, rfs []edxml.ResponseFor) error {
	if len(rfs) == 0 {
		return bus.ErrStatusForeign.New("the status packet names no document (MessageHeader/ResponseFor); it must answer %s", ex.ID)
	}
	var refs []string
	for i, rf := range rfs {
		if strings.TrimSpace(rf.DocumentId) == ex.ID {
			continue
		}
		if refs == nil {
			var err error
			if refs, err = s.recordedRefs(ctx, ex.ID); err != nil {
				return err
			}
		}
		if !slices.ContainsFunc(rf.Refs(), func(r string) bool { return slices.Contains(refs, r) }) {
			return bus.ErrStatusForeign.New("ResponseFor #%d (issuer %s) does not name the document of %s, which %s received from %s", i+1, bus.ShowCode(strings.TrimSpace(rf.OrganId)), ex.ID, system, ex.Source)
		}
	}
	return nil
}
