package ngsp

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	gen "github.com/tuyenquang/lgsp/wsdl/consumed/gen/ngspdanhmuc"
)

// MaxDanhMucTimeout bounds one SOAP call of DanhMuc (one attempt).
const MaxDanhMucTimeout = 30 * time.Second

// Levels (Cap) of administrative units.
const (
	LevelProvince = 1 // tỉnh / thành phố trực thuộc trung ương
	LevelDistrict = 2 // quận / huyện / thị xã / thành phố thuộc tỉnh
	LevelCommune  = 3 // xã / phường / thị trấn
)

// FaultNotFound is the LoiDanhMuc/MaLoi of an unknown code.
const FaultNotFound = "KHONG_TIM_THAY"

// Unit is one administrative unit.
type Unit struct {
	Code   string // Ma
	Name   string // Ten
	Level  int    // Cap: LevelProvince, LevelDistrict, LevelCommune
	Parent string // MaCha; "" for a province
}

// DanhMuc calls NGSP's legacy SOAP service "Danh mục đơn vị hành chính"
// (wsdl/consumed/ngsp-danhmuc.wsdl) through its gowsdl-generated types and
// adapters/soap, with the Bearer token of a Client on every call. Safe for
// concurrent use.
//
// Errors: an unknown code (fault LoiDanhMuc KHONG_TIM_THAY) is
// request.not_found; any other fault gateway.refused; HTTP 401 twice (after
// one retry with a fresh token) or 403, and a token the token endpoint
// refuses, gateway.auth; transport failures, timeouts, 5xx and 429
// gateway.unreachable; an answer that is not the WSDL's gateway.bad_reply.
// The SOAP fault or HTTP answer is the cause of the error.
type DanhMuc struct {
	tokens *Client
	soap   *soap.Client
}

// NewDanhMuc returns a client of the service at endpoint (e.g.
// https://api.ngsp.gov.vn/dmdvhc/1.0) that takes its tokens from tokens and
// sends through tokens.HTTP's transport when it has one. timeout bounds
// each SOAP call; 0 or more than MaxDanhMucTimeout is MaxDanhMucTimeout.
func NewDanhMuc(tokens *Client, endpoint string, timeout time.Duration) (*DanhMuc, error) {
	if tokens == nil {
		return nil, errors.New("ngsp danh muc: no token client")
	}
	if timeout <= 0 || timeout > MaxDanhMucTimeout {
		timeout = MaxDanhMucTimeout
	}
	var base http.RoundTripper = defaultTransport
	if tokens.HTTP != nil && tokens.HTTP.Transport != nil {
		base = tokens.HTTP.Transport
	}
	sc, err := soap.NewClient(endpoint, soap.WithVersion(soap.V11), soap.WithTimeout(timeout), soap.WithTransport(bearerTransport{base}))
	if err != nil {
		return nil, err
	}
	return &DanhMuc{tokens: tokens, soap: sc}, nil
}

// List calls LayDanhSachDonViHanhChinh: the units whose parent is parent
// ("" for the provinces), of level (0: any level). An unknown parent is
// request.not_found.
func (d *DanhMuc) List(ctx context.Context, parent string, level int) ([]Unit, error) {
	var resp gen.LayDanhSachDonViHanhChinhResponse
	req := &gen.LayDanhSachDonViHanhChinh{MaDonViCha: parent, Cap: int32(level)}
	if err := d.call(ctx, "LayDanhSachDonViHanhChinh", gen.ActionLayDanhSachDonViHanhChinh, req, &resp); err != nil {
		return nil, err
	}
	out := make([]Unit, 0, len(resp.DonVi))
	for _, u := range resp.DonVi {
		if u != nil {
			out = append(out, unit(u))
		}
	}
	return out, nil
}

// Get calls LayDonViHanhChinh: the unit of code, request.not_found when
// there is none.
func (d *DanhMuc) Get(ctx context.Context, code string) (Unit, error) {
	var resp gen.LayDonViHanhChinhResponse
	if err := d.call(ctx, "LayDonViHanhChinh", gen.ActionLayDonViHanhChinh, &gen.LayDonViHanhChinh{Ma: code}, &resp); err != nil {
		return Unit{}, err
	}
	if resp.DonVi == nil || resp.DonVi.Ma == "" {
		return Unit{}, bus.ErrGatewayBadReply.New("ngsp LayDonViHanhChinh: answer has no DonVi")
	}
	return unit(resp.DonVi), nil
}

