package qlvb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

// sendEdoc opens an exchange of data type edxml for an edXML document
// packet: the recipients are the To/OrganId of the packet (organ ids are
// LGSP system codes), or the codes in "to" when given; the title is the
// Subject; the importance is OtherInfo/Priority (0–4). The packet's
// From/OrganId must be the caller's code or an organ listed for it
// (edxml.sender_mismatch); nothing is stored otherwise.
func (m *module) sendEdoc(ctx context.Context, p *auth.Principal, req *lgspedoc.SendEdoc) (any, error) {
	raw, err := decodeBase64("edxml", req.Edxml, MaxEdocBytes)
	// The SOAP server keeps req until the answer is written: drop the
	// base64 text so that it is not held while the packet is parsed.
	req.Edxml = nil
	if err != nil {
		return nil, err
	}
	pkt, err := edxml.Parse(bytes.NewReader(raw), nil)
	if err != nil {
		return nil, edxml.ParseFailure(err)
	}
	if pkt.Kind() != edxml.KindDocument {
		return nil, bus.ErrEDXMLInvalid.New("this is a status packet: send it with updateStatus")
	}
	refs := pkt.Refs() // recorded at Complete without parsing the packet again
	mh := pkt.Envelope.Header.MessageHeader
	if mh.From == nil || strings.TrimSpace(mh.From.OrganId) == "" {
		return nil, bus.ErrEDXMLInvalid.New("the packet names no sender (MessageHeader/From/OrganId)")
	}
	// The packet may speak only for the caller (R6, Art. 5).
	if err := m.h.Exchange.CheckSender(ctx, p.SystemCode, mh.From.OrganId); err != nil {
		return nil, err
	}
	recips := uniq(req.To)
	if len(recips) == 0 {
		for _, to := range mh.To {
			recips = append(recips, to.OrganId)
		}
		recips = uniq(recips)
		if len(recips) == 0 {
			return nil, bus.ErrExchangeInvalid.New("the packet names no recipient (MessageHeader/To/OrganId) and no \"to\" was given")
		}
	}
	imp := ""
	if oi := mh.OtherInfo; oi != nil && len(oi.Priority) == 1 && oi.Priority >= "0" && oi.Priority <= "4" {
		imp = oi.Priority
	}
	sum := sha256.Sum256(raw)
	ex := m.h.Exchange
	// F2–F4 in one store transaction; the packet was parsed above, so
	// its references are not looked for again.
	done, err := ex.Submit(ctx, p.SystemCode, exchange.Request{
		Recipients: recips, Title: strings.TrimSpace(mh.Subject), Importance: imp, DataType: DataType,
		MediaType: "application/xml", Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]),
	}, raw, exchange.CompleteRequest{Parsed: &exchange.ParsedDoc{SHA256: hex.EncodeToString(sum[:]), Refs: refs}})
	if err != nil {
		return nil, err
	}
	return &lgspedoc.SendEdocResponse{DocId: done.ID, Status: done.Status, To: recips}, nil
}

// getReceivedEdocList lists what is due for the caller and not confirmed.
func (m *module) getReceivedEdocList(ctx context.Context, p *auth.Principal, req *lgspedoc.GetReceivedEdocList) (any, error) {
	items, err := m.h.Exchange.Inbox(ctx, p.SystemCode)
	if err != nil {
		return nil, err
	}
	if n := clip(req.MaxItems, len(items), len(items)); n < len(items) {
		items = items[:n]
	}
	out := &lgspedoc.GetReceivedEdocListResponse{Count: int32(len(items))}
	for _, it := range items {
		e, r := it.Exchange, it.Recipient
		out.Edoc = append(out.Edoc, &lgspedoc.ReceivedEdoc{
			DocId: e.ID, From: e.Source, Title: e.Title, DataType: e.DataType, Importance: e.Importance,
			Size: e.Size, Sha256: e.SHA256, Status: r.Status, DueTime: xsdTime(r.DueAt), ExpiresTime: xsdTime(e.ExpiresAt),
		})
	}
	return out, nil
}

// getEdoc is Ready + Fetch of the whole packet, returned inline.
func (m *module) getEdoc(ctx context.Context, p *auth.Principal, req *lgspedoc.GetEdoc) (any, error) {
	id := strings.TrimSpace(req.DocId)
	if id == "" {
		return nil, bus.ErrBadRequest.New("docId is required")
	}
	ex := m.h.Exchange
	d, err := ex.Ready(ctx, p.SystemCode, id)
	if err != nil {
		return nil, err
	}
	if d.Size > MaxEdocBytes {
		return nil, bus.ErrBodyTooLarge.New("%s has %d bytes; getEdoc returns up to %d inline: download it with the REST API (GET %s)", id, d.Size, MaxEdocBytes, d.DownloadPath)
	}
	f, err := ex.Fetch(ctx, p.SystemCode, id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f.Body, MaxEdocBytes+1))
	if err != nil {
		return nil, err
	}
	return &lgspedoc.GetEdocResponse{DocId: id, From: d.Source, Title: d.Title, Size: int64(len(raw)), Sha256: f.SHA256, Edxml: encodeBase64(raw)}, nil
}

