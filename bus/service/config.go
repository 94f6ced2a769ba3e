package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Config is the whole service configuration (configs/lgsp.yaml). Every
// field can be left out; Defaults fills it. Environment variables named in
// the `env` tags override the file.
type Config struct {
	// Node names this instance in logs and the ledger (default: host name).
	Node string `yaml:"node" env:"LGSP_NODE"`
	// Listen is the HTTP listen address.
	Listen string `yaml:"listen" env:"LGSP_LISTEN"`
	// DataDir holds the SQLite database, the master key and the admin token.
	DataDir string `yaml:"data_dir" env:"LGSP_DATA_DIR"`
	// Store is the database DSN: empty for SQLite in DataDir,
	// "sqlite:/path/lgsp.db", or "mysql://user:pass@tcp(host:3306)/lgsp".
	Store string `yaml:"store" env:"LGSP_STORE"`
	// MasterKeyFile holds the master key (created with mode 0600 on first
	// run); LGSP_MASTER_KEY (base64) takes precedence over the file.
	MasterKeyFile string `yaml:"master_key_file" env:"LGSP_MASTER_KEY_FILE"`
	// AdminTokenFile holds the bearer token of the admin API (created on first run).
	AdminTokenFile string `yaml:"admin_token_file" env:"LGSP_ADMIN_TOKEN_FILE"`
	// RoutesDir is the folder of route files.
	RoutesDir string `yaml:"routes_dir" env:"LGSP_ROUTES_DIR"`
	// PublicURL is how systems reach this platform (used in answers and docs).
	PublicURL string `yaml:"public_url" env:"LGSP_PUBLIC_URL"`

	// TLS makes the node serve HTTPS (and mutual TLS for bound systems).
	TLS TLSConfig `yaml:"tls"`
	// Proxy names trusted reverse proxies (forwarded client addresses).
	Proxy ProxyConfig `yaml:"proxy"`
	// OutboundTLS adds trust anchors and client certificates for the
	// platform's own HTTPS calls (webhooks, gateways, push destinations).
	OutboundTLS bus.OutboundTLS `yaml:"outbound_tls"`

	Log      LogConfig       `yaml:"log"`
	Limits   LimitsConfig    `yaml:"limits"`
	Auth     AuthConfig      `yaml:"auth"`
	Webhooks WebhooksConfig  `yaml:"webhooks"`
	Delivery DeliveryConfig  `yaml:"delivery"`
	Exchange exchange.Config `yaml:"exchange"`
	// XMLLimits bounds the shape of XML from outside (edXML packets, SOAP
	// requests, signed documents, legacy XML bodies): see XMLLimitsConfig.
	XMLLimits XMLLimitsConfig `yaml:"xml_limits"`
	// Database bounds store calls and sets the circuit that answers at
	// once while the database is unreachable (docs/operations.md).
	Database DatabaseConfig `yaml:"database"`
	// Gateways holds one section per external gateway adapter (vxp …),
	// decoded by the adapter itself (docs/gateways.md); absent: off.
	Gateways map[string]yaml.Node `yaml:"gateways"`
	// Alerts: rules, check interval and channels (bus/alert, docs/operations.md).
	Alerts alert.Config `yaml:"alerts"`
	// Readiness: what makes /readyz answer 503 besides the store and routes.
	Readiness ReadinessConfig `yaml:"readiness"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"LGSP_SHUTDOWN_TIMEOUT"`
	// Activity is the tamper-evident activity log (M5, M6).
	Activity ActivityConfig `yaml:"activity"`
	// Reports are the statistics kept for reports (R7).
	Reports ReportsConfig `yaml:"reports"`
	// Console: sessions and login lockouts of people (docs/console.md).
	Console ConsoleConfig `yaml:"console"`
	// SSO: LGSP as the OpenID Connect provider of the province's
	// applications, and login through an upstream provider (docs/sso.md).
	SSO SSOConfig `yaml:"sso"`
}

