package soapout

import "github.com/tuyenquang/lgsp/adapters/soap"

// Binding is one operation of a consumed WSDL (see soap.Binding).
type Binding = soap.Binding

// Register adds the binding of a consumed operation under key
// "<wsdl base name>/<operation>", the key route files name with wsdl: and
// operation:. Call it from an init function in a small register.go next to
// the generated package:
//
//	soapout.Register("qlvb-vnpt/NhanVanBan", soapout.Binding{
//		Action:      qlvbvnpt.ActionNhanVanBan,
//		NewRequest:  func() any { return new(NhanVanBan) },
//		NewResponse: func() any { return new(NhanVanBanResponse) },
//	})
func Register(key string, b Binding) { soap.Register(key, b) }
