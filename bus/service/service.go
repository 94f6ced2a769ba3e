package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/alert"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/console"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/schedule"
	"github.com/tuyenquang/lgsp/bus/sso"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
	"github.com/tuyenquang/lgsp/bus/xmlscan"
)

// Module is an adapter that plugs into the service. Its lifecycle is
// written down once: Provision (build, mount handlers, register delivery
// kinds) → Validate (checks that need the whole node, before it takes
// traffic) → run → Stop (ordered shutdown, with a deadline).
type Module struct {
	Name string
	// Provision is called once the service is built, before it listens.
	Provision func(h *Host) error
	// Validate, optional, is called once every module is provisioned and
	// the routes are loaded, before the node takes traffic (config and
	// route checks). An error stops start-up with the module's name.
	Validate func(h *Host) error
	// Stop, optional, is called in ordered shutdown after the HTTP server
	// stopped and the background work ended, before the store closes
	// (and when start-up fails after Provision). ctx carries the deadline:
	// a Stop that overruns it is left behind, shutdown does not wait.
	Stop func(ctx context.Context, h *Host) error
}

// Host is what a module gets to work with.
type Host struct {
	Config   *Config
	Log      *logrus.Logger
	Store    store.Store
	Vault    *vault.Vault
	Registry *auth.Registry
	Verifier *auth.Verifier
	Grants   *auth.Grants // deny-by-default permissions (auth.Permissions)
	// Sessions, Tokens and Auth are the service-access part of the
	// authentication service (sessions.go).
	Sessions *auth.Sessions
	Tokens   *auth.Tokens
	Auth     *auth.Authenticator
	Exchange *exchange.Service
	Hub      *notify.Hub
	// Activity is the node's activity log (service calls, gateway pulls
	// and pushes …); nil when off, and Record on nil does nothing.
	Activity *activity.Log
	// Env is the environment the node was built from (its registries).
	Env *Environment
	// People is the people gate of the console: sessions, roles, CSRF
	// (bus/people, docs/console.md).
	People *people.Service
	mux    *patternMux
	svc    *Service
}

// GatewaySecret reads the secret a gateway section names by its
// environment variable (secrets never go in the config file); an empty one
// stops the node with a message naming the section and the variable.
func GatewaySecret(section, env, what string) (string, error) {
	secret := os.Getenv(env)
	if secret == "" {
		return "", fmt.Errorf("gateways.%s: environment variable %s (%s) is empty", section, env, what)
	}
	return secret, nil
}

// DecodeGatewaySection decodes a gateways.<name> section of the
// configuration into the value into points to, strictly: unknown and
// repeated fields are errors naming their line and column in the config
// file (the strict decoder of route files). Fields absent from the section
// keep their value.
func DecodeGatewaySection(name string, n *yaml.Node, into any) error {
	if err := route.DecodeNode(n, into); err != nil {
		return fmt.Errorf("gateways.%s: %w", name, err)
	}
	return nil
}

// Handle mounts a handler on the service's mux (Go 1.22 patterns).
func (h *Host) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// Stopping is closed when the node starts shutting down: long-lived
// streams (SSE, WebSocket) end on it, since http.Server.Shutdown neither
// waits for hijacked connections nor sees a streaming one go idle.
func (h *Host) Stopping() <-chan struct{} { return h.svc.stopping }

// Observe counts one call of system for the traffic_anomaly alert rule
// (M3). Requests authenticated through Host.Auth are counted already;
// adapters call it for what they authenticate themselves (WS-Security
// UsernameToken, the VXP endpoint's signature) and for gateway transfers.
func (h *Host) Observe(system string) {
	if h.Auth != nil && h.Auth.Observe != nil && system != "" {
		h.Auth.Observe(system)
	}
}

// Go starts background work that shutdown waits for.
func (h *Host) Go(fn func(ctx context.Context)) { h.svc.workers.Go(fn) }

// RegisterDelivery adds a delivery kind to the node's engine (bus/delivery).
func (h *Host) RegisterDelivery(k delivery.Kind) { h.svc.kinds.Register(k) }

// Divert lets a module take the notification of recipients it reaches
// another way (soapout: SOAP pushes) before a webhook is posted.
func (h *Host) Divert(d notify.Diverter) { h.svc.diverters = append(h.svc.diverters, d) }

