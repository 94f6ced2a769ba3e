package alert

import (
	"fmt"
	"time"
)

// Config is the alerts section of the node's configuration.
type Config struct {
	// Enabled turns the alert checker on (default true).
	Enabled bool `yaml:"enabled" env:"LGSP_ALERTS_ENABLED"`
	// Interval is how often the rules are checked; an alert reaches its
	// channels within one interval plus the send time (default 15s, so
	// well within 60 s).
	Interval time.Duration `yaml:"interval" env:"LGSP_ALERTS_INTERVAL"`
	// Repeat is how often a firing alert is sent again while it holds.
	Repeat time.Duration `yaml:"repeat" env:"LGSP_ALERTS_REPEAT"`
	Rules  Rules         `yaml:"rules"`
	// Webhook and SMTP are the outside channels; the log always gets every message.
	Webhook WebhookConfig `yaml:"webhook"`
	SMTP    SMTPConfig    `yaml:"smtp"`
}

// Rules holds the parameters of each rule; a zero threshold turns a rule off.
type Rules struct {
	// DeadWindow: a delivery that went dead within this window fires
	// delivery_dead for its target (0: off).
	DeadWindow time.Duration `yaml:"delivery_dead_window"`
	// FailingFor: a destination whose oldest undelivered item has been
	// failing this long fires destination_failing (0: off).
	FailingFor time.Duration `yaml:"destination_failing_for"`
	// GatewayFailingFor: a gateway call (VXP/NGSP poll, token refresh)
	// that has not succeeded for this long fires gateway_failing (0: off).
	GatewayFailingFor time.Duration `yaml:"gateway_failing_for"`
	// AuthFailures within AuthWindow, per access key or per client
	// address, fire auth_failures (0: off).
	AuthFailures int `yaml:"auth_failures"`
	// AuthWindow is the window of AuthFailures.
	AuthWindow time.Duration `yaml:"auth_window"`
	// AuthKeyFailures fires auth_key_failures for an access key while its
	// bad signatures from all addresses within auth.lock_window reach
	// auth.alert_failures (the burst the auth limits detect; false: off).
	AuthKeyFailures bool `yaml:"auth_key_failures"`
	// MaxBacklog: pending deliveries plus due recipients above it fire
	// backlog (0: off).
	MaxBacklog int64 `yaml:"max_backlog"`
	// BacklogGrowthWindow: a backlog (pending deliveries plus due
	// recipients) that grew by at least BacklogGrowthMin over this window
	// and is still within BacklogGrowthMin/2 of its peak in it fires
	// backlog_growing (0: off). Every node samples the backlog each
	// alerts.interval.
	BacklogGrowthWindow time.Duration `yaml:"backlog_growth_window"`
	// BacklogGrowthMin is the least growth over BacklogGrowthWindow that
	// fires backlog_growing.
	BacklogGrowthMin int64 `yaml:"backlog_growth_min"`
	// KeyExpiryDays: an active access key that expires within this many
	// days fires key_expiring (0: off).
	KeyExpiryDays int `yaml:"key_expiry_days"`
	// CertExpiryDays: a certificate that expires within this many days
	// fires cert_expiring (the node's TLS certificate chain, the
	// outbound_tls CA files and client certificates) or key_cert_expiring
	// (an active access key registered as a certificate) (0: off).
	CertExpiryDays int `yaml:"cert_expiry_days"`
	// TrafficWindow: a system whose calls on this node in the current
	// window (authenticated REST and SOAP requests, VXP endpoint calls,
	// documents pulled from or pushed to a VXP gateway for the gateway
	// system) reach TrafficMin and exceed TrafficFactor × the median of
	// its previous TrafficBaseline windows fires traffic_anomaly (M3)
	// (0: off).
	TrafficWindow   time.Duration `yaml:"traffic_window"`
	TrafficBaseline int           `yaml:"traffic_baseline"` // TrafficBaseline is the number of previous windows.
	TrafficFactor   float64       `yaml:"traffic_factor"`   // TrafficFactor is k in "k × the median".
	TrafficMin      int           `yaml:"traffic_min"`      // TrafficMin is the least count that can fire.
}

