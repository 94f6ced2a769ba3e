// Package qlvbviettel simulates a Viettel-style legacy e-Office for tests:
// a SOAP 1.2-only server built on adapters/soap.NewServer that serves
// wsdl/consumed/qlvb-viettel.wsdl at ?wsdl and its operation
// ReceiveDocument (number, notation, subject, organ apart; attachments as
// repeated elements), keeps every document it accepts (attachments decoded
// from base64), and can be told to fail the next N calls.
package qlvbviettel
