package ngsp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/ngsp"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	ngspsim "github.com/tuyenquang/lgsp/test/sim/ngsp"
	"github.com/tuyenquang/lgsp/test/testenv"
	gen "github.com/tuyenquang/lgsp/wsdl/consumed/gen/ngspdanhmuc"
)

const (
	consumerKey    = "AbCdEfGhIjKlMnOpQrStUvWxYz1a"
	consumerSecret = "consumer-secret"
)

// setupDanhMuc serves sim (through wrap, when set) and returns a DanhMuc
// of its SOAP endpoint and the token client behind it.
func setupDanhMuc(t *testing.T, wrap func(sim *ngspsim.Server) http.Handler) (*ngspsim.Server, *ngsp.DanhMuc, *ngsp.Client, string) {
	t.Helper()
	sim := ngspsim.New(consumerKey, consumerSecret)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tokens := &ngsp.Client{TokenURL: srv.URL + "/token", ClientID: consumerKey, ClientSecret: consumerSecret}
	dm, err := ngsp.NewDanhMuc(tokens, srv.URL+ngspsim.DanhMucPath, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return sim, dm, tokens, srv.URL
}

func TestDanhMucListAndGet(t *testing.T) {
	sim, dm, _, _ := setupDanhMuc(t, nil)
	ctx := context.Background()

	provinces, err := dm.List(ctx, "", ngsp.LevelProvince)
	if err != nil || len(provinces) != 2 || provinces[1] != (ngsp.Unit{Code: "008", Name: "Tỉnh Tuyên Quang", Level: 1}) {
		t.Fatalf("List(provinces) = %+v, %v", provinces, err)
	}
	districts, err := dm.List(ctx, "008", ngsp.LevelDistrict)
	if err != nil || len(districts) != 7 {
		t.Fatalf("List(008, districts) = %+v, %v; want 7", districts, err)
	}
	for _, d := range districts {
		if d.Parent != "008" || d.Level != ngsp.LevelDistrict || d.Name == "" {
			t.Fatalf("district %+v", d)
		}
	}
	if districts[0] != (ngsp.Unit{Code: "070", Name: "Thành phố Tuyên Quang", Level: 2, Parent: "008"}) {
		t.Fatalf("first district %+v", districts[0])
	}
	if communes, err := dm.List(ctx, "008", ngsp.LevelCommune); err != nil || len(communes) != 0 {
		t.Fatalf("List(008, communes) = %+v, %v; want none", communes, err)
	}
	u, err := dm.Get(ctx, "073")
	if err != nil || u != (ngsp.Unit{Code: "073", Name: "Huyện Chiêm Hóa", Level: 2, Parent: "008"}) {
		t.Fatalf("Get(073) = %+v, %v", u, err)
	}
	if sim.Issued() != 1 || sim.Calls() != 4 {
		t.Fatalf("issued %d tokens for %d calls; want 1 token (cached), 4 calls", sim.Issued(), sim.Calls())
	}
}

func TestDanhMucUnknownCode(t *testing.T) {
	_, dm, _, _ := setupDanhMuc(t, nil)
	ctx := context.Background()
	_, err := dm.Get(ctx, "999")
	if !errors.Is(err, bus.ErrNotFound) {
		t.Fatalf("Get(999) = %v, want request.not_found", err)
	}
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != "Client" || !strings.Contains(string(f.Detail), ngsp.FaultNotFound) {
		t.Fatalf("cause of %v is not the LoiDanhMuc fault: %+v", err, f)
	}
	if be := bus.AsError(err); !strings.Contains(be.Detail, "999") {
		t.Fatalf("detail %q does not name the code", be.Detail)
	}
	if _, err := dm.List(ctx, "999", 0); !errors.Is(err, bus.ErrNotFound) {
		t.Fatalf("List(999) = %v, want request.not_found", err)
	}
	if _, err := dm.Get(ctx, ""); !errors.Is(err, bus.ErrGatewayRefused) {
		t.Fatalf("Get(\"\") = %v, want gateway.refused (fault %s)", err, ngspsim.FaultInvalid)
	}
}

// A token the gateway no longer accepts (expired there, or revoked) is
// dropped and the call repeated once with a fresh one.
func TestDanhMucTokenRefusedRetriesOnce(t *testing.T) {
	for name, refuse := range map[string]func(*ngspsim.Server){
		"expired": (*ngspsim.Server).ExpireAll,
		"revoked": (*ngspsim.Server).RevokeAll,
	} {
		t.Run(name, func(t *testing.T) {
			sim, dm, _, _ := setupDanhMuc(t, nil)
			ctx := context.Background()
			if _, err := dm.Get(ctx, "008"); err != nil {
				t.Fatal(err)
			}
			refuse(sim)
			u, err := dm.Get(ctx, "008")
			if err != nil || u.Name != "Tỉnh Tuyên Quang" {
				t.Fatalf("after the token was refused: %+v, %v", u, err)
			}
			if sim.Issued() != 2 || sim.Calls() != 2 {
				t.Fatalf("issued %d, calls %d; want a fresh token and the call repeated once", sim.Issued(), sim.Calls())
			}
			if _, err := dm.Get(ctx, "070"); err != nil || sim.Issued() != 2 {
				t.Fatalf("next call: %v, %d tokens; want the fresh token reused", err, sim.Issued())
			}
		})
	}
}

func TestDanhMucAuthErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("invalid client", func(t *testing.T) {
		sim, dm, tokens, _ := setupDanhMuc(t, nil)
		tokens.ClientSecret = "wrong"
		if _, err := dm.Get(ctx, "008"); !errors.Is(err, bus.ErrGatewayAuth) {
			t.Fatalf("wrong secret = %v, want gateway.auth", err)
		}
		if sim.Calls() != 0 {
			t.Fatalf("%d calls reached the service without a token", sim.Calls())
		}
	})
	t.Run("no token", func(t *testing.T) {
		// The gateway refuses a SOAP call without Authorization: HTTP 401, not a fault.
		_, _, _, base := setupDanhMuc(t, nil)
		sc, err := soap.NewClient(base + ngspsim.DanhMucPath)
		if err != nil {
			t.Fatal(err)
		}
		var resp gen.LayDonViHanhChinhResponse
		err = sc.Call(ctx, gen.ActionLayDonViHanhChinh, &gen.LayDonViHanhChinh{Ma: "008"}, &resp)
		var he *soap.HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || !bytes.Contains(he.Body, []byte("900901")) {
			t.Fatalf("call without a token = %v, want HTTP 401 with WSO2's 900901", err)
		}
	})
	t.Run("fresh token refused too", func(t *testing.T) {
		// Every token is refused: one retry, then gateway.auth.
		sim, dm, _, _ := setupDanhMuc(t, func(sim *ngspsim.Server) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == ngspsim.DanhMucPath {
					sim.RevokeAll()
				}
				sim.ServeHTTP(w, r)
			})
		})
		_, err := dm.Get(ctx, "008")
		if !errors.Is(err, bus.ErrGatewayAuth) || sim.Issued() != 2 {
			t.Fatalf("= %v after %d tokens, want gateway.auth after one retry (2 tokens)", err, sim.Issued())
		}
	})
}