// GatewayClient sends a request through an outside gateway, adding the
// gateway's credentials (adapters/ngsp: the province's OAuth2 token).
type GatewayClient interface {
	Do(*http.Request) (*http.Response, error)
}

// SetGateway makes c the client of services declared with gateway: name.
func (h *Host) SetGateway(name string, c GatewayClient) {
	h.svc.gwMu.Lock()
	defer h.svc.gwMu.Unlock()
	if h.svc.gateways == nil {
		h.svc.gateways = map[string]GatewayClient{}
	}
	h.svc.gateways[name] = c
}

// Gateway returns the client of gateway name; false when that gateway is
// not configured on this node.
func (h *Host) Gateway(name string) (GatewayClient, bool) {
	h.svc.gwMu.Lock()
	defer h.svc.gwMu.Unlock()
	c, ok := h.svc.gateways[name]
	return c, ok
}

// WakeDeliveries asks the delivery engine to claim now.
func (h *Host) WakeDeliveries() { h.svc.runner.Wake() }

// Wake tells live subscribers and the dispatcher that ledger events were
// written.
func (h *Host) Wake() { h.svc.feed.Wake() }

// Service is a running LGSP node.
type Service struct {
	env      *Environment
	host     *Host
	mods     []Module // provisioned, in order (stopped in reverse)
	cfg      Config
	log      *logrus.Logger
	logClose io.Closer
	store    store.Store
	guard    *store.Guarded // the circuit in front of the store (outage.go)
	sweepNow chan struct{}  // asks for a sweep (the store came back)
	vault    *vault.Vault
	registry *auth.Registry
	// memNonces is the replay cache when it lives in memory (one node),
	// saved at a clean stop for the next start; nil with the store's.
	memNonces *auth.MemoryNonces

	verifier *auth.Verifier
	platform *auth.PlatformKeys
	activity *activity.Log // nil when activity.enabled is false
	sso      *sso.Provider // nil when sso.enabled is false
	people   *people.Service
	grants   *auth.Grants
	speaks   *auth.SpeaksFor
	sessions *auth.Sessions
	tokens   *auth.Tokens
	authn    *auth.Authenticator
	exchange *exchange.Service
	hub      *notify.Hub
	feed     *notify.Feed
	gwMu     sync.Mutex
	gateways map[string]GatewayClient // by name (Host.SetGateway)
	cron     *schedule.Runner
	routes   atomic.Pointer[route.Set]
	console  *console.Console
	reloadMu sync.Mutex
	limit    *limiter // authenticated requests
	gate     *limiter // requests whose HTTP credentials are being checked
	unauth   *limiter // requests not authenticated (admission.go)
	ops      *limiter // operators' profiles and metrics (admission.go)
	budget   budget   // bytes of bodies read before authentication
	draining atomic.Bool
	stopping chan struct{} // closed when shutdown starts
	stopOnce sync.Once
	mux      *patternMux
	server   *http.Server
	adminTok string
	outbound *bus.OutboundPolicy // webhook targets (SSRF)
	proxies  []netip.Prefix      // trusted reverse proxies (tls.go)
	certs    *certSource         // HTTPS certificate; nil: plain HTTP
	redirect *http.Server        // plain-HTTP redirect listener, if any

	kinds      *delivery.Registry // delivery kinds of this node (Host.RegisterDelivery)
	diverters  []notify.Diverter  // taken before webhooks (Host.Divert)
	runner     *delivery.Runner
	alerts     *alert.Engine
	alive      map[string]*atomic.Bool // background workers running (readiness)
	workCtx    context.Context
	workCancel context.CancelFunc
	workers    *bus.Group
}

// NewLogger builds the logger from the log config.
func NewLogger(c LogConfig) (*logrus.Logger, io.Closer, error) {
	l := logrus.New()
	lvl, err := logrus.ParseLevel(c.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	l.SetLevel(lvl)
	if c.Format == "text" {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	} else {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano, DisableHTMLEscape: true, FieldMap: logrus.FieldMap{logrus.FieldKeyTime: "ts"}})
	}
	var closer io.Closer = io.NopCloser(nil)
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("opening log file: %w", err)
		}
		l.SetOutput(f)
		closer = f
	}
	return l, closer, nil
}

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, c *Config) (store.Store, error) {
	if c.Store == "" {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data dir: %w", err)
		}
	}
	return store.Open(ctx, c.StoreDSN())
}