// TLSConfig makes the node serve HTTPS (docs/install.md, "TLS"). The
// certificate and key come from PEM files (CertFile, KeyFile) or from one
// PKCS#12 file (PKCS12File, its password in PKCS12PasswordFile); empty:
// plain HTTP, for a node behind a TLS-terminating reverse proxy.
type TLSConfig struct {
	// CertFile is the PEM certificate chain (leaf first) of the node.
	CertFile string `yaml:"cert_file" env:"LGSP_TLS_CERT_FILE"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key_file" env:"LGSP_TLS_KEY_FILE"`
	// PKCS12File holds key and chain in one file (.p12/.pfx), instead of
	// CertFile and KeyFile.
	PKCS12File string `yaml:"pkcs12_file" env:"LGSP_TLS_PKCS12_FILE"`
	// PKCS12PasswordFile holds the password of PKCS12File (empty: none).
	PKCS12PasswordFile string `yaml:"pkcs12_password_file" env:"LGSP_TLS_PKCS12_PASSWORD_FILE"`
	// MinVersion is "1.2" (default) or "1.3"; older versions are never
	// accepted.
	MinVersion string `yaml:"min_version" env:"LGSP_TLS_MIN_VERSION"`
	// ReloadCheck is how often the files are checked for a change (they are
	// also reloaded on SIGHUP); a negative value checks on SIGHUP only.
	ReloadCheck time.Duration `yaml:"reload_check"`
	// RedirectListen, if set, is a plain-HTTP listen address that only
	// redirects to HTTPS (308), e.g. ":80".
	RedirectListen string `yaml:"redirect_listen" env:"LGSP_TLS_REDIRECT_LISTEN"`
}

// Enabled reports whether the node serves HTTPS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.PKCS12File != "" }

func (c TLSConfig) validate() []string {
	var errs []string
	switch {
	case c.PKCS12File != "" && (c.CertFile != "" || c.KeyFile != ""):
		errs = append(errs, "tls: set either pkcs12_file or cert_file and key_file, not both")
	case (c.CertFile == "") != (c.KeyFile == ""):
		errs = append(errs, "tls: cert_file and key_file go together")
	}
	if c.PKCS12PasswordFile != "" && c.PKCS12File == "" {
		errs = append(errs, "tls: pkcs12_password_file without pkcs12_file")
	}
	switch c.MinVersion {
	case "", "1.2", "1.3":
	default:
		errs = append(errs, fmt.Sprintf("tls.min_version %q: expected 1.2 or 1.3", c.MinVersion))
	}
	if c.RedirectListen != "" && !c.Enabled() {
		errs = append(errs, "tls.redirect_listen needs a certificate (cert_file or pkcs12_file)")
	}
	return errs
}

// ProxyConfig names the reverse proxies in front of the node.
type ProxyConfig struct {
	// Trusted are the addresses (CIDR prefixes or single addresses) of the
	// reverse proxies whose X-Forwarded-For is believed. The client address
	// of a request (logs, lockout of bad signatures) is its connection's
	// peer unless that peer is trusted; then it is the right-most address
	// of X-Forwarded-For that is not itself a trusted proxy. Empty: the
	// header is ignored.
	Trusted []string `yaml:"trusted"`
}

// LogConfig sets the logs.
type LogConfig struct {
	Level  string `yaml:"level" env:"LGSP_LOG_LEVEL"`   // Level is debug, info, warning or error.
	Format string `yaml:"format" env:"LGSP_LOG_FORMAT"` // Format is json or text.
	File   string `yaml:"file" env:"LGSP_LOG_FILE"`     // File receives the log; empty: standard error.
}

