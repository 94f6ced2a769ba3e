package qlvbvnpt

import (
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
)

func init() {
	soapout.Register("qlvb-vnpt/NhanVanBan", soapout.Binding{
		Action:      ActionNhanVanBan, // from the WSDL's binding (doc.go, written by fixgen)
		Version:     soap.V11,
		NewRequest:  func() any { return new(NhanVanBan) },
		NewResponse: func() any { return new(NhanVanBanResponse) },
	})
}
