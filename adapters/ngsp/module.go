package ngsp

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/service"
)

// Config is the `gateways.ngsp` section of configs/lgsp.yaml. Without it
// the adapter is off.
type Config struct {
	// TokenURL is the gateway's token endpoint, e.g. https://api.ngsp.gov.vn/token.
	TokenURL string `yaml:"token_url"`
	// ConsumerKey is the province application's WSO2 consumer key.
	ConsumerKey string `yaml:"consumer_key"`
	// SecretEnv names the environment variable holding the consumer
	// secret (default LGSP_NGSP_SECRET). The secret is never read from the file.
	SecretEnv string `yaml:"secret_env"`
	// Scope is asked for with every token (optional).
	Scope string `yaml:"scope"`
	// Services lists the services declared in route files (services:,
	// gateway: ngsp) that call NGSP; documentation for operators, checked
	// to be names only.
	Services []string `yaml:"services"`
	// Timeout bounds one token call (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Deliveries maps an LGSP system code — a system that stands for a
	// service published on NGSP — to the route-file service (gateway:
	// ngsp) that receives the exchanges addressed to it: each becomes a
	// delivery of kind ngsp_call in the delivery engine (POST of the
	// content with the province's token and an Idempotency-Key).
	//
	// Deprecated: declare them in route files (ngsp_deliveries:, see
	// Section), which reload and take a retry:; an entry of the route files
	// wins over this one for the same system.
	Deliveries map[string]Delivery `yaml:"deliveries"`
}

// DefaultSecretEnv is the environment variable of the consumer secret.
const DefaultSecretEnv = "LGSP_NGSP_SECRET"

// ParseConfig decodes a gateways.ngsp section strictly (unknown fields are
// errors) and checks it.
func ParseConfig(n *yaml.Node) (Config, error) {
	var c Config
	if err := service.DecodeGatewaySection("ngsp", n, &c); err != nil {
		return c, err
	}
	if c.SecretEnv == "" {
		c.SecretEnv = DefaultSecretEnv
	}
	var errs []string
	if !strings.HasPrefix(c.TokenURL, "https://") && !strings.HasPrefix(c.TokenURL, "http://") {
		errs = append(errs, "token_url must be an http(s) URL")
	}
	if c.ConsumerKey == "" {
		errs = append(errs, "consumer_key is required")
	}
	if c.Timeout < 0 {
		errs = append(errs, "timeout must not be negative")
	}
	for code, d := range c.Deliveries {
		if _, err := bus.ParseSystemCode(code); err != nil {
			errs = append(errs, fmt.Sprintf("deliveries.%s: %v", code, err))
		}
		if d.Service == "" {
			errs = append(errs, fmt.Sprintf("deliveries.%s: service is required", code))
		}
		if d.Path != "" && !strings.HasPrefix(d.Path, "/") {
			errs = append(errs, fmt.Sprintf("deliveries.%s: path must start with /", code))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("gateways.ngsp: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// GatewayName is the name services use (gateway: ngsp) to be called with
// the province's NGSP token.
const GatewayName = "ngsp"

func init() {
	service.RegisterModule(service.Module{Name: "ngsp", Provision: provision})
	service.DefaultEnvironment().RegisterGateway(GatewayName)
	service.DefaultEnvironment().RegisterSection(Section())
}

func provision(h *service.Host) error {
	node, ok := h.Config.Gateways["ngsp"]
	if !ok {
		return nil // not configured: off
	}
	cfg, err := ParseConfig(&node)
	if err != nil {
		return err
	}
	secret, err := service.GatewaySecret("ngsp", cfg.SecretEnv, "the consumer secret")
	if err != nil {
		return err
	}
	c := &Client{TokenURL: cfg.TokenURL, ClientID: cfg.ConsumerKey, ClientSecret: secret, Scope: cfg.Scope}
	if cfg.Timeout > 0 {
		c.HTTP = &http.Client{Transport: defaultTransport, Timeout: cfg.Timeout}
	}
	h.SetGateway(GatewayName, c)
	if len(cfg.Deliveries) > 0 {
		h.Log.WithField("component", "ngsp").Warn("gateways.ngsp.deliveries is deprecated: declare the deliveries in route files (ngsp_deliveries:)")
		if set := h.Routes(); set != nil {
			for code, d := range cfg.Deliveries {
				if svc, ok := set.Service(d.Service); !ok || svc.Gateway != GatewayName {
					return fmt.Errorf("gateways.ngsp: deliveries.%s: service %q is not declared in the route files with gateway: ngsp", code, d.Service)
				}
			}
		}
	}
	// The kind is always there: route files (ngsp_deliveries:) may map
	// systems at any reload.
	caller := &Caller{Client: c, Exchange: h.Exchange, Store: h.Store, Routes: h.Routes, Deliveries: cfg.Deliveries,
		Retry: h.Config.Delivery.Retry, Log: h.Log.WithField("component", "ngsp"), Node: h.Config.Node}
	h.RegisterDelivery(caller)
	h.Divert(caller)
	h.Log.WithField("component", "ngsp").WithField("token_url", cfg.TokenURL).WithField("services", cfg.Services).Info("NGSP gateway on")
	return nil
}
