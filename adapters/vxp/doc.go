// Package vxp connects LGSP to VXP, the national document axis
// ("Trục liên thông văn bản quốc gia", VNPT's XroadVnpt adapter), as
// documented in docs/gateways.md.
//
// Client speaks the wire format of the VNPT SDK (SDKVXP 2.0.1) byte for
// byte: XroadVnpt-* headers signed with HMAC-SHA256 over the header JSON
// (Sign), sendEdoc as streamed multipart, getReceivedEdocList, getEdoc
// (streamed base64 decoding), updateStatus, getSentEdocList and
// getAgenciesList; errors are bus catalogue codes gateway.unreachable,
// gateway.refused, gateway.auth and gateway.bad_reply.
//
// Poller moves packets between the axis and the province's exchange on a
// schedule (bus/schedule.Durable: one node at a time, missed runs caught
// up once), remembering VXP document ids in the store so that nothing is
// delivered twice. The adapter registers the service module "vxp", which
// is on when configs/lgsp.yaml has a gateways.vxp section.
//
// It imports bus, bus/* and bus/service only.
package vxp
