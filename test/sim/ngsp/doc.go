// Package ngspsim simulates NGSP (WSO2 API Manager) for tests: POST /token
// with client credentials (HTTP Basic consumerKey:consumerSecret,
// grant_type=client_credentials) answering an opaque access_token,
// token_type Bearer, expires_in and scope "am_application_scope default"
// (docs/gateways.md, ref gateways.md §1.2), and a protected sample REST
// service GET /dmdc/1.0/AllCategory that wants Authorization: Bearer.
//
// It also publishes a legacy SOAP service at DanhMucPath, "Danh mục đơn vị
// hành chính" (wsdl/consumed/ngsp-danhmuc.wsdl, ?wsdl served without a
// token): adapters/soap.NewServer with the gowsdl-generated types, a small
// in-memory table (Units), LoiDanhMuc faults; a POST without a valid Bearer
// token is HTTP 401 with WSO2's ams:fault. RevokeAll and ExpireAll make the
// gateway refuse the tokens clients hold.
package ngspsim