// LimitsConfig bounds what the server accepts.
type LimitsConfig struct {
	// MaxInFlight requests are processed at once; up to MaxQueued more wait
	// at most QueueWait; beyond that requests get 503 system.busy with
	// Retry-After.
	MaxInFlight int           `yaml:"max_inflight" env:"LGSP_MAX_INFLIGHT"`
	MaxQueued   int           `yaml:"max_queued" env:"LGSP_MAX_QUEUED"` // MaxQueued requests wait for one of MaxInFlight slots.
	QueueWait   time.Duration `yaml:"queue_wait"`                       // QueueWait bounds how long a queued request waits.
	// MaxJSONBytes bounds JSON request bodies (uploads are bounded by their space).
	MaxJSONBytes int64 `yaml:"max_json_bytes"`
	// MaxConns bounds open client connections (R4 asks for at least 1,000).
	MaxConns          int           `yaml:"max_conns" env:"LGSP_MAX_CONNS"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // ReadHeaderTimeout bounds the arrival of a request's line and headers.
	IdleTimeout       time.Duration `yaml:"idle_timeout"`        // IdleTimeout closes an idle keep-alive connection.
	// RequestTimeout bounds every non-streaming request (R3: never above 30s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxSubscribers bounds live SSE/WebSocket subscribers.
	MaxSubscribers int `yaml:"max_subscribers"`
	// MaxHeaderBytes bounds the request line and headers of a request.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxFormBytes bounds the form body of POST /token.
	MaxFormBytes int64 `yaml:"max_form_bytes"`

	// Every request body must start within BodyGrace of its first read and
	// then keep an average of at least BodyMinRate bytes/s; a body ahead of
	// that floor may pause at most BodyMaxStall. Bodies of non-streaming
	// requests must also be in within RequestTimeout. A body that misses
	// this is cut with request.too_slow (408) and its connection closed.
	BodyGrace    time.Duration `yaml:"body_grace" env:"LGSP_BODY_GRACE"`
	BodyMinRate  int64         `yaml:"body_min_rate" env:"LGSP_BODY_MIN_RATE"`   // BodyMinRate is the average a body must keep, in bytes/s, after BodyGrace.
	BodyMaxStall time.Duration `yaml:"body_max_stall" env:"LGSP_BODY_MAX_STALL"` // BodyMaxStall is the longest pause of a body ahead of the BodyMinRate floor.
	// Requests not yet authenticated (POST /token, SOAP with a
	// UsernameToken, any body read before its signature is checked) run in
	// their own pool: UnauthInFlight at once, UnauthQueued more waiting up
	// to QueueWait. Their bodies may hold at most UnauthBodyBytes in total.
	// Past either, 503 system.busy with Retry-After. A request leaves this
	// pool for the main one (MaxInFlight) once authenticated.
	UnauthInFlight  int   `yaml:"unauth_inflight" env:"LGSP_UNAUTH_INFLIGHT"`
	UnauthQueued    int   `yaml:"unauth_queued" env:"LGSP_UNAUTH_QUEUED"`         // UnauthQueued unauthenticated requests wait up to QueueWait for a slot.
	UnauthBodyBytes int64 `yaml:"unauth_body_bytes" env:"LGSP_UNAUTH_BODY_BYTES"` // UnauthBodyBytes bounds the bodies read before authentication, all requests together.
}

// DatabaseConfig bounds every store call and sets the circuit in front of
// the store (bus/store Guard). A request's store call gives up after
// CallTimeout, or earlier so that the request still answers before
// limits.request_timeout; after Failures consecutive faults the circuit
// opens: requests get 503 system.unavailable with a Retry-After (1 s,
// doubling every 10 s of outage up to MaxRetryAfter) at once, background
// work waits, and the database is probed every ProbeEvery until it answers.
type DatabaseConfig struct {
	// CallTimeout bounds one store call of a request (and 2 s before the
	// request's own deadline, whichever comes first); background work gets
	// ten times it.
	CallTimeout time.Duration `yaml:"call_timeout" env:"LGSP_DB_CALL_TIMEOUT"`
	// Failures is how many consecutive store faults open the circuit: then
	// requests get 503 system.unavailable at once until a probe succeeds.
	Failures int `yaml:"failures" env:"LGSP_DB_FAILURES"`
	// ProbeEvery is how often the open circuit pings the database.
	ProbeEvery time.Duration `yaml:"probe_every" env:"LGSP_DB_PROBE_EVERY"`
	// MaxRetryAfter caps the Retry-After (seconds) answered while the
	// circuit is open; it starts at 1 and doubles every 10 s of outage.
	MaxRetryAfter int `yaml:"max_retry_after" env:"LGSP_DB_MAX_RETRY_AFTER"`
}

// XMLLimitsConfig bounds the shape of every XML document read from outside
// before (or while) a tree is built from it; beyond a limit the document is
// refused with edxml.too_complex, xmldsig.too_complex or xml.too_complex.
// A tree costs a bounded amount per element, so these bound the memory of
// parsing whatever the input (docs/edxml.md has the measured figures).
type XMLLimitsConfig struct {
	// MaxElements bounds the elements of one document.
	MaxElements int `yaml:"max_elements" env:"LGSP_XML_MAX_ELEMENTS"`
	// MaxAttributes bounds the attributes of one document, namespace
	// declarations included.
	MaxAttributes int `yaml:"max_attributes"`
	// MaxAttrsPerElement bounds the attributes of one element.
	MaxAttrsPerElement int `yaml:"max_attributes_per_element"`
	// MaxDepth bounds element nesting.
	MaxDepth int `yaml:"max_depth"`
	// MaxNameBytes bounds the local part (and the prefix) of an element or
	// attribute name.
	MaxNameBytes int `yaml:"max_name_bytes"`
	// MaxNodes counts elements, comments, processing instructions and
	// CDATA sections together.
	MaxNodes int `yaml:"max_nodes"`
}

// Limits returns the xmlscan form of c.
func (c XMLLimitsConfig) Limits() xmlscan.Limits {
	return xmlscan.Limits{MaxElements: c.MaxElements, MaxAttrs: c.MaxAttributes, MaxAttrsPerElement: c.MaxAttrsPerElement,
		MaxDepth: c.MaxDepth, MaxNameBytes: c.MaxNameBytes, MaxNodes: c.MaxNodes}
}

// AuthConfig sets request-signature checks.
type AuthConfig struct {
	// ClockSkew is the accepted |server time − X-LGSP-Timestamp|, and how
	// long a nonce is remembered against replay.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// Nonces chooses the replay cache: "memory" (one node; default with
	// SQLite; saved to data_dir/nonces.state at a clean stop, and after an
	// unclean one requests signed before the start are refused) or "store"
	// (shared by nodes, committed before each answer; default with MySQL).
	Nonces string `yaml:"nonces"`
	// RatePerKey is the sustained requests per second of one access key
	// (M3), counted in the memory of each node; beyond: 429
	// auth.rate_limited. A negative rate turns the limit off.
	RatePerKey  float64 `yaml:"rate_per_key"`
	BurstPerKey int     `yaml:"burst_per_key"` // BurstPerKey is the bucket size of RatePerKey.
	// LockFailures bad signatures of one access key from one client
	// address within LockWindow lock the key for that address for LockFor,
	// with an alert in the log (M3); per node. A negative count turns
	// lockout off.
	LockFailures  int           `yaml:"lock_failures"`
	LockWindow    time.Duration `yaml:"lock_window"`    // LockWindow is the window of LockFailures and AlertFailures.
	LockFor       time.Duration `yaml:"lock_for"`       // LockFor is how long a key stays locked for one client address.
	AlertFailures int           `yaml:"alert_failures"` // AlertFailures bad signatures of one key from all addresses within LockWindow log an error-level alert (0 means 50).
	// SessionTTL is the lifetime of session keys (A2; 0 means 15m; at most 24h).
	SessionTTL time.Duration `yaml:"session_ttl"`
	TokenTTL   time.Duration `yaml:"token_ttl"` // TokenTTL is the lifetime of bearer tokens from POST /token (0 means 1h; at most 24h).
}

// DeliveryConfig tunes the one delivery engine (bus/delivery) that moves
// webhooks, SOAP pushes and gateway deliveries. Zero fields take the
// engine's defaults.
type DeliveryConfig struct {
	// Lease is how long a claim holds an item without a heartbeat (the
	// node renews it every Lease/3 while delivering): the delay before
	// another node takes over the items of a node that died.
	Lease time.Duration `yaml:"lease" env:"LGSP_DELIVERY_LEASE"`
	// Slots deliveries to one destination run at once: a slow or dead
	// destination holds only its own slots.
	Slots int `yaml:"slots" env:"LGSP_DELIVERY_SLOTS"`
	// Queue more items of one destination may wait for its slots on this
	// node; past it the node leaves that destination's items to others.
	Queue int `yaml:"queue" env:"LGSP_DELIVERY_QUEUE"`
	// MaxHeld bounds the items one node holds at once (all destinations).
	MaxHeld int `yaml:"max_held" env:"LGSP_DELIVERY_MAX_HELD"`
	// Retry is the policy of webhooks (route files set their own kinds').
	Retry bus.RetryPolicy `yaml:"retry"`
}

// WebhooksConfig bounds where webhooks may go. Webhook URLs are registered
// per system, so they are the way a system could turn the platform against
// its own network (SSRF); by default only public addresses are allowed
// (bus.OutboundPolicy).
type WebhooksConfig struct {
	// AllowPrivate lets webhooks reach loopback, private, link-local and
	// other non-public unicast ranges.
	AllowPrivate bool `yaml:"allow_private" env:"LGSP_WEBHOOKS_ALLOW_PRIVATE"`
	// AllowCIDRs are prefixes webhooks may reach even though non-public,
	// e.g. ["10.20.0.0/16"] for systems inside the provincial network.
	AllowCIDRs []string `yaml:"allow_cidrs"`
}

// ReadinessConfig sets what /readyz checks beyond the store, the routes and
// the background workers.
type ReadinessConfig struct {
	// MaxBacklog: pending deliveries plus due recipients above it make the
	// node not ready (0: not checked).
	MaxBacklog int64 `yaml:"max_backlog" env:"LGSP_READY_MAX_BACKLOG"`
}

// ActivityConfig configures the activity log: every exchange state change,
// service call and admin action in a hash chain per node with checkpoints
// signed by the node (bus/activity).
type ActivityConfig struct {
	// Enabled writes the activity log; false turns it off (measurements only:
	// the regulation asks for it, M5).
	Enabled bool `yaml:"enabled" env:"LGSP_ACTIVITY"`
	// CheckpointEvery entries the node signs the head of its chain.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// CheckpointInterval is the longest time between checkpoints while
	// entries are written.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

// ReportsConfig configures the statistics behind reports.
type ReportsConfig struct {
	// RetentionYears is how long metadata is kept: rollups, connection
	// history, the rows of finished exchanges and their ledger. A job
	// deletes older rows every hour; 0 keeps them for ever. Payloads are
	// never kept (R2).
	RetentionYears int `yaml:"retention_years" env:"LGSP_METADATA_RETENTION_YEARS"`
}

// ConsoleConfig sets the sessions and login lockouts of people using the
// operators' console (bus/people, docs/console.md, M2).
type ConsoleConfig struct {
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout" env:"LGSP_CONSOLE_IDLE_TIMEOUT"`
	// AbsoluteTimeout ends a session this long after login, used or not.
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout" env:"LGSP_CONSOLE_ABSOLUTE_TIMEOUT"`
	// SecureCookies marks cookies Secure even on plain HTTP: set it when a
	// TLS-terminating reverse proxy serves the node (with tls: they are
	// Secure anyway).
	SecureCookies bool `yaml:"secure_cookies" env:"LGSP_CONSOLE_SECURE_COOKIES"`
	// LockoutFailures failed logins of one account in a row lock it for
	// lockout_base, doubling with each further failure up to lockout_max.
	LockoutFailures int `yaml:"lockout_failures"`
	// AddressFailures failed logins from one client address lock that
	// address the same way (whatever the logins tried).
	AddressFailures int `yaml:"address_failures"`
	// LockoutBase is the first lockout.
	LockoutBase time.Duration `yaml:"lockout_base"`
	// LockoutMax is the longest lockout.
	LockoutMax time.Duration `yaml:"lockout_max"`
	// LockoutWindow: failures older than this are forgotten.
	LockoutWindow time.Duration `yaml:"lockout_window"`
}

