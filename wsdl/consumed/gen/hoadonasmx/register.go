package hoadonasmx

import (
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
)

func init() {
	// ASMX publishes a SOAP 1.1 and a SOAP 1.2 binding with one action; a
	// route's version: picks one, 1.2 when it says nothing.
	soapout.Register("hoadon-asmx/ImportInv", soapout.Binding{
		Action:      ActionImportInv,
		Version:     soap.V12,
		NewRequest:  func() any { return new(ImportInv) },
		NewResponse: func() any { return new(ImportInvResponse) },
	})
}