// New builds a node from cfg in the default environment; see NewWith.
func New(ctx context.Context, cfg Config) (*Service, error) {
	return NewWith(ctx, DefaultEnvironment(), cfg)
}

// NewWith builds a node from cfg with the registries of env: opens the
// store and the vault, loads the routes (refusing to start with a bad
// set), provisions every module and validates them. Nothing listens until
// Run.
func NewWith(ctx context.Context, env *Environment, cfg Config) (*Service, error) {
	log, closer, err := NewLogger(cfg.Log)
	if err != nil {
		return nil, err
	}
	s := &Service{env: env, cfg: cfg, log: log, logClose: closer, mux: newPatternMux(), stopping: make(chan struct{})}
	lim := cfg.Limits
	s.limit = newLimiter(lim.MaxInFlight, lim.MaxQueued, lim.QueueWait)
	s.gate = newLimiter(lim.MaxInFlight, lim.MaxQueued, lim.QueueWait)
	s.unauth = newLimiter(lim.UnauthInFlight, lim.UnauthQueued, lim.QueueWait)
	s.ops = newLimiter(opsInFlight, opsQueued, lim.QueueWait)
	s.budget.max = lim.UnauthBodyBytes
	// One process runs one service: the XML shape limits are process-wide
	// defaults read by every parser of outside XML.
	xmlscan.SetDefaults(cfg.XMLLimits.Limits())
	fail := func(err error) (*Service, error) {
		s.stopModules(cfg.ShutdownTimeout / 4)
		if s.store != nil {
			s.store.Close()
		}
		closer.Close()
		return nil, err
	}
	if s.adminTok, err = adminToken(cfg.AdminTokenPath(), log); err != nil {
		return fail(err)
	}
	raw, err := OpenStore(ctx, &cfg)
	if err != nil {
		return fail(fmt.Errorf("opening store: %w", err))
	}
	s.guardStore(raw)
	// The vault is checked against the store (masterkey.go): a missing or
	// wrong master key stops the node here, before it says it is ready.
	if s.vault, err = OpenVault(ctx, &cfg, s.store, log); err != nil {
		return fail(err)
	}
	set, err := env.LoadRoutes(cfg.RoutesDir)
	if err != nil {
		return fail(fmt.Errorf("loading routes from %s:\n%w", cfg.RoutesDir, err))
	}
	s.routes.Store(set)

	s.workCtx, s.workCancel = context.WithCancel(context.WithoutCancel(ctx))
	s.kinds = delivery.NewRegistry()
	s.runner = s.newRunner()
	s.workers = bus.NewGroup(s.workCtx)
	s.hub = notify.NewHub(256, cfg.Limits.MaxSubscribers, log)
	s.feed = notify.NewFeed(s.store, s.hub, log)
	if s.store.Dialect() == "mysql" {
		s.feed.Lookback = 512
	}
	var nonces auth.NonceCache
	var notBefore time.Time
	if cfg.Auth.Nonces == "store" || (cfg.Auth.Nonces == "" && s.store.Dialect() == "mysql") {
		nonces = auth.StoreNonces(s.store)
	} else {
		s.memNonces = auth.NewMemoryNonces(1 << 20)
		nonces = s.memNonces
		if notBefore, err = loadNonceState(s.memNonces, cfg.DataDir, time.Now(), log); err != nil {
			return fail(err)
		}
	}
	keys := &auth.KeyCache{Store: s.store}
	if s.outbound, err = cfg.OutboundPolicy(); err != nil {
		return fail(err)
	}
	if s.proxies, err = trustedProxies(cfg.Proxy.Trusted); err != nil {
		return fail(err)
	}
	// Like the XML limits, the outbound trust store is process-wide: every
	// outbound client reads it (bus.DefaultClientTLS).
	ctls, err := cfg.OutboundTLS.Build()
	if err != nil {
		return fail(fmt.Errorf("outbound_tls: %w", err))
	}
	bus.SetDefaultClientTLS(ctls)
	if cfg.TLS.Enabled() {
		if s.certs, err = newCertSource(cfg.TLS, log); err != nil {
			return fail(err)
		}
	}
	s.registry = &auth.Registry{Store: s.store, Vault: s.vault, Audit: s.store, OnChange: keys.Flush, Outbound: s.outbound}
	limits := auth.NewLimits(cfg.Auth.RatePerKey, cfg.Auth.BurstPerKey, cfg.Auth.LockFailures, cfg.Auth.LockWindow, cfg.Auth.LockFor)
	limits.Log, limits.Audit, limits.AlertFailures = log, s.store, cfg.Auth.AlertFailures
	s.verifier = &auth.Verifier{Keys: keys, Vault: s.vault, Nonces: nonces, Skew: cfg.Auth.ClockSkew, NotBefore: notBefore, Limits: limits, Algorithms: env.Algorithms()}
	s.grants = &auth.Grants{Store: s.store}
	s.speaks = &auth.SpeaksFor{Store: s.store}
	if err := s.provisionPlatformKeys(ctx); err != nil {
		return fail(err)
	}
	s.provisionSessions()
	s.provisionActivity()
	s.provisionPeople()
	if err := s.provisionSSO(); err != nil {
		return fail(err)
	}
	s.exchange = exchange.New(exchange.Options{Store: s.store, Vault: s.vault, Routes: s.routes.Load, Log: log, Config: cfg.Exchange, Node: cfg.Node, Wake: s.feed.Wake, Permissions: s.grants, SpeaksFor: s.speaks,
		Pushed: func(code string) bool { return notify.Takes(s.diverters, code) }})
	if cfg.Alerts.Enabled {
		chs, err := alert.Channels(cfg.Alerts, log, s.outbound)
		if err != nil {
			return fail(err)
		}
		s.alerts = &alert.Engine{Cfg: cfg.Alerts, Store: s.store, Node: cfg.Node, Log: log.WithField("component", "alerts"), Channels: chs,
			KeyBursts: limits.Bursts, Certs: s.certFiles}
		s.authn.Observe = s.alerts.Request
	}
	s.cron = schedule.NewRunner(log)
	if err := s.cron.Add("expire-exchanges", "@every 30s", func(ctx context.Context) {
		if n, err := s.exchange.Expire(ctx); err != nil {
			log.WithError(err).Error("purging expired exchanges")
		} else if n > 0 {
			log.WithField("count", n).Info("purged expired exchanges")
		}
	}); err != nil {
		return fail(err)
	}
	// A node stopped between a confirmation and the purge, or in the middle
	// of an upload, leaves work half done; the sweeper finishes it at
	// start-up (StartWorkers) and every minute, on every node.
	if err := s.cron.Add("sweep-exchanges", "@every "+cfg.Exchange.WithDefaults().SweepEvery.String(), s.sweep); err != nil {
		return fail(err)
	}
	if err := s.cron.Add("purge-nonces", "@every 1m", func(ctx context.Context) {
		if _, err := s.store.PurgeNonces(ctx, time.Now().Add(-cfg.Auth.ClockSkew)); err != nil {
			log.WithError(err).Error("purging old nonces")
		}
	}); err != nil {
		return fail(err)
	}
	if err := s.cron.Add("purge-sessions", "@every 5m", s.purgeSessions); err != nil {
		return fail(err)
	}
	if err := s.cron.Add("purge-console-sessions", "@every 5m", s.purgeConsoleSessions); err != nil {
		return fail(err)
	}
	if err := s.cron.Add("purge-sso", "@every 5m", s.purgeSSO); err != nil {
		return fail(err)
	}
	if err := s.cron.Add("prune-metadata", "@every 1h", s.pruneMetadata); err != nil {
		return fail(err)
	}
	// Delivered notifications need no record once the ledger has the
	// event; without pruning the outbox would grow by a row per recipient
	// of every exchange. Dead items stay for operators.
	if err := s.cron.Add("prune-outbox", "@every 10m", func(ctx context.Context) {
		total := int64(0)
		for ctx.Err() == nil {
			n, err := s.store.PruneOutbox(ctx, time.Now().Add(-24*time.Hour), 5000)
			if err != nil {
				log.WithError(err).Error("pruning delivered outbox items")
				return
			}
			total += n
			if n < 5000 {
				break
			}
		}
		if total > 0 {
			log.WithField("count", total).Info("pruned delivered outbox items older than 24 h")
		}
	}); err != nil {
		return fail(err)
	}

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "node": cfg.Node})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", s.admin(s.metricsHandler().ServeHTTP))
	doc, err := OpenAPI()
	if err != nil {
		return fail(err)
	}
	s.mux.HandleFunc("GET /openapi.json", serveOpenAPI(doc))
	s.mountAdmin()
	s.mountSpeaksFor()
	s.mountClientCerts()
	s.mountReports()
	s.mountPeople()
	s.mountSSO()
	h := &Host{Config: &s.cfg, Log: log, Store: s.store, Vault: s.vault, Registry: s.registry, Verifier: s.verifier, Grants: s.grants, Exchange: s.exchange, Hub: s.hub, Env: env, mux: s.mux, svc: s}
	h.Sessions, h.Tokens, h.Auth = s.sessions, s.tokens, s.authn
	h.Activity = s.activity
	h.People = s.people
	s.host = h
	mods := env.Modules()
	for _, m := range mods {
		if m.Provision != nil {
			if err := m.Provision(h); err != nil {
				return fail(fmt.Errorf("provisioning module %s: %w", m.Name, err))
			}
		}
		s.mods = append(s.mods, m)
	}
	s.kinds.Register(&notify.Webhooks{Store: s.store, Vault: s.vault, Platform: s.platform, Retry: s.runner.Retry, Log: s.log, Node: s.cfg.Node, Wake: s.feed.Wake, Diverters: s.diverters, Policy: s.outbound})
	// Validate comes last, before anything listens: a module sees the
	// whole node (routes, other modules' kinds) and can still stop it.
	for _, m := range mods {
		if m.Validate == nil {
			continue
		}
		if err := m.Validate(h); err != nil {
			return fail(fmt.Errorf("validating module %s: %w", m.Name, err))
		}
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, bus.ErrNotFound.New("no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// Handler returns the node's HTTP handler (for tests that serve it themselves).
func (s *Service) Handler() http.Handler { return s.middleware(s.mux) }

// Exchange returns the exchange service.
func (s *Service) Exchange() *exchange.Service { return s.exchange }

// Registry returns the registry of systems and keys.
func (s *Service) Registry() *auth.Registry { return s.registry }

// Store returns the store.
func (s *Service) Store() store.Store { return s.store }

// Grants returns the permissions (grants, deny by default).
func (s *Service) Grants() *auth.Grants { return s.grants }

// Verifier returns the request-signature verifier.
func (s *Service) Verifier() *auth.Verifier { return s.verifier }

// Routes returns the route set in force.
func (s *Service) Routes() *route.Set { return s.routes.Load() }

// InFlight returns the number of authenticated requests being processed now.
func (s *Service) InFlight() int { return len(s.limit.slots) }

// UnauthInFlight returns the number of requests in the unauthenticated pool.
func (s *Service) UnauthInFlight() int { return len(s.unauth.slots) }

// UnauthBodyBytes returns the bytes of the unauthenticated-body budget in use.
func (s *Service) UnauthBodyBytes() int64 { return s.budget.used.Load() }

// AdminToken returns the admin API bearer token.
func (s *Service) AdminToken() string { return s.adminTok }

// sweep runs the exchange sweeper once and logs what it repaired.
func (s *Service) sweep(ctx context.Context) {
	n, strays, err := s.exchange.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.WithError(err).Error("sweeping exchanges")
	}
	if n > 0 || strays > 0 {
		s.log.WithFields(logrus.Fields{"completed": n, "stray_chunks": strays}).Warn("sweeper finished interrupted completions and deleted stray chunks")
	}
}

// Reload loads the route files again; the new set replaces the running one
// only if every file lints clean.
func (s *Service) Reload() (*route.Set, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	set, err := s.env.LoadRoutes(s.cfg.RoutesDir)
	if err != nil {
		s.log.WithError(err).Error("route reload refused: the running routes stay in force")
		return nil, err
	}
	s.routes.Store(set)
	s.log.WithField("routes", len(set.Routes())).Info("routes reloaded")
	return set, nil
}

// newRunner builds the node's delivery engine; running deliveries get a
// quarter of the shutdown deadline to finish before they are released.
func (s *Service) newRunner() *delivery.Runner {
	d := s.cfg.Delivery
	retry := d.Retry
	if retry == (bus.RetryPolicy{}) {
		retry = bus.DefaultRetry
	}
	return &delivery.Runner{Store: s.store, Kinds: s.kinds, Node: s.cfg.Node, Log: s.log.WithField("worker", "delivery"), Retry: retry.WithDefaults(),
		Lease: d.Lease, Slots: d.Slots, Queue: d.Queue, MaxHeld: d.MaxHeld, Grace: min(delivery.DefaultGrace, s.cfg.ShutdownTimeout/4)}
}

// ReloadCertificate loads the HTTPS certificate and key files again (SIGHUP
// does it, and so does a change of the files, within tls.reload_check).
// Open connections keep theirs; a pair that does not load leaves the
// current one in force.
func (s *Service) ReloadCertificate() {
	if s.certs != nil {
		s.certs.check(true)
	}
}

// StartWorkers starts the background work without listening (tests).
func (s *Service) StartWorkers() {
	s.workers.Go(s.sweep)
	s.workers.Go(s.sweepOnDemand)
	s.goWorker("dispatcher", s.exchange.RunDispatcher)
	s.goWorker("feed", s.feed.Run)
	s.goWorker("deliveries", s.runner.Run)
	if s.alerts != nil {
		s.goWorker("alerts", s.alerts.Run)
	}
	if s.activity != nil {
		s.goWorker("activity", s.activity.Run)
	}
	s.cron.Start()
}

// Run listens and serves until ctx is done or SIGINT/SIGTERM arrives, then
// shuts down in order. SIGHUP reloads the routes. ready, if not nil, gets
// the bound address once listening.
func (s *Service) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	ln = limitListener(ln, s.cfg.Limits.MaxConns)
	s.server = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout, // also bounds the TLS handshake
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    s.cfg.Limits.MaxHeaderBytes,
		ErrorLog:          nil,
	}
	errc := make(chan error, 2)
	if s.certs != nil {
		s.server.TLSConfig = ServerTLS(s.cfg.TLS, s.certs.getCertificate)
		if s.cfg.TLS.RedirectListen != "" {
			rln, err := net.Listen("tcp", s.cfg.TLS.RedirectListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("listening on %s (tls.redirect_listen): %w", s.cfg.TLS.RedirectListen, err)
			}
			s.redirect = s.redirectServer(ln.Addr())
			go func() { errc <- s.redirect.Serve(limitListener(rln, s.cfg.Limits.MaxConns)) }()
			s.log.WithField("addr", rln.Addr().String()).Info("plain HTTP redirects to HTTPS")
		}
		s.workers.Go(func(ctx context.Context) { s.certs.watch(ctx, s.cfg.TLS.ReloadCheck) })
	}
	s.StartWorkers()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if s.certs != nil {
			// ServeTLS with no file names takes the certificate from
			// TLSConfig.GetCertificate and offers HTTP/2.
			errc <- s.server.ServeTLS(ln, "", "")
			return
		}
		errc <- s.server.Serve(ln)
	}()
	s.log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "tls": s.certs != nil, "node": s.cfg.Node, "store": s.store.Dialect(), "routes": len(s.routes.Load().Routes())}).Info("lgsp serving")
	if ready != nil {
		ready(ln.Addr())
	}
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				// A route reload by signal is an admin action too (M5):
				// recorded like POST /admin/v1/routes/reload.
				_, rerr := s.Reload()
				out := activity.OK
				if rerr != nil {
					out = "refused"
				}
				if err := s.activity.Commit(ctx, activity.Entry{Kind: "admin.signal.routes.reload", Actor: "signal:SIGHUP", Subject: "routes", Outcome: out}); err != nil {
					s.log.WithError(err).Error("activity log: the route reload by SIGHUP could not be recorded")
				}
				s.ReloadCertificate()
				continue
			}
			s.log.WithField("signal", sig.String()).Info("shutting down")
			return s.Shutdown()
		case <-ctx.Done():
			return s.Shutdown()
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			_ = s.Shutdown()
			return err
		}
	}
}

