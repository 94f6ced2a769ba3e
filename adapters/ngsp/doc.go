// Package ngsp calls REST services published on NGSP, the national
// integration platform (a WSO2 API Manager gateway, docs/gateways.md):
// OAuth2 client credentials at <gateway>/token with HTTP Basic
// consumerKey:consumerSecret, then Authorization: Bearer on every call.
//
// Client caches the token, refreshes it before it expires (at 80 % of
// expires_in by default), fetches one token at a time for all callers, and
// repeats a call once with a fresh token when the service answers 401
// (the gateway revoked or forgot the token). Errors are the bus catalogue
// codes gateway.unreachable, gateway.auth, gateway.refused and
// gateway.bad_reply.
//
// DanhMuc calls a legacy SOAP service behind the same gateway, "Danh mục
// đơn vị hành chính" (wsdl/consumed/ngsp-danhmuc.wsdl), through the
// gowsdl-generated types of wsdl/consumed/gen/ngspdanhmuc and the SOAP
// runtime adapters/soap, with the Bearer token of a Client.
//
// module.go registers the adapter with bus/service: with a gateways.ngsp
// section in the config, services declared with gateway: ngsp are called
// through a Client holding the province's credentials (docs/gateways.md),
// and Caller is registered as the delivery kind ngsp_call of the node's
// delivery engine (bus/delivery) and as the diverter of the notifications
// of the recipients that the route files' ngsp_deliveries: section
// (section.go, registered in the environment with the gateway name ngsp)
// or the deprecated gateways.ngsp.deliveries map to such services: their
// documents are POSTed to the service with the token and an
// Idempotency-Key.
//
// It imports bus, bus/*, bus/service, adapters/soap and
// wsdl/consumed/gen/ngspdanhmuc (which it owns, docs/architecture.md) only.
package ngsp
