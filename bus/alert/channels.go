package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
)

// LogChannel writes every message to the node's log.
type LogChannel struct{ Log logrus.FieldLogger }

func (LogChannel) Name() string { return "log" }

func (c LogChannel) Send(_ context.Context, m Message) error {
	l := c.Log.WithFields(logrus.Fields{"alert": m.Rule, "subject": m.Subject, "kind": m.Kind, "since": m.Since.UTC().Format(time.RFC3339), "message_vi": m.MessageVI, "message_en": m.MessageEN})
	if m.Kind == Resolved {
		l.Warn("alert resolved")
	} else {
		l.Error("alert")
	}
	return nil
}

// WebhookChannel posts messages as JSON. The receiver checks
// X-LGSP-Alert-Signature: "sha256=" + hex(HMAC-SHA256(secret,
// timestamp + "." + body)), with the Unix timestamp from X-LGSP-Alert-Timestamp.
type WebhookChannel struct {
	URL    string
	Secret []byte
	Client *http.Client // built from the outbound policy (SSRF rules)
}

func (WebhookChannel) Name() string { return "webhook" }

// Sign returns the signature header value of body at ts.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (c WebhookChannel) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-LGSP-Alert-Timestamp", ts)
	req.Header.Set("X-LGSP-Alert-Signature", Sign(c.Secret, ts, body))
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert webhook answered %d", resp.StatusCode)
	}
	return nil
}

// SMTPChannel sends messages by e-mail; it refuses a server without
// STARTTLS, so that credentials and messages never cross in clear.
type SMTPChannel struct {
	Cfg      SMTPConfig
	Password string
	Roots    *x509.CertPool // nil: system roots
	Policy   *bus.OutboundPolicy
}

func (SMTPChannel) Name() string { return "smtp" }

func (c SMTPChannel) Send(ctx context.Context, m Message) error {
	host, _, err := net.SplitHostPort(c.Cfg.Addr)
	if err != nil {
		return fmt.Errorf("alerts.smtp.addr: %w", err)
	}
	timeout := c.Cfg.timeout()
	d := net.Dialer{Timeout: timeout}
	if c.Policy != nil {
		d.Control = c.Policy.Control
	}
	conn, err := d.DialContext(ctx, "tcp", c.Cfg.Addr)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); !ok {
		return fmt.Errorf("SMTP server %s does not offer STARTTLS", c.Cfg.Addr)
	}
	if err := cl.StartTLS(&tls.Config{ServerName: host, RootCAs: c.Roots, MinVersion: tls.VersionTLS12}); err != nil {
		return err
	}
	if c.Cfg.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Cfg.Username, c.Password, host)); err != nil {
			return err
		}
	}
	if err := cl.Mail(c.Cfg.From); err != nil {
		return err
	}
	for _, to := range c.Cfg.To {
		if err := cl.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(mailBody(c.Cfg, m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}

func mailBody(c SMTPConfig, m Message) []byte {
	label := map[string]string{Firing: "CẢNH BÁO / ALERT", Repeat: "VẪN CÒN / STILL FIRING", Resolved: "ĐÃ HẾT / RESOLVED"}[m.Kind]
	subject := mime.QEncoding.Encode("utf-8", fmt.Sprintf("[LGSP] %s: %s %s", label, m.Rule, m.Subject))
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
		c.From, strings.Join(c.To, ", "), subject, m.At.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "%s\r\n\r\n%s\r\n\r\nrule: %s\r\nsubject: %s\r\nsince: %s\r\nnode: %s\r\n", m.MessageVI, m.MessageEN, m.Rule, m.Subject, m.Since.UTC().Format(time.RFC3339), m.Node)
	return []byte(b.String())
}

// Channels builds the channels of cfg: the log always, the webhook and
// SMTP when configured. Secrets come from the environment.
func Channels(cfg Config, log logrus.FieldLogger, policy *bus.OutboundPolicy) ([]Channel, error) {
	chs := []Channel{LogChannel{Log: log}}
	if cfg.Webhook.URL != "" {
		if err := policy.CheckURL(cfg.Webhook.URL); err != nil {
			return nil, fmt.Errorf("alerts.webhook.url: %w", err)
		}
		env := cfg.Webhook.SecretEnv
		if env == "" {
			env = "LGSP_ALERTS_WEBHOOK_SECRET"
		}
		secret := os.Getenv(env)
		if len(secret) < 16 {
			return nil, fmt.Errorf("alerts.webhook: environment variable %s must hold a signing secret of at least 16 characters", env)
		}
		chs = append(chs, WebhookChannel{URL: cfg.Webhook.URL, Secret: []byte(secret), Client: policy.Client(10 * time.Second)})
	}
	if cfg.SMTP.Addr != "" {
		ch := SMTPChannel{Cfg: cfg.SMTP, Policy: policy}
		if cfg.SMTP.PasswordEnv != "" {
			ch.Password = os.Getenv(cfg.SMTP.PasswordEnv)
		}
		if cfg.SMTP.CAFile != "" {
			pem, err := os.ReadFile(cfg.SMTP.CAFile)
			if err != nil {
				return nil, fmt.Errorf("alerts.smtp.ca_file: %w", err)
			}
			ch.Roots = x509.NewCertPool()
			if !ch.Roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("alerts.smtp.ca_file: no PEM certificate")
			}
		}
		chs = append(chs, ch)
	}
	return chs, nil
}