// Shutdown stops the node in order: refuse new requests and drain the
// in-flight ones (¾ of the deadline), stop the workers, close the store.
// A request that got "accepted" was committed before its answer, so nothing
// accepted is lost.
func (s *Service) Shutdown() error {
	deadline := s.cfg.ShutdownTimeout
	start := time.Now()
	s.draining.Store(true)
	s.stopOnce.Do(func() { close(s.stopping) })
	var firstErr error
	if s.redirect != nil {
		_ = s.redirect.Close()
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), deadline*3/4)
		if err := s.server.Shutdown(ctx); err != nil {
			s.log.WithError(err).Warn("drain deadline passed; closing remaining connections")
			_ = s.server.Close()
			firstErr = err
		}
		cancel()
	}
	cctx, cancel := context.WithTimeout(context.Background(), deadline/4)
	_ = s.cron.Stop(cctx)
	cancel()
	s.workCancel()
	s.workers.Wait()
	s.stopModules(deadline / 4)
	if s.memNonces != nil {
		if err := saveNonceState(s.memNonces, s.cfg.DataDir, time.Now()); err != nil {
			s.log.WithError(err).Error("saving the replay cache failed: the next start refuses requests signed before it")
		}
	}
	if err := s.store.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	s.log.WithField("took", time.Since(start).String()).Info("lgsp stopped")
	s.log.SetOutput(os.Stderr) // late writers (closing connections) must not hit a closed file
	s.logClose.Close()
	return firstErr
}