// SSOConfig makes the node the OpenID Connect provider of the province's
// business applications (C6), served under /oidc with issuer public_url +
// "/oidc" (bus/sso, docs/sso.md). Applications are registered with
// `lgsp sso clients add` or /admin/v1/sso/clients.
type SSOConfig struct {
	// Enabled serves the provider (public_url must be set: it makes the
	// issuer).
	Enabled bool `yaml:"enabled" env:"LGSP_SSO_ENABLED"`
	// IDTokenLifetime is how long an ID token is valid.
	IDTokenLifetime time.Duration `yaml:"id_token_lifetime"`
	// AccessTokenLifetime is how long an access token (a JWT) is valid;
	// a logout revokes it at userinfo and introspection at once, but an
	// application that only checks the signature accepts it until then.
	AccessTokenLifetime time.Duration `yaml:"access_token_lifetime"`
	// RefreshTokenLifetime is how long a refresh token is valid (each is
	// replaced when used).
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	// CodeLifetime is how long an authorization code may wait for the
	// token exchange.
	CodeLifetime time.Duration `yaml:"code_lifetime"`
	// KeyRotation replaces the signing key when it is this old; the old
	// key stays in the JWKS until its tokens expire. `lgsp sso rotate-key`
	// rotates at once.
	KeyRotation time.Duration `yaml:"key_rotation"`
	// EmailVerified is the email_verified claim given with accounts'
	// e-mail addresses: set it only if the province checks the addresses
	// its administrators enter.
	EmailVerified bool `yaml:"email_verified"`
	// Upstream lets people log in through an upstream OpenID Connect
	// provider (VNeID, the national single sign-on; M7).
	Upstream SSOUpstreamConfig `yaml:"upstream"`
}

