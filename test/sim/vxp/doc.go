// Package vxpsim simulates the server side of VXP, the national document
// axis (VNPT "XroadVnpt" adapter), from the wire format documented in
// docs/gateways.md, for end-to-end tests:
//
//   - every call must carry XroadVnpt-sign-header-key, XroadVnpt-sign-header
//     and XroadVnpt-hash-header; the hash must be the lower-case hex
//     HMAC-SHA256 of the transmitted sign-header under the secret of the
//     caller's systemid, the key list must name the JSON's keys in order,
//     and every signed value must equal the XroadVnpt-<name> header sent;
//     a bad signature is answered 401 {status FAIL, ErrorCode "401"};
//   - sendEdoc (multipart part file_doc, hash-file checked in the SDK's
//     unpadded hex), getReceivedEdocList, getEdoc (base64 data),
//     updateStatus, getSentEdocList and getAgenciesList answer with the real
//     JSON field names; packets are kept in memory.
//
// It is written independently of adapters/vxp so that it checks the
// client rather than sharing its code.
package vxpsim
