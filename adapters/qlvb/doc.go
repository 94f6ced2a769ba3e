// Package qlvb publishes LGSP's SOAP document-exchange service for legacy
// QLVB (document management) systems: wsdl/lgsp-edoc.wsdl, served at
// /soap/edoc (the WSDL at /soap/edoc?wsdl, its soap:address set to the
// node's public_url or, when that is empty, the request's host) over SOAP
// 1.1 and 1.2 with adapters/soap and the generated types of
// wsdl/gen/lgspedoc.
//
// The operations are the ones QLVB systems know from the national axis, run
// on the same exchange core (bus/exchange) as the REST API, so grants,
// routes, the ledger and zero retention are the same:
//
//	sendEdoc            edxml.Parse → RequestExchange (data type "edxml",
//	                    title = Subject, recipients = To/OrganId as system
//	                    codes, or the "to" override) → Upload → Complete
//	getReceivedEdocList Inbox
//	getEdoc             Ready + Fetch of the whole packet (≤ MaxEdocBytes)
//	updateStatus        ReportStatus; for StatusCode 01 (đã đến) and 03
//	                    (đã vào sổ) also Confirm(received) when the caller
//	                    has downloaded the content (getEdoc) and has not
//	                    confirmed yet
//	getSentEdocList     Sent + Status: per recipient, its delivery state and
//	                    the last status packet it reported
//	getAgencyList       Registry.List (active systems)
//
// A packet speaks only for the caller (R6, Art. 5): the From/OrganId of
// sendEdoc and updateStatus packets must be the caller's code or an organ
// listed for it (auth.SpeaksFor, edxml.sender_mismatch), and a status
// packet's ResponseFor must name the document of its docId
// (edxml.status_foreign); see docs/edxml.md.
//
// Authentication is that of REST, from the same key store: a WS-Security
// UsernameToken whose Username is the access key and whose Password is the
// secret key, as a PasswordDigest (PasswordText only for the systems listed
// in LGSP_QLVB_PASSWORD_TEXT, comma-separated codes; none by default), with
// revoked/expired keys, suspended systems, rate limits and lockout (the
// verifier's auth.Limits) applied; or, when the request carries an
// Authorization header, the LGSP HTTP signature (auth.Authenticator) over
// the SOAP body. Errors are SOAP faults that carry the catalogue code.
//
// It registers itself as the service module "qlvb" from init; cmd/lgsp
// imports it.
package qlvb