func unit(u *gen.DonViHanhChinh) Unit {
	return Unit{Code: u.Ma, Name: u.Ten, Level: int(u.Cap), Parent: u.MaCha}
}

// call sends one operation with the cached token and, when the gateway
// answers 401, once more with a fresh one.
func (d *DanhMuc) call(ctx context.Context, op, action string, req, resp any) error {
	tok, err := d.tokens.Token(ctx)
	if err != nil {
		return err
	}
	err = d.soap.Call(context.WithValue(ctx, bearerKey{}, tok), action, req, resp)
	if httpStatus(err) == http.StatusUnauthorized {
		d.tokens.Invalidate(tok)
		if tok, err = d.tokens.Token(ctx); err != nil {
			return err
		}
		err = d.soap.Call(context.WithValue(ctx, bearerKey{}, tok), action, req, resp)
		if httpStatus(err) == http.StatusUnauthorized {
			return bus.ErrGatewayAuth.Wrap(err, "ngsp %s: HTTP 401 with a fresh token", op)
		}
	}
	if err != nil {
		return mapError(op, err)
	}
	return nil
}

// httpStatus is the status of a non-SOAP answer in err, 0 when none.
func httpStatus(err error) int {
	var he *soap.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// mapError turns an error of adapters/soap into a gateway catalogue code.
func mapError(op string, err error) error {
	var f *soap.Fault
	if errors.As(err, &f) {
		// gen.LoiDanhMuc's fields, read whatever the namespace prefix of the
		// detail (a peer may declare it on the envelope, out of Detail).
		var lf struct {
			MaLoi string `xml:"MaLoi"`
			MoTa  string `xml:"MoTa"`
		}
		if len(f.Detail) > 0 && xml.Unmarshal(f.Detail, &lf) == nil && lf.MaLoi != "" {
			if lf.MaLoi == FaultNotFound {
				return bus.ErrNotFound.Wrap(f, "ngsp %s: %s", op, strings.TrimSpace(lf.MoTa))
			}
			return bus.ErrGatewayRefused.Wrap(f, "ngsp %s: %s: %s", op, lf.MaLoi, strings.TrimSpace(lf.MoTa))
		}
		return bus.ErrGatewayRefused.Wrap(f, "ngsp %s: fault %s: %s", op, f.Code, f.String)
	}
	if s := httpStatus(err); s != 0 {
		switch {
		case s == http.StatusForbidden:
			return bus.ErrGatewayAuth.Wrap(err, "ngsp %s: HTTP %d", op, s)
		case s >= 500 || s == http.StatusTooManyRequests:
			return bus.ErrGatewayUnreachable.Wrap(err, "ngsp %s: HTTP %d", op, s)
		case s >= 300:
			return bus.ErrGatewayRefused.Wrap(err, "ngsp %s: HTTP %d", op, s)
		default:
			return bus.ErrGatewayBadReply.Wrap(err, "ngsp %s: the answer is not a SOAP envelope", op)
		}
	}
	switch {
	case errors.Is(err, bus.ErrBodyTooLarge):
		return bus.ErrGatewayBadReply.Wrap(err, "ngsp %s: answer too large", op)
	case errors.Is(err, bus.ErrServiceDown), errors.Is(err, bus.ErrServiceTimeout), errors.Is(err, bus.ErrServiceBusy):
		return bus.ErrGatewayUnreachable.Wrap(err, "ngsp %s", op)
	}
	return err // cancelled by the caller, or a request LGSP could not build
}

// bearerKey carries the token of one call in its context.
type bearerKey struct{}

// bearerTransport sets Authorization: Bearer from the request's context:
// adapters/soap has only fixed HTTP headers, the token changes.
type bearerTransport struct{ base http.RoundTripper }

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, _ := r.Context().Value(bearerKey{}).(string)
	if tok == "" {
		return t.base.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r2)
}