// stopModules calls the Stop of every provisioned module, in the reverse
// order of provisioning, within d in all (at least a second). A Stop
// still running when the time is up is left behind (logged), and the
// modules after it are not stopped: shutdown must not hang on one module.
func (s *Service) stopModules(d time.Duration) {
	mods := s.mods
	s.mods = nil
	if len(mods) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(d, time.Second))
	defer cancel()
	for i := len(mods) - 1; i >= 0; i-- {
		m := mods[i]
		if m.Stop == nil {
			continue
		}
		if ctx.Err() != nil {
			s.log.WithField("module", m.Name).Warn("module not stopped: the shutdown deadline passed")
			continue
		}
		done := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("panic: %v", r)
				}
			}()
			done <- m.Stop(ctx, s.host)
		}()
		select {
		case err := <-done:
			if err != nil {
				s.log.WithError(err).WithField("module", m.Name).Warn("stopping module")
			}
		case <-ctx.Done():
			s.log.WithField("module", m.Name).Warn("module did not stop within the shutdown deadline; left behind")
		}
	}
}

// adminToken reads the admin token file, creating it (0600) on first run.
func adminToken(path string, log logrus.FieldLogger) (string, error) {
	if t := os.Getenv("LGSP_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	b, err := os.ReadFile(path)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if len(t) < 20 {
			return "", fmt.Errorf("admin token in %s is shorter than 20 characters", path)
		}
		return t, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading admin token: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	t := bus.RandomToken(24)
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing admin token: %w", err)
	}
	log.WithField("file", path).Info("created the admin API token")
	return t, nil
}

func (s *Service) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Only "Bearer <token>" is accepted: a bare token is refused so that
		// the scheme stays explicit. The answer never names the token file:
		// it would tell an outsider where the secret lives.
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.adminTok)) != 1 {
			WriteProblem(w, r, bus.ErrAdminUnauthorized.New("send Authorization: Bearer <admin token>"))
			return
		}
		if err := Admit(r.Context()); err != nil {
			WriteProblem(w, r, err)
			return
		}
		s.recordAdmin(h)(w, r.WithContext(auth.WithActor(r.Context(), "admin-api")))
	}
}

// limitListener bounds open connections: past n, new connections wait in
// the kernel's accept queue instead of exhausting file descriptors.
func limitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitedListener{Listener: l, sem: make(chan struct{}, n)}
}

type limitedListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