// WebhookConfig posts every message as JSON, signed with HMAC-SHA256.
type WebhookConfig struct {
	// URL receives the messages (empty: off); it must pass the webhook
	// target policy (webhooks.allow_private / allow_cidrs).
	URL string `yaml:"url" env:"LGSP_ALERTS_WEBHOOK_URL"`
	// SecretEnv names the environment variable holding the signing
	// secret (default LGSP_ALERTS_WEBHOOK_SECRET); the secret is required.
	SecretEnv string `yaml:"secret_env"`
}

// SMTPConfig sends every message by e-mail. STARTTLS is always required.
type SMTPConfig struct {
	// Addr is host:port of the SMTP server (empty: off).
	Addr string `yaml:"addr" env:"LGSP_ALERTS_SMTP_ADDR"`
	// From is the sender address of the messages.
	From string `yaml:"from"`
	// To lists the recipient addresses.
	To []string `yaml:"to"`
	// Username authenticates with AUTH PLAIN after STARTTLS (empty: no auth).
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// CAFile, if set, is the PEM bundle that verifies the server's
	// certificate instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds one delivery (default 20s); alerts.interval plus it
	// must be at most 60s.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{Enabled: true, Interval: 15 * time.Second, Repeat: time.Hour,
		Rules: Rules{DeadWindow: time.Hour, FailingFor: 10 * time.Minute, GatewayFailingFor: 15 * time.Minute,
			AuthFailures: 50, AuthWindow: 5 * time.Minute, AuthKeyFailures: true, MaxBacklog: 1000, BacklogGrowthWindow: 10 * time.Minute, BacklogGrowthMin: 100, KeyExpiryDays: 14, CertExpiryDays: 30,
			TrafficWindow: 5 * time.Minute, TrafficBaseline: 12, TrafficFactor: 5, TrafficMin: 300},
		Webhook: WebhookConfig{SecretEnv: "LGSP_ALERTS_WEBHOOK_SECRET"},
		SMTP:    SMTPConfig{Timeout: 20 * time.Second}}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.Interval <= 0 || c.Interval > 45*time.Second {
		return fmt.Errorf("alerts.interval must be in (0, 45s]: an alert must reach its channels within 60 s")
	}
	if c.Repeat < c.Interval {
		return fmt.Errorf("alerts.repeat must be at least alerts.interval")
	}
	if c.SMTP.Addr != "" && (c.SMTP.From == "" || len(c.SMTP.To) == 0) {
		return fmt.Errorf("alerts.smtp: from and to are required with addr")
	}
	if c.SMTP.Addr != "" && c.Interval+c.SMTP.timeout() > 60*time.Second {
		return fmt.Errorf("alerts.interval plus alerts.smtp.timeout must be at most 60s: an alert must reach its channels within 60 s")
	}
	if c.Rules.AuthFailures > 0 && c.Rules.AuthWindow <= 0 {
		return fmt.Errorf("alerts.rules.auth_window must be positive with auth_failures")
	}
	if r := c.Rules; r.BacklogGrowthWindow > 0 && (r.BacklogGrowthWindow < 2*c.Interval || r.BacklogGrowthMin < 1) {
		return fmt.Errorf("alerts.rules: backlog_growth_window must be at least twice alerts.interval and backlog_growth_min at least 1")
	}
	if r := c.Rules; r.TrafficWindow > 0 && (r.TrafficBaseline < 1 || r.TrafficBaseline > 1000 || r.TrafficFactor < 1) {
		return fmt.Errorf("alerts.rules: traffic_baseline must be in [1, 1000] and traffic_factor at least 1 with traffic_window")
	}
	return nil
}

// timeout is the SMTP delivery bound (20s when unset).
func (c SMTPConfig) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 20 * time.Second
}
