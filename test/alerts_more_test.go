package test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// ruleNode starts a node whose alerts go to a signed webhook sink, with
// only the given rules on; more adjusts the rest of the configuration.
func ruleNode(t *testing.T, rules alert.Rules, more func(*service.Config)) (*node, *alertSink) {
	t.Helper()
	sink := &alertSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	t.Setenv("LGSP_ALERTS_WEBHOOK_SECRET", alertSecret)
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.Rules = rules
		c.Alerts.Webhook.URL = srv.URL
		if more != nil {
			more(c)
		}
	})
	return n, sink
}

// TestAlertAuthKeyFailures: bad signatures with one access key from two
// client addresses (neither reaching the lock) reach auth.alert_failures
// within auth.lock_window and fire auth_key_failures for that key; once
// they age out of the window the alert resolves.
func TestAlertAuthKeyFailures(t *testing.T) {
	n, sink := ruleNode(t, alert.Rules{AuthKeyFailures: true}, func(c *service.Config) {
		c.Auth.LockFailures, c.Auth.AlertFailures, c.Auth.LockWindow = 100, 4, 2*time.Second
	})
	victim := n.system(t, "000.00.52.H60", "Sở Nội vụ")
	bad := func(c *http.Client) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/inbox", nil)
		if err := auth.Sign(req, victim.AccessKey, "guessed-secret", auth.EmptySHA256, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if code := resp.Header.Get("X-LGSP-Error-Code"); code != "auth.bad_signature" {
			t.Fatalf("bad signature answered %d %q", resp.StatusCode, code)
		}
	}
	a, b := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	for range 2 {
		bad(a)
		bad(b)
	}
	eventually(t, "auth_key_failures fired", func() (bool, error) {
		return sink.count(alert.RuleAuthKeyFailures, alert.Firing) == 1, nil
	})
	m := sink.message(alert.RuleAuthKeyFailures, alert.Firing)
	if !strings.HasSuffix(m.Subject, "/key:"+victim.AccessKey) || !strings.Contains(m.MessageVI, "chữ ký sai") || !strings.Contains(m.MessageEN, "4 bad signatures") {
		t.Fatalf("message: %+v", m)
	}
	eventually(t, "auth_key_failures resolved", func() (bool, error) {
		return sink.count(alert.RuleAuthKeyFailures, alert.Resolved) == 1, nil
	})
	if f := sink.count(alert.RuleAuthKeyFailures, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
}

// selfSigned writes a self-signed certificate of key, valid until
// notAfter, to path and returns its PEM.
func selfSigned(t *testing.T, path, cn string, key crypto.Signer, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if path != "" {
		writePEM(t, path, "CERTIFICATE", der)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestAlertCertExpiring: with cert_expiry_days 2, the node's TLS
// certificate (valid one day), an outbound_tls CA file expiring in a day
// and an RSA key registered as a certificate expiring in a day fire
// cert_expiring (the first two, per node) and key_cert_expiring; an
// outbound CA valid 90 days does not. Renewing the CA file resolves its
// alert while the TLS one holds; revoking the key resolves the key's.
func TestAlertCertExpiring(t *testing.T) {
	pki := newPKI(t, "LGSP test CA")
	certFile, keyFile, _ := pki.issue(t, "server", "lgsp.test", true)
	dir := t.TempDir()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	soonCA, laterCA := filepath.Join(dir, "soon.pem"), filepath.Join(dir, "later.pem")
	selfSigned(t, soonCA, "CA sắp hết hạn", ecKey, time.Now().Add(24*time.Hour))
	selfSigned(t, laterCA, "CA còn hạn", ecKey, time.Now().Add(90*24*time.Hour))
	n, sink := ruleNode(t, alert.Rules{CertExpiryDays: 2}, func(c *service.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
		c.OutboundTLS.CAFiles = []string{soonCA, laterCA}
	})
	ctx := context.Background()
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: "000.00.53.H60", Name: "Sở Xây dựng"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.Registry().AllowAlg(ctx, "000.00.53.H60", auth.AlgRSASHA256); err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ak, err := n.svc.Registry().RegisterRSAKey(ctx, "000.00.53.H60", selfSigned(t, "", "Sở Xây dựng", rsaKey, time.Now().Add(24*time.Hour)), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	firing := func(rule, subject string) bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, m := range sink.msgs {
			if m.Rule == rule && m.Kind == alert.Firing && m.Subject == subject {
				return true
			}
		}
		return false
	}
	const node = "test-node" // startNodeWith's node name
	eventually(t, "cert_expiring and key_cert_expiring fired", func() (bool, error) {
		return firing(alert.RuleCertExpiring, node+"/tls") && firing(alert.RuleCertExpiring, node+"/outbound_tls.ca_files[0]") &&
			firing(alert.RuleKeyCertExpiring, ak), nil
	})
	if firing(alert.RuleCertExpiring, node+"/outbound_tls.ca_files[1]") {
		t.Fatal("a CA valid 90 days fired")
	}
	m := sink.message(alert.RuleKeyCertExpiring, alert.Firing)
	if !strings.Contains(m.MessageVI, "hết hạn") || !strings.Contains(m.MessageEN, "000.00.53.H60") {
		t.Fatalf("message: %+v", m)
	}
	selfSigned(t, soonCA, "CA đã gia hạn", ecKey, time.Now().Add(365*24*time.Hour))
	if err := n.svc.Registry().RevokeKey(ctx, ak); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renewed CA and revoked key resolved", func() (bool, error) {
		return sink.count(alert.RuleCertExpiring, alert.Resolved) == 1 && sink.count(alert.RuleKeyCertExpiring, alert.Resolved) == 1, nil
	})
	left, err := n.svc.Store().ListAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Subject != node+"/tls" || sink.bad != 0 {
		t.Fatalf("alerts left: %+v (%d bad signatures)", left, sink.bad)
	}
}

// TestAlertTrafficAnomaly: a system sends 1 request per 1 s window for a
// baseline, then a burst of 14 at the start of a window: 14 ≥ traffic_min
// and > 4 × the median 1, so traffic_anomaly fires for it; the next
// windows have no burst and the alert resolves. The steady system does not
// fire. (Windows of 1 s and bursts aligned to a window's start keep the
// burst in one window on a loaded machine.)
func TestAlertTrafficAnomaly(t *testing.T) {
	const window = time.Second
	n, sink := ruleNode(t, alert.Rules{TrafficWindow: window, TrafficBaseline: 3, TrafficFactor: 4, TrafficMin: 10}, nil)
	noisy := n.system(t, "000.00.54.H60", "Sở Công Thương")
	steady := n.system(t, "000.00.55.H60", "Sở Tư pháp")
	inbox := func(c *rest.Client) {
		t.Helper()
		if _, err := c.Inbox(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The load: 1 request of each system per window, 5 windows.
	for range 5 {
		atWindowStart(window)
		inbox(noisy)
		inbox(steady)
	}
	atWindowStart(window)
	for range 14 {
		inbox(noisy)
	}
	eventually(t, "traffic_anomaly fired", func() (bool, error) {
		return sink.count(alert.RuleTrafficAnomaly, alert.Firing) == 1, nil
	})
	m := sink.message(alert.RuleTrafficAnomaly, alert.Firing)
	if m.Subject != "test-node/000.00.54.H60" || !strings.Contains(m.MessageEN, "median 1") || !strings.Contains(m.MessageVI, "trung vị") {
		t.Fatalf("message: %+v", m)
	}
	eventually(t, "traffic_anomaly resolved", func() (bool, error) {
		return sink.count(alert.RuleTrafficAnomaly, alert.Resolved) == 1, nil
	})
	if f := sink.count(alert.RuleTrafficAnomaly, alert.Firing); f != 1 || sink.bad != 0 {
		t.Fatalf("fired %d times, %d bad signatures", f, sink.bad)
	}
}

// exchangeEventCounts returns lgsp_exchange_events_total by "kind/route".
func exchangeEventCounts(t *testing.T, n *node) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^lgsp_exchange_events_total\{kind="([^"]+)",route="([^"]+)"\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[1]+"/"+m[2]] = v
	}
	return out
}

// TestExchangeEventsMetric: one exchange sent through a real node adds
// its ledger events to lgsp_exchange_events_total, labelled by kind and
// by the route that took it once it has one (accepted carries it).
func TestExchangeEventsMetric(t *testing.T) {
	n := startNode(t, "sqlite")
	n.system(t, "000.00.56.H60", "Sở Y tế")
	n.system(t, "000.00.57.H60", "Sở Giáo dục")
	before := exchangeEventCounts(t, n)
	id := sendSmall(t, n, "000.00.56.H60", "000.00.57.H60")
	ex, err := n.svc.Store().GetExchange(context.Background(), id)
	if err != nil || ex.Route == "" {
		t.Fatalf("exchange %s: route %q, %v", id, ex.Route, err)
	}
	after := exchangeEventCounts(t, n)
	if d := after["accepted/"+ex.Route] - before["accepted/"+ex.Route]; d != 1 {
		t.Fatalf("accepted/%s grew by %v: %v", ex.Route, d, after)
	}
	if after["requested/none"]+after["requested/"+ex.Route] <= before["requested/none"]+before["requested/"+ex.Route] {
		t.Fatalf("requested not counted: %v", after)
	}
}