// SSOUpstreamConfig is the upstream OpenID Connect provider people may
// log in through; empty issuer: none. Register the node there with the
// redirect URI public_url + "/oidc/upstream/callback".
type SSOUpstreamConfig struct {
	// Name is the label of the login link ("VNeID").
	Name string `yaml:"name"`
	// Issuer is the upstream's issuer URL (its discovery must name exactly
	// this issuer).
	Issuer string `yaml:"issuer" env:"LGSP_SSO_UPSTREAM_ISSUER"`
	// ClientID is this node's client id at the upstream.
	ClientID string `yaml:"client_id" env:"LGSP_SSO_UPSTREAM_CLIENT_ID"`
	// ClientSecretEnv names the environment variable holding the client
	// secret (never in the file).
	ClientSecretEnv string `yaml:"client_secret_env"`
	// Claim links an upstream identity to an account: personal_id (the
	// personal identification number) or email (the upstream must say
	// email_verified: true).
	Claim string `yaml:"claim"`
	// Scopes asked of the upstream (default: openid and the claim's).
	Scopes []string `yaml:"scopes"`
	// Rules create the account of a person no account matches when the
	// claim's value matches pattern (an anchored regular expression),
	// with that unit and roles; without a matching rule the login waits
	// as a pending request for an administrator.
	Rules []SSORuleConfig `yaml:"rules"`
}

