package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/vxp"
	"github.com/tuyenquang/lgsp/bus/service"
)

// openVXP sends the head of a /vxp/sendEdoc declaring declared body bytes,
// signed for a file of that size when secret is set (else with no
// signature at all), then the first send body bytes, and stalls.
func openVXP(t *testing.T, n *node, secret string, declared int64, send int, salt int) (*slowConn, error) {
	addr := strings.TrimPrefix(n.url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST /vxp/sendEdoc HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n", addr, declared)
	if secret != "" {
		// Every dripper its own signature (hash-file), so none is a replay.
		s := vxp.Sign(secret, []vxp.Header{{Name: "systemid", Value: sdkSys}, {Name: "servicetype", Value: "eDoc"},
			{Name: "messagetype", Value: "edoc"}, {Name: "hash-file", Value: fmt.Sprintf("%064x", salt)},
			{Name: "from", Value: sdkSys}, {Name: "timestamp", Value: vxp.FormatTimestamp(time.Now(), time.FixedZone("ICT", 7*3600))},
			{Name: "Content-Type", Value: "application/octet-stream"}})
		h := http.Header{}
		s.Apply(h)
		_ = h.Write(&b)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()+strings.Repeat("<", send)); err != nil {
		c.Close()
		return nil, err
	}
	return &slowConn{conn: c, br: bufio.NewReader(c), sent: time.Now()}, nil
}

// TestVXPEndpointSlowAndHugeBodies: a signed /vxp/sendEdoc whose body
// drips is cut with the service's body deadlines (408 request.too_slow)
// and creates nothing; slow clients (/token and signed /vxp drippers)
// do not starve signed SDK calls; a huge declared Content-Length is
// answered at once without reading, unauthenticated (auth.missing) or
// signed (request.too_large), and reserves none of the unauthenticated
// body budget.
func TestVXPEndpointSlowAndHugeBodies(t *testing.T) {
	const (
		grace    = time.Second
		qwait    = 500 * time.Millisecond
		drippers = 24
		attack   = 2 * time.Second
		bound    = 2 * time.Second
	)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		vxpEndpointOn(c)
		c.Log.Level = "info"
		c.Limits.BodyGrace, c.Limits.BodyMaxStall, c.Limits.QueueWait = grace, grace, qwait
		c.Limits.MaxInFlight = 16
		c.Limits.UnauthInFlight, c.Limits.UnauthQueued = 4, 4
	})
	ctx := context.Background()
	n.system(t, sdkSys, "SDK")
	n.system(t, sdkRESTSys, "REST")
	n.grant(t, "exchange", sdkSys, sdkRESTSys, "edoc")
	secret := n.clients[sdkSys].SecretKey
	cl := sdkClient(n, sdkSys, secret)

	t.Run("huge declared length", func(t *testing.T) {
		for _, tc := range []struct {
			secret string
			status int
			code   string
		}{{"", 401, "auth.missing"}, {secret, 413, "request.too_large"}} {
			s, err := openVXP(t, n, tc.secret, 40<<30, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			resp, took, err := s.outcome(time.Second)
			if err != nil || resp.StatusCode != tc.status || resp.Header.Get("X-LGSP-Error-Code") != tc.code {
				t.Fatalf("40 GiB declared: %v %v, want %d %s", resp, err, tc.status, tc.code)
			}
			if took > time.Second || n.svc.UnauthBodyBytes() != 0 {
				t.Fatalf("answered after %s; unauthenticated budget in use %d", took, n.svc.UnauthBodyBytes())
			}
		}
	})

	t.Run("drip is cut", func(t *testing.T) {
		s, err := openVXP(t, n, secret, 1000, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		resp, took, err := s.outcome(grace + 3*time.Second)
		if err != nil || resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-LGSP-Error-Code") != "request.too_slow" {
			t.Fatalf("dripping sendEdoc: %v %v, want 408 request.too_slow", resp, err)
		}
		if took < grace || took > grace+time.Second {
			t.Fatalf("cut after %s, want within [%s, %s]", took, grace, grace+time.Second)
		}
		if sent, err := cl.GetSentEdocList(ctx, vxp.MessageEdoc); err != nil || len(sent) != 0 {
			t.Fatalf("a cut sendEdoc left %+v (%v)", sent, err)
		}
	})

	t.Run("signed SDK calls are not starved", func(t *testing.T) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var salt atomic.Int64
		salt.Store(100)
		fails := make(chan error, drippers)
		for i := range drippers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var s *slowConn
					var err error
					if i%3 == 0 { // a signed dripper holds a main slot
						s, err = openVXP(t, n, secret, 1000, 1, int(salt.Add(1)))
					} else { // unauthenticated ones fill their pool
						s, err = openSlow(t, n.url, "/token", 100, 1)
					}
					if err != nil {
						fails <- err
						return
					}
					resp, _, err := s.outcome(grace + qwait + 3*time.Second)
					if err != nil {
						fails <- err
						return
					}
					switch code := resp.Header.Get("X-LGSP-Error-Code"); code {
					case "request.too_slow":
					case "system.busy":
						select {
						case <-stop:
							return
						case <-time.After(100 * time.Millisecond):
						}
					default:
						fails <- fmt.Errorf("dripper answered %d %s", resp.StatusCode, code)
						return
					}
				}
			}()
		}
		eventually(t, "the unauthenticated pool is full of slow clients", func() (bool, error) {
			return n.svc.UnauthInFlight() == 4, nil
		})
		end := time.Now().Add(attack)
		calls := 0
		pace := time.NewTicker(20 * time.Millisecond) // within the key's rate limit
		defer pace.Stop()
		for ; time.Now().Before(end); <-pace.C {
			start := time.Now()
			if _, err := cl.GetReceivedEdocList(ctx, vxp.MessageEdoc); err != nil {
				close(stop)
				wg.Wait()
				t.Fatalf("signed SDK call %d during the attack: %v", calls, err)
			}
			if d := time.Since(start); d > bound {
				t.Fatalf("signed SDK call took %s", d)
			}
			calls++
		}
		close(stop)
		wg.Wait()
		close(fails)
		for err := range fails {
			t.Error(err)
		}
		if calls < 10 {
			t.Fatalf("%d signed calls in %s", calls, attack)
		}
	})
}