// updateStatus records an edXML status packet about a received document;
// 01 (đã đến) and 03 (đã vào sổ) also confirm receipt when the caller has
// downloaded the content. ReportStatus refuses a packet whose From is not
// the caller's (edxml.sender_mismatch) or whose ResponseFor names another
// document (edxml.status_foreign) before anything is recorded or
// confirmed.
func (m *module) updateStatus(ctx context.Context, p *auth.Principal, req *lgspedoc.UpdateStatus) (any, error) {
	id := strings.TrimSpace(req.DocId)
	if id == "" {
		return nil, bus.ErrBadRequest.New("docId is required")
	}
	raw, err := decodeBase64("edxml", req.Edxml, exchange.MaxStatusBytes)
	if err != nil {
		return nil, err
	}
	ex := m.h.Exchange
	rep, err := ex.ReportStatus(ctx, p.SystemCode, id, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	out := &lgspedoc.UpdateStatusResponse{DocId: id, StatusCode: rep.Code, StatusDesc: rep.Description}
	if rep.Code == string(edxml.StatusArrived) || rep.Code == string(edxml.StatusAccepted) {
		st, err := ex.Status(ctx, p.SystemCode, id)
		if err != nil {
			return nil, err
		}
		for _, r := range st.Exchange.Recipients {
			if r.Code != p.SystemCode {
				continue
			}
			switch r.Status {
			case store.RecipientDownloaded:
				if _, err := ex.Confirm(ctx, p.SystemCode, id, exchange.OutcomeReceived, "status "+rep.Code); err != nil {
					return nil, err
				}
				out.Confirmed = true
			case store.RecipientConfirmed:
				out.Confirmed = true
			}
		}
	}
	return out, nil
}

// getSentEdocList lists the caller's sent documents (or one, by docId) with
// each recipient's delivery state and last reported status packet.
func (m *module) getSentEdocList(ctx context.Context, p *auth.Principal, req *lgspedoc.GetSentEdocList) (any, error) {
	ex := m.h.Exchange
	var list []store.Exchange
	if id := strings.TrimSpace(req.DocId); id != "" {
		st, err := ex.Status(ctx, p.SystemCode, id)
		if err != nil {
			return nil, err
		}
		if st.Exchange.Source != p.SystemCode {
			return nil, bus.ErrExchangeNotFound.New("%s was not sent by %s", id, p.SystemCode)
		}
		list = []store.Exchange{st.Exchange}
	} else {
		var err error
		if list, err = ex.Sent(ctx, p.SystemCode, clip(req.MaxItems, 100, 500)); err != nil {
			return nil, err
		}
	}
	out := &lgspedoc.GetSentEdocListResponse{Count: int32(len(list))}
	for _, e := range list {
		st, err := ex.Status(ctx, p.SystemCode, e.ID)
		if err != nil {
			return nil, err
		}
		last := map[string]store.Event{}
		for _, ev := range st.Ledger {
			if ev.Kind == "status" && ev.Recipient != "" {
				last[ev.Recipient] = ev
			}
		}
		se := &lgspedoc.SentEdoc{DocId: e.ID, Title: e.Title, DataType: e.DataType, Status: st.Exchange.Status, SentTime: xsdTime(e.CreatedAt)}
		for _, r := range st.Exchange.Recipients {
			rs := &lgspedoc.RecipientStatus{Code: r.Code, Status: r.Status, DoneTime: xsdTime(r.DoneAt), Outcome: r.Outcome}
			if ev, ok := last[r.Code]; ok {
				var d struct {
					Code        string `json:"code"`
					Description string `json:"description"`
				}
				_ = json.Unmarshal([]byte(ev.Detail), &d)
				rs.StatusCode, rs.StatusDesc, rs.StatusTime = d.Code, d.Description, xsdTime(ev.At)
			}
			se.Recipient = append(se.Recipient, rs)
		}
		out.Edoc = append(out.Edoc, se)
	}
	return out, nil
}

// getAgencyList lists the active registered systems.
func (m *module) getAgencyList(ctx context.Context, _ *auth.Principal, _ *lgspedoc.GetAgencyList) (any, error) {
	systems, err := m.h.Registry.List(ctx)
	if err != nil {
		return nil, err
	}
	out := &lgspedoc.GetAgencyListResponse{}
	for _, s := range systems {
		if s.Status != store.SystemActive {
			continue
		}
		out.Agency = append(out.Agency, &lgspedoc.Agency{Code: s.Code, Name: s.Name, Unit: s.Unit})
	}
	out.Count = int32(len(out.Agency))
	return out, nil
}