// SSORuleConfig maps verified claim values to a unit and roles.
type SSORuleConfig struct {
	// Pattern is an anchored regular expression on the claim's value.
	Pattern string `yaml:"pattern"`
	// Unit of the account created.
	Unit string `yaml:"unit"`
	// Roles of the account created.
	Roles []string `yaml:"roles"`
}

// OutboundPolicy returns the policy of webhook targets.
func (c *Config) OutboundPolicy() (*bus.OutboundPolicy, error) {
	p, err := bus.NewOutboundPolicy(c.Webhooks.AllowPrivate, c.Webhooks.AllowCIDRs)
	if err != nil {
		return nil, fmt.Errorf("webhooks.allow_cidrs: %w", err)
	}
	return p, nil
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	host, _ := os.Hostname()
	c := Config{
		Node: host, Listen: "127.0.0.1:8080", DataDir: "./data", RoutesDir: "./routes",
		Log: LogConfig{Level: "info", Format: "json"},
		Limits: LimitsConfig{MaxInFlight: 256, MaxQueued: 4096, QueueWait: 10 * time.Second, MaxJSONBytes: 1 << 20, MaxConns: 10000, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, RequestTimeout: 30 * time.Second, MaxSubscribers: 10000,
			MaxHeaderBytes: 64 << 10, MaxFormBytes: 8 << 10, BodyGrace: 10 * time.Second, BodyMinRate: 16 << 10, BodyMaxStall: 30 * time.Second,
			UnauthInFlight: 64, UnauthQueued: 4096, UnauthBodyBytes: 64 << 20},
		Auth: AuthConfig{ClockSkew: 5 * time.Minute, RatePerKey: 200, BurstPerKey: 400, LockFailures: 10, LockWindow: time.Minute, LockFor: 5 * time.Minute, AlertFailures: 50,
			SessionTTL: auth.DefaultSessionTTL, TokenTTL: auth.DefaultTokenTTL},
		Exchange:        exchange.Config{}.WithDefaults(),
		Alerts:          alert.Defaults(),
		Readiness:       ReadinessConfig{MaxBacklog: 100000},
		ShutdownTimeout: 30 * time.Second,
		TLS:             TLSConfig{MinVersion: "1.2", ReloadCheck: 10 * time.Second},
		Activity:        ActivityConfig{Enabled: true, CheckpointEvery: 1000, CheckpointInterval: time.Minute},
		Reports:         ReportsConfig{RetentionYears: 5},
		Console: ConsoleConfig{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, LockoutFailures: 5, AddressFailures: 20,
			LockoutBase: time.Minute, LockoutMax: 30 * time.Minute, LockoutWindow: time.Hour},
		SSO: SSOConfig{IDTokenLifetime: time.Hour, AccessTokenLifetime: 15 * time.Minute, RefreshTokenLifetime: 12 * time.Hour,
			CodeLifetime: time.Minute, KeyRotation: 30 * 24 * time.Hour},
	}
	c.Delivery = DeliveryConfig{Lease: delivery.DefaultLease, Slots: delivery.DefaultSlots, Queue: delivery.DefaultQueue,
		MaxHeld: delivery.DefaultMaxHeld, Retry: bus.DefaultRetry}
	c.XMLLimits = XMLLimitsConfig{MaxElements: xmlscan.DefaultMaxElements, MaxAttributes: xmlscan.DefaultMaxAttrs,
		MaxAttrsPerElement: xmlscan.DefaultMaxAttrsPerElement, MaxDepth: xmlscan.DefaultMaxDepth,
		MaxNameBytes: xmlscan.DefaultMaxNameBytes, MaxNodes: xmlscan.DefaultMaxNodes}
	c.Database = DatabaseConfig{CallTimeout: 10 * time.Second, Failures: 3, ProbeEvery: time.Second, MaxRetryAfter: 30}
	return c
}

