package qlvbviettel

import (
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
)

func init() {
	soapout.Register("qlvb-viettel/ReceiveDocument", soapout.Binding{
		Action:      ActionReceiveDocument, // gowsdl loses SOAP 1.2 actions; fixgen keeps them (doc.go)
		Version:     soap.V12,
		NewRequest:  func() any { return new(ReceiveDocument) },
		NewResponse: func() any { return new(ReceiveDocumentResponse) },
	})
}
