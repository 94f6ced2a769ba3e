package test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

// headerRecorder keeps the headers of the last answer.
type headerRecorder struct {
	mu   sync.Mutex
	last http.Header
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		h.mu.Lock()
		h.last = resp.Header.Clone()
		h.mu.Unlock()
	}
	return resp, err
}

func (h *headerRecorder) get(k string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last.Get(k)
}

// TestSOAPDuringDatabaseOutage freezes the test's own MariaDB (SIGSTOP)
// under a node and calls the QLVB SOAP service (/soap/edoc) over SOAP 1.1
// and 1.2: once the circuit is open, sendEdoc and getAgencyList answer at
// once a Server (1.1) / Receiver (1.2) fault with HTTP 503,
// X-LGSP-Error-Code system.unavailable and Retry-After; the refused
// sendEdoc created nothing; after the thaw the same call succeeds.
func TestSOAPDuringDatabaseOutage(t *testing.T) {
	m := startOwnMariaDB(t)
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Store = m.dsn()
		c.RoutesDir, c.PublicURL = dir, ""
		c.Limits.RequestTimeout = 8 * time.Second
		c.Database.CallTimeout = time.Second
		c.Database.ProbeEvery = 200 * time.Millisecond
	})
	s := n.system(t, qlvbSender, "Sở Nội vụ — QLVB")
	n.system(t, qlvbRecipient, "Sở Tư pháp — QLVB")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	doc, _ := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")
	ctx := context.Background()

	type peer struct {
		v     soap.Version
		fault string // the fault code of a server-side failure
		c     *soap.Client
		h     *headerRecorder
	}
	var peers []peer
	for _, p := range []struct {
		v     soap.Version
		fault string
	}{{soap.V11, "Server"}, {soap.V12, "Receiver"}} {
		h := &headerRecorder{}
		c, err := soap.NewClient(n.url+qlvb.Path, soap.WithVersion(p.v), soap.WithTimeout(time.Minute),
			soap.WithUsernameToken(s.AccessKey, s.SecretKey, true), soap.WithTransport(h))
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, peer{p.v, p.fault, c, h})
	}
	send := func(c *soap.Client) error {
		var resp lgspedoc.SendEdocResponse
		return c.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: []byte(base64.StdEncoding.EncodeToString(doc))}, &resp)
	}
	agencies := func(c *soap.Client) error {
		var resp lgspedoc.GetAgencyListResponse
		return c.Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, &resp)
	}
	sent := func() int {
		list, err := n.svc.Exchange().Sent(ctx, qlvbSender, 500)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, p := range peers {
		if err := send(p.c); err != nil {
			t.Fatalf("sendEdoc (SOAP %s) before the outage: %v", p.v, err)
		}
	}
	before := sent()

	m.signal(syscall.SIGSTOP)
	unavailable := func(err error) bool {
		var f *soap.Fault
		return errors.As(err, &f) && f.LGSPCode == "system.unavailable"
	}
	// getAgencyList opens the circuit: no sendEdoc reaches the frozen
	// database, so the count below is exact.
	// Before the circuit opens a call waits its call deadline (1 s) and
	// counts a fault; once it is open the refusal is immediate.
	eventually(t, "the circuit opens (getAgencyList refused at once)", func() (bool, error) {
		t0 := time.Now()
		err := agencies(peers[0].c)
		return unavailable(err) && time.Since(t0) < 200*time.Millisecond, err
	})
	for _, p := range peers {
		for op, call := range map[string]func(*soap.Client) error{"sendEdoc": send, "getAgencyList": agencies} {
			t0 := time.Now()
			err := call(p.c)
			took := time.Since(t0)
			var f *soap.Fault
			if !errors.As(err, &f) {
				t.Fatalf("%s (SOAP %s) during the outage: %v, want a fault", op, p.v, err)
			}
			if f.Code != p.fault || f.HTTPStatus != http.StatusServiceUnavailable || f.LGSPCode != "system.unavailable" || f.RetryAfter <= 0 || f.MessageVI == "" {
				t.Errorf("%s (SOAP %s) during the outage: fault %s HTTP %d %s Retry-After %d, want %s 503 system.unavailable with Retry-After", op, p.v, f.Code, f.HTTPStatus, f.LGSPCode, f.RetryAfter, p.fault)
			}
			if got := p.h.get("X-LGSP-Error-Code"); got != "system.unavailable" {
				t.Errorf("%s (SOAP %s): X-LGSP-Error-Code %q", op, p.v, got)
			}
			if p.h.get("Retry-After") == "" {
				t.Errorf("%s (SOAP %s): no Retry-After header", op, p.v)
			}
			if took > 500*time.Millisecond {
				t.Errorf("%s (SOAP %s) took %s while the circuit is open, want an answer at once", op, p.v, took)
			}
		}
	}

	m.signal(syscall.SIGCONT)
	eventually(t, "sendEdoc succeeds after the thaw", func() (bool, error) {
		err := send(peers[1].c)
		return err == nil, err
	})
	// The refused calls created nothing: only the one after the thaw.
	if got := sent(); got != before+1 {
		t.Fatalf("%d exchanges sent after the outage, want %d (refused sendEdoc calls must create nothing)", got, before+1)
	}
}