// LoadConfig reads path (optional: "" uses the defaults only), decodes it
// strictly — unknown fields are errors with their line — and applies
// environment overrides. Relative paths in the file are relative to the
// working directory.
func LoadConfig(path string) (Config, error) {
	c := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && err.Error() != "EOF" {
			return c, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if err := applyEnv(&c); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []string
	if c.Limits.RequestTimeout <= 0 || c.Limits.RequestTimeout > 30*time.Second {
		errs = append(errs, "limits.request_timeout must be in (0, 30s] (R3: slowest answer 30 s)")
	}
	if c.Limits.MaxInFlight <= 0 {
		errs = append(errs, "limits.max_inflight must be positive")
	}
	if c.Limits.MaxQueued < 0 || c.Limits.UnauthQueued < 0 {
		errs = append(errs, "limits.max_queued and limits.unauth_queued must not be negative")
	}
	if c.Limits.UnauthInFlight <= 0 || c.Limits.UnauthBodyBytes <= 0 {
		errs = append(errs, "limits.unauth_inflight and limits.unauth_body_bytes must be positive")
	}
	if c.Limits.BodyGrace <= 0 || c.Limits.BodyMaxStall <= 0 || c.Limits.BodyMinRate <= 0 {
		errs = append(errs, "limits.body_grace, limits.body_max_stall and limits.body_min_rate must be positive")
	}
	if c.Limits.MaxHeaderBytes <= 0 || c.Limits.MaxFormBytes <= 0 {
		errs = append(errs, "limits.max_header_bytes and limits.max_form_bytes must be positive")
	}
	if c.Auth.ClockSkew <= 0 || c.Auth.ClockSkew > time.Hour {
		errs = append(errs, "auth.clock_skew must be in (0, 1h]")
	}
	if c.Auth.SessionTTL < 0 || c.Auth.SessionTTL > 24*time.Hour || c.Auth.TokenTTL < 0 || c.Auth.TokenTTL > 24*time.Hour {
		errs = append(errs, "auth.session_ttl and auth.token_ttl must be in [0, 24h] (0: default)")
	}
	switch c.Auth.Nonces {
	case "", "memory", "store":
	default:
		errs = append(errs, fmt.Sprintf("auth.nonces %q: expected memory or store", c.Auth.Nonces))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Sprintf("log.format %q: expected json or text", c.Log.Format))
	}
	if c.DataDir == "" {
		errs = append(errs, "data_dir must not be empty")
	}
	if x := c.XMLLimits; x.MaxElements <= 0 || x.MaxAttributes <= 0 || x.MaxAttrsPerElement <= 0 || x.MaxDepth <= 0 || x.MaxNameBytes <= 0 || x.MaxNodes < x.MaxElements {
		errs = append(errs, "xml_limits: every limit must be positive and max_nodes at least max_elements")
	}
	if d := c.Database; d.CallTimeout <= 0 || d.CallTimeout > c.Limits.RequestTimeout || d.Failures <= 0 || d.ProbeEvery <= 0 || d.MaxRetryAfter <= 0 {
		errs = append(errs, "database: call_timeout must be in (0, limits.request_timeout], failures, probe_every and max_retry_after positive")
	}
	if _, err := c.OutboundPolicy(); err != nil {
		errs = append(errs, err.Error())
	}
	errs = append(errs, c.TLS.validate()...)
	if _, err := trustedProxies(c.Proxy.Trusted); err != nil {
		errs = append(errs, err.Error())
	}
	if err := c.OutboundTLS.Validate(); err != nil {
		errs = append(errs, "outbound_tls: "+err.Error())
	}
	if err := c.Alerts.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if k := c.Console; k.IdleTimeout <= 0 || k.AbsoluteTimeout < k.IdleTimeout || k.AbsoluteTimeout > 7*24*time.Hour {
		errs = append(errs, "console: idle_timeout must be positive and absolute_timeout in [idle_timeout, 168h]")
	}
	if k := c.Console; k.LockoutFailures <= 0 || k.AddressFailures <= 0 || k.LockoutBase <= 0 || k.LockoutMax < k.LockoutBase || k.LockoutWindow <= 0 {
		errs = append(errs, "console: lockout_failures, address_failures, lockout_base and lockout_window must be positive, lockout_max at least lockout_base")
	}
	if k := c.SSO; k.Enabled && (k.IDTokenLifetime <= 0 || k.AccessTokenLifetime <= 0 || k.RefreshTokenLifetime <= 0 || k.CodeLifetime <= 0 || k.CodeLifetime > 10*time.Minute || k.KeyRotation < 0) {
		errs = append(errs, "sso: token and code lifetimes must be positive (code_lifetime at most 10m), key_rotation not negative")
	}
	if c.SSO.Enabled && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
		errs = append(errs, "sso.enabled needs public_url (the issuer is public_url + /oidc)")
	}
	if u := c.SSO.Upstream; u.Issuer != "" && (u.ClientID == "" || (u.Claim != "email" && u.Claim != "personal_id")) {
		errs = append(errs, "sso.upstream: client_id is required and claim must be email or personal_id")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// StoreDSN returns the DSN to open: the configured one or SQLite in DataDir.
func (c *Config) StoreDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return "sqlite:" + filepath.Join(c.DataDir, "lgsp.db")
}

