// Package vxp connects LGSP to VXP, the national document axis
// ("Trục liên thông văn bản quốc gia", VNPT's XroadVnpt adapter), as
// documented in docs/gateways.md and checked against recorded SDK requests
// (testdata/captures).
//
// Client speaks the wire format of the VNPT SDK (SDKVXP 2.0.1) byte for
// byte: XroadVnpt-* headers signed with HMAC-SHA256 over the header JSON
// (Sign), sendEdoc (the raw file streamed as the body, as the SDK does),
// getReceivedEdocList, getEdoc
// (streamed base64 decoding), updateStatus, getSentEdocList and
// getAgenciesList; errors are bus catalogue codes gateway.unreachable,
// gateway.refused, gateway.auth and gateway.bad_reply.
//
// Poller moves packets between the axis and the province's exchange: a
// scheduled poll (bus/schedule.Durable: one node at a time, missed runs
// caught up once) lists and queues, and three delivery kinds of the node's
// delivery engine (bus/delivery) do the work — vxp_pull (a packet into the
// exchange), vxp_status (status 01 back, updateStatus) and vxp_push (an
// exchange to the axis) — with the one retry policy and dead letters
// operators act on. VXP document ids are remembered in the store so that
// nothing is delivered twice. Every Client call is one attempt. The adapter registers the service module "vxp", which
// is on when configs/lgsp.yaml has a gateways.vxp section.
//
// It imports bus, bus/* and bus/service only.
package vxp
