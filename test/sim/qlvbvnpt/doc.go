// Package qlvbvnpt simulates a VNPT-style legacy QLVB for tests: a SOAP
// 1.1 server built on adapters/soap.NewServer that serves
// wsdl/consumed/qlvb-vnpt.wsdl at ?wsdl and its operation NhanVanBan,
// decodes the request into the gowsdl-generated type, keeps every packet it
// accepts (the edXML decoded from base64), and can be told to fail the next
// N calls (a Server fault, which a pusher retries) or to refuse with a
// Client fault of its own code.
package qlvbvnpt
