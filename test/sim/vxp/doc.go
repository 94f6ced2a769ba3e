// Package vxpsim simulates the server side of VXP, the national document
// axis (VNPT "XroadVnpt" adapter), from the wire format the vendor SDK
// really sends (recorded in adapters/vxp/testdata/captures), for
// end-to-end tests:
//
//   - every call must carry XroadVnpt-sign-header-key, XroadVnpt-sign-header
//     and XroadVnpt-hash-header; the hash must be the lower-case hex
//     HMAC-SHA256 of the transmitted sign-header (read as ISO-8859-1, as the
//     SDK sends it) under the secret of the caller's systemid, the key list
//     must name the JSON's keys in order, every signed value must be sent
//     as its XroadVnpt-<name> header (docId and docid may both be there),
//     and the signed timestamp must be within the window (SetClock); a bad
//     signature is answered 401 {status FAIL, ErrorCode "401"};
//   - sendEdoc reads the raw body (the .edxml bytes, then the SDK's CRLF),
//     checks hash-file in the SDK's unpadded hex, refuses what is not one
//     edXML document (a multipart body, for one), and routes to the signed
//     "to" or, without it, to the packet's To organ ids; getReceivedEdocList,
//     getEdoc (base64 data), updateStatus, getSentEdocList and
//     getAgenciesList answer with the real JSON field names; packets are
//     kept in memory. LoadCaptures and Capture.Replay replay recordings.
//
// It is written independently of adapters/vxp so that it checks the
// client rather than sharing its code.
package vxpsim
