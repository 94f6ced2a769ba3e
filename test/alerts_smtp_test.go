package test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// smtpServer is a real aiosmtpd server (test/interop/smtp_server.py) with
// STARTTLS required before AUTH; mails holds what it received.
type smtpServer struct {
	addr, caFile string
	mu           sync.Mutex
	mails        []smtpMail
}

type smtpMail struct {
	From          string   `json:"from"`
	To            []string `json:"to"`
	TLS           bool     `json:"tls"`
	Authenticated bool     `json:"authenticated"`
	Data          string   `json:"data"`
}

// loopbackCert writes a self-signed certificate for 127.0.0.1 and its key.
func loopbackCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "smtp.crt"), filepath.Join(dir, "smtp.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func startSMTP(t *testing.T, user, password string) *smtpServer {
	t.Helper()
	py := testenv.RequireAiosmtpd(t)
	dir := t.TempDir()
	cert, key := loopbackCert(t, dir)
	cmd := exec.Command(py, "-B", "interop/smtp_server.py", cert, key, user)
	cmd.Env = append(os.Environ(), "SMTP_TEST_PASSWORD="+password)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &smtpServer{caFile: cert}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	ready := make(chan string, 1)
	go func() {
		for sc.Scan() {
			line := sc.Text()
			if port, ok := strings.CutPrefix(line, "READY "); ok {
				ready <- port
				continue
			}
			var m smtpMail
			if json.Unmarshal([]byte(line), &m) == nil {
				s.mu.Lock()
				s.mails = append(s.mails, m)
				s.mu.Unlock()
			}
		}
		close(ready)
	}()
	select {
	case port, ok := <-ready:
		if !ok {
			t.Fatal("the SMTP server exited before listening")
		}
		s.addr = "127.0.0.1:" + port
	case <-time.After(15 * time.Second):
		t.Fatal("the SMTP server did not start within 15 s")
	}
	return s
}

// received returns the mails whose decoded subject contains label.
func (s *smtpServer) received(t *testing.T, label string) []*mail.Message {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*mail.Message
	for _, m := range s.mails {
		msg, err := mail.ReadMessage(strings.NewReader(m.Data))
		if err != nil {
			t.Fatalf("unreadable mail: %v", err)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("subject: %v", err)
		}
		if !m.TLS || !m.Authenticated {
			t.Fatalf("mail received without STARTTLS (%v) or AUTH (%v)", m.TLS, m.Authenticated)
		}
		if strings.Contains(subj, label) {
			out = append(out, msg)
		}
	}
	return out
}

func mailText(t *testing.T, m *mail.Message) string {
	t.Helper()
	b, err := io.ReadAll(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAlertSMTP: a node whose alerts go to a real SMTP server (aiosmtpd,
// STARTTLS with a certificate made here, AUTH) e-mails key_expiring when a
// key nears its expiry and "resolved" when it is revoked, both in
// Vietnamese and English.
func TestAlertSMTP(t *testing.T) {
	srv := startSMTP(t, "lgsp-alerts", "mật-khẩu-thử-0123")
	t.Setenv("LGSP_TEST_SMTP_PASSWORD", "mật-khẩu-thử-0123")
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
		c.Alerts.Interval = 100 * time.Millisecond
		c.Alerts.Repeat = time.Hour
		c.Alerts.SMTP = alert.SMTPConfig{Addr: srv.addr, From: "lgsp@tuyenquang.gov.vn", To: []string{"vanhanh@tuyenquang.gov.vn"},
			Username: "lgsp-alerts", PasswordEnv: "LGSP_TEST_SMTP_PASSWORD", CAFile: srv.caFile, Timeout: 10 * time.Second}
	})
	n.system(t, "000.00.01.H60", "Sở A")
	ctx := context.Background()
	ak, _, err := n.svc.Registry().IssueKey(ctx, "000.00.01.H60", time.Now().Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "firing e-mail", func() (bool, error) { return len(srv.received(t, "CẢNH BÁO / ALERT")) == 1, nil })
	fire := srv.received(t, "CẢNH BÁO / ALERT")[0]
	if body := mailText(t, fire); !strings.Contains(body, "hết hạn") || !strings.Contains(body, "expires") || !strings.Contains(body, ak) || !strings.Contains(body, "rule: "+alert.RuleKeyExpiring) {
		t.Fatalf("firing mail body: %q", body)
	}
	if to := fire.Header.Get("To"); to != "vanhanh@tuyenquang.gov.vn" {
		t.Fatalf("To: %q", to)
	}
	if err := n.svc.Registry().RevokeKey(ctx, ak); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resolved e-mail", func() (bool, error) { return len(srv.received(t, "ĐÃ HẾT / RESOLVED")) == 1, nil })
	if body := mailText(t, srv.received(t, "ĐÃ HẾT / RESOLVED")[0]); !strings.Contains(body, ak) || !strings.Contains(body, "rule: "+alert.RuleKeyExpiring) {
		t.Fatalf("resolved mail body: %q", body)
	}
	if f := len(srv.received(t, "CẢNH BÁO / ALERT")); f != 1 {
		t.Fatalf("fired %d times", f)
	}
}

// TestAlertSMTPWrongPassword: the server refuses AUTH with a wrong
// password; the channel reports an error (within its timeout) and no mail
// is accepted.
func TestAlertSMTPWrongPassword(t *testing.T) {
	srv := startSMTP(t, "lgsp-alerts", "the-right-password")
	t.Setenv("LGSP_TEST_SMTP_PASSWORD", "a-wrong-password")
	cfg := alert.Defaults()
	cfg.SMTP = alert.SMTPConfig{Addr: srv.addr, From: "lgsp@tuyenquang.gov.vn", To: []string{"vanhanh@tuyenquang.gov.vn"},
		Username: "lgsp-alerts", PasswordEnv: "LGSP_TEST_SMTP_PASSWORD", CAFile: srv.caFile, Timeout: 3 * time.Second}
	scfg := service.Defaults()
	scfg.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"}
	policy, err := scfg.OutboundPolicy()
	if err != nil {
		t.Fatal(err)
	}
	chs, err := alert.Channels(cfg, logrus.New(), policy)
	if err != nil {
		t.Fatal(err)
	}
	var smtpCh alert.Channel
	for _, c := range chs {
		if c.Name() == "smtp" {
			smtpCh = c
		}
	}
	if smtpCh == nil {
		t.Fatal("no smtp channel built")
	}
	m := alert.Message{Rule: alert.RuleBacklog, Subject: "deliveries", Kind: alert.Firing, MessageVI: "thử", MessageEN: "test", At: time.Now(), Since: time.Now()}
	if err := smtpCh.Send(context.Background(), m); err == nil {
		t.Fatalf("wrong password: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.mails) != 0 {
		t.Fatalf("%d mails accepted", len(srv.mails))
	}
}