// MasterKeyPath returns the master key file path.
func (c *Config) MasterKeyPath() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}

// AdminTokenPath returns the admin token file path.
func (c *Config) AdminTokenPath() string {
	if c.AdminTokenFile != "" {
		return c.AdminTokenFile
	}
	return filepath.Join(c.DataDir, "admin.token")
}

// applyEnv sets every field that has an `env` tag from the environment,
// walking the struct so that each setting is declared once, on its field.
func applyEnv(c *Config) error { return envWalk(reflect.ValueOf(c).Elem()) }

var durationType = reflect.TypeOf(time.Duration(0))

func envWalk(v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := envWalk(fv); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		val, ok := os.LookupEnv(name)
		if name == "" || !ok || val == "" {
			continue
		}
		var err error
		switch {
		case f.Type == durationType:
			var d time.Duration
			d, err = time.ParseDuration(val)
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.String:
			fv.SetString(val)
		case f.Type.Kind() == reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(val)
			fv.SetBool(b)
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			var n int64
			n, err = strconv.ParseInt(val, 10, 64)
			fv.SetInt(n)
		default:
			err = fmt.Errorf("unsupported type %s", f.Type)
		}
		if err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, val, err)
		}
	}
	return nil
}

// EnvVars lists every environment variable the configuration reads, with
// the YAML path of its field (for docs and `lgsp config env`).
func EnvVars() [][2]string {
	var out [][2]string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			y := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+y+".")
				continue
			}
			if e := f.Tag.Get("env"); e != "" {
				out = append(out, [2]string{e, prefix + y})
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}
