package vxp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/schedule"
	"github.com/tuyenquang/lgsp/bus/service"
)

// Config is the `gateways.vxp` section of configs/lgsp.yaml. Without it
// the adapter is off.
type Config struct {
	// URL of the axis endpoint, e.g. http://vxpdungchung.vnpt.vn.
	URL string `yaml:"url"`
	// SystemID is the province's systemid on the axis (also the organ id
	// in From of the status packets it sends back).
	SystemID string `yaml:"system_id"`
	// SecretEnv names the environment variable holding the HMAC secret
	// (default LGSP_VXP_SECRET). The secret is never read from the file.
	SecretEnv string `yaml:"secret_env"`
	// GatewaySystem is the LGSP identifier code of the system that stands
	// for VXP: pulled packets come from it, exchanges to it are pushed.
	GatewaySystem string `yaml:"gateway_system"`
	// OrganName is the province's name in status packets.
	OrganName string `yaml:"organ_name"`
	// Schedule of the poller (bus/schedule syntax, Asia/Ho_Chi_Minh);
	// default "@every 1m".
	Schedule string `yaml:"schedule"`
	// DataType of pulled exchanges (default edoc).
	DataType string `yaml:"data_type"`
	// Organs maps an organ id (To/OrganId of a pulled packet) to the LGSP
	// systems that receive it.
	Organs map[string][]string `yaml:"organs"`
	// Timeout bounds one HTTP call (default 60s); Retry is the retry
	// policy of the adapter's deliveries (vxp_pull, vxp_status, vxp_push)
	// in the delivery engine (default bus.DefaultRetry). One call is one
	// attempt: a failed list call waits for the next scheduled poll.
	Timeout time.Duration   `yaml:"timeout"`
	Retry   bus.RetryPolicy `yaml:"retry"`
}

// Secret env default.
const DefaultSecretEnv = "LGSP_VXP_SECRET"

// ParseConfig decodes a gateways.vxp section strictly (unknown fields are
// errors) and checks it.
func ParseConfig(n *yaml.Node) (Config, error) {
	var c Config
	if err := service.DecodeGatewaySection("vxp", n, &c); err != nil {
		return c, err
	}
	if c.SecretEnv == "" {
		c.SecretEnv = DefaultSecretEnv
	}
	if c.Schedule == "" {
		c.Schedule = "@every 1m"
	}
	var errs []string
	if c.URL == "" {
		errs = append(errs, "url is required")
	}
	if c.SystemID == "" {
		errs = append(errs, "system_id is required")
	}
	if _, err := bus.ParseSystemCode(c.GatewaySystem); err != nil {
		errs = append(errs, fmt.Sprintf("gateway_system %q: %v", c.GatewaySystem, err))
	}
	if _, err := schedule.Parse(c.Schedule); err != nil {
		errs = append(errs, "schedule: "+err.Error())
	}
	for organ, codes := range c.Organs {
		if len(codes) == 0 {
			errs = append(errs, fmt.Sprintf("organs.%s: no system", organ))
		}
		for _, code := range codes {
			if _, err := bus.ParseSystemCode(code); err != nil {
				errs = append(errs, fmt.Sprintf("organs.%s: %q: %v", organ, code, err))
			}
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("gateways.vxp: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// JobName is the scheduled job's name (its lease and last run in the store).
const JobName = "vxp-poll"

func init() {
	service.RegisterModule(service.Module{Name: "vxp", Provision: provision})
}

func provision(h *service.Host) error {
	node, ok := h.Config.Gateways["vxp"]
	if !ok {
		return nil // not configured: off
	}
	cfg, err := ParseConfig(&node)
	if err != nil {
		return err
	}
	secret, err := service.GatewaySecret("vxp", cfg.SecretEnv, "the axis secret")
	if err != nil {
		return err
	}
	client := &Client{BaseURL: cfg.URL, SystemID: cfg.SystemID, Secret: secret}
	if cfg.Timeout > 0 {
		client.HTTP = &http.Client{Transport: defaultHTTP.Transport, Timeout: cfg.Timeout}
	}
	log := h.Log.WithField("component", "vxp")
	p := &Poller{Client: client, Exchange: h.Exchange, Store: h.Store, Log: log, Gateway: cfg.GatewaySystem,
		OrganID: cfg.SystemID, OrganName: cfg.OrganName, Organs: cfg.Organs, DataType: cfg.DataType, Retry: cfg.Retry, Activity: h.Activity, Traffic: h.Observe, Wake: h.WakeDeliveries}
	for _, k := range p.Kinds() {
		h.RegisterDelivery(k)
	}
	runner := schedule.NewRunner(log)
	durable := schedule.NewDurable(runner, h.Store, h.Config.Node, log)
	if err := durable.Add(JobName, cfg.Schedule, func(ctx context.Context) {
		if err := p.Poll(ctx); err != nil {
			log.WithError(err).Warn("VXP poll finished with errors")
		}
	}); err != nil {
		return fmt.Errorf("gateways.vxp: %w", err)
	}
	h.Go(func(ctx context.Context) {
		if ran, err := durable.CatchUp(ctx); err != nil {
			log.WithError(err).Error("catching up missed VXP polls")
		} else if len(ran) > 0 {
			log.Info("ran a VXP poll missed during downtime")
		}
		runner.Start()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Stop(sctx)
	})
	log.WithField("schedule", cfg.Schedule).WithField("url", cfg.URL).Info("VXP gateway on")
	return nil
}
