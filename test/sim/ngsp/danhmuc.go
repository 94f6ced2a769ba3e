package ngspsim

import (
	"context"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"github.com/tuyenquang/lgsp/adapters/soap"
	gen "github.com/tuyenquang/lgsp/wsdl/consumed/gen/ngspdanhmuc"
)

// DanhMucPath is where the legacy SOAP service "Danh mục đơn vị hành
// chính" (wsdl/consumed/ngsp-danhmuc.wsdl) is published on the gateway,
// WSO2-style /{context}/{version}. POST needs a valid Bearer token; GET
// ?wsdl does not.
const DanhMucPath = "/dmdvhc/1.0"

// Fault codes (LoiDanhMuc/MaLoi) of the service.
const (
	FaultNotFound = "KHONG_TIM_THAY"
	FaultInvalid  = "DU_LIEU_KHONG_HOP_LE"
)

// Units is the simulator's table of administrative units: GSO codes of
// Tuyên Quang (008) and its districts as they were before the 2025
// reorganisation, plus Hà Giang (002) as a second province. Sample data.
var Units = []gen.DonViHanhChinh{
	{Ma: "002", Ten: "Tỉnh Hà Giang", Cap: 1},
	{Ma: "008", Ten: "Tỉnh Tuyên Quang", Cap: 1},
	{Ma: "070", Ten: "Thành phố Tuyên Quang", Cap: 2, MaCha: "008"},
	{Ma: "071", Ten: "Huyện Lâm Bình", Cap: 2, MaCha: "008"},
	{Ma: "072", Ten: "Huyện Na Hang", Cap: 2, MaCha: "008"},
	{Ma: "073", Ten: "Huyện Chiêm Hóa", Cap: 2, MaCha: "008"},
	{Ma: "074", Ten: "Huyện Hàm Yên", Cap: 2, MaCha: "008"},
	{Ma: "075", Ten: "Huyện Yên Sơn", Cap: 2, MaCha: "008"},
	{Ma: "076", Ten: "Huyện Sơn Dương", Cap: 2, MaCha: "008"},
}

// newDanhMuc builds the SOAP 1.1 server of the service from the generated
// types and the WSDL embedded with them.
func newDanhMuc() *soap.Server {
	srv, err := soap.NewServer(soap.ServerOptions{WSDL: gen.WSDL, Version11: true})
	if err != nil {
		panic("ngspsim: " + err.Error()) // the embedded WSDL is fixed
	}
	must := func(err error) {
		if err != nil {
			panic("ngspsim: " + err.Error())
		}
	}
	must(srv.Handle(soap.Operation{
		Name: "LayDanhSachDonViHanhChinh", Namespace: gen.TargetNamespace, Action: gen.ActionLayDanhSachDonViHanhChinh,
		New: func() any { return new(gen.LayDanhSachDonViHanhChinh) },
		Do: func(_ context.Context, _ *soap.Header, req any) (any, error) {
			r := req.(*gen.LayDanhSachDonViHanhChinh)
			parent := strings.TrimSpace(r.MaDonViCha)
			if parent != "" && find(parent) == nil {
				return nil, danhMucFault(FaultNotFound, "Không tìm thấy đơn vị hành chính cha mã "+parent)
			}
			out := &gen.LayDanhSachDonViHanhChinhResponse{}
			for _, u := range Units {
				if u.MaCha == parent && (r.Cap == 0 || u.Cap == r.Cap) {
					out.DonVi = append(out.DonVi, &u)
				}
			}
			return out, nil
		},
	}))
	must(srv.Handle(soap.Operation{
		Name: "LayDonViHanhChinh", Namespace: gen.TargetNamespace, Action: gen.ActionLayDonViHanhChinh,
		New: func() any { return new(gen.LayDonViHanhChinh) },
		Do: func(_ context.Context, _ *soap.Header, req any) (any, error) {
			code := strings.TrimSpace(req.(*gen.LayDonViHanhChinh).Ma)
			if code == "" {
				return nil, danhMucFault(FaultInvalid, "Thiếu mã đơn vị hành chính")
			}
			u := find(code)
			if u == nil {
				return nil, danhMucFault(FaultNotFound, "Không tìm thấy đơn vị hành chính mã "+code)
			}
			return &gen.LayDonViHanhChinhResponse{DonVi: u}, nil
		},
	}))
	return srv
}

func find(code string) *gen.DonViHanhChinh {
	i := slices.IndexFunc(Units, func(u gen.DonViHanhChinh) bool { return u.Ma == code })
	if i < 0 {
		return nil
	}
	u := Units[i]
	return &u
}

// danhMucFault is the WSDL's fault: Client, detail LoiDanhMuc.
func danhMucFault(code, text string) *soap.Fault {
	d, _ := xml.Marshal(&gen.LoiDanhMuc{MaLoi: code, MoTa: text})
	return &soap.Fault{Code: "Client", String: code + ": " + text, Detail: d}
}

// serveDanhMuc checks the Bearer token of a SOAP call (as the gateway does)
// and hands it to the SOAP server.
func (s *Server) serveDanhMuc(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && !s.authorized(r) {
		// WSO2's answer to a SOAP API call without valid credentials: an
		// ams:fault document, not a SOAP envelope.
		w.Header().Set("WWW-Authenticate", `Bearer realm="WSO2 API Manager"`)
		w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`<ams:fault xmlns:ams="http://wso2.org/apimanager/security"><ams:code>900901</ams:code><ams:message>Invalid Credentials</ams:message><ams:description>Invalid Credentials. Make sure you have provided the correct security credentials</ams:description></ams:fault>`))
		return
	}
	s.danhmuc.ServeHTTP(w, r)
}