func TestDanhMucTimeoutAndDown(t *testing.T) {
	ctx := context.Background()
	sim := ngspsim.New(consumerKey, consumerSecret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ngspsim.DanhMucPath {
			// A gateway that does not answer. The body is read so that
			// the server sees the client go away.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tokens := &ngsp.Client{TokenURL: srv.URL + "/token", ClientID: consumerKey, ClientSecret: consumerSecret}
	dm, err := ngsp.NewDanhMuc(tokens, srv.URL+ngspsim.DanhMucPath, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := dm.Get(ctx, "008"); !errors.Is(err, bus.ErrGatewayUnreachable) || time.Since(start) > 3*time.Second {
		t.Fatalf("silent gateway = %v after %s, want gateway.unreachable after the 100ms timeout", err, time.Since(start))
	}

	_, dm2, _, _ := setupDanhMuc(t, func(sim *ngspsim.Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == ngspsim.DanhMucPath && r.Method == http.MethodPost {
				http.Error(w, "upstream down", http.StatusServiceUnavailable)
				return
			}
			sim.ServeHTTP(w, r)
		})
	})
	if _, err := dm2.Get(ctx, "008"); !errors.Is(err, bus.ErrGatewayUnreachable) {
		t.Fatalf("HTTP 503 = %v, want gateway.unreachable", err)
	}
}

// TestDanhMucZeepInterop: python3-zeep, an independent SOAP stack, calls the
// simulator's endpoint from the WSDL it publishes (the one our types are
// generated from). Fails (never skips) when zeep is missing: test/run.sh
// installs python3-zeep.
func TestDanhMucZeepInterop(t *testing.T) {
	py := testenv.RequireZeep(t)
	_, _, tokens, base := setupDanhMuc(t, nil)
	tok, err := tokens.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	script := filepath.Join("..", "..", "test", "interop", "zeep_ngsp_danhmuc.py")
	cmd := exec.CommandContext(ctx, py, script, base+ngspsim.DanhMucPath+"?wsdl", tok)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zeep: %v\n%s", err, stderr.String())
	}
	type unit struct {
		Ma, Ten, MaCha string
		Cap            int
	}
	var rep struct {
		Get struct {
			OK unit `json:"ok"`
		} `json:"get"`
		List struct {
			OK []unit `json:"ok"`
		} `json:"list"`
		Unknown struct {
			Fault struct {
				Code  string `json:"code"`
				MaLoi string `json:"ma_loi"`
			} `json:"fault"`
		} `json:"unknown"`
		NoToken struct {
			Rejected string `json:"rejected"`
		} `json:"no_token"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("zeep report %s: %v", out, err)
	}
	if rep.Get.OK != (unit{Ma: "008", Ten: "Tỉnh Tuyên Quang", Cap: 1}) {
		t.Errorf("zeep LayDonViHanhChinh(008) = %+v\n%s", rep.Get.OK, out)
	}
	if len(rep.List.OK) != 7 || rep.List.OK[0] != (unit{Ma: "070", Ten: "Thành phố Tuyên Quang", Cap: 2, MaCha: "008"}) {
		t.Errorf("zeep LayDanhSachDonViHanhChinh(008, 2) = %+v\n%s", rep.List.OK, out)
	}
	if !strings.HasSuffix(rep.Unknown.Fault.Code, "Client") || rep.Unknown.Fault.MaLoi != ngsp.FaultNotFound {
		t.Errorf("zeep LayDonViHanhChinh(999) fault = %+v\n%s", rep.Unknown.Fault, out)
	}
	if !strings.Contains(rep.NoToken.Rejected, "900901") {
		t.Errorf("zeep without a token: %s, want the gateway's 401 (ams:fault 900901)", out)
	}
}
