package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/tuyenquang/lgsp/adapters/ngsp"    // registers the NGSP token client for services with gateway: ngsp (off unless configured)
	_ "github.com/tuyenquang/lgsp/adapters/qlvb"    // registers the SOAP document-exchange service for QLVB systems (/soap/edoc)
	_ "github.com/tuyenquang/lgsp/adapters/rest"    // registers the REST API
	_ "github.com/tuyenquang/lgsp/adapters/soapout" // registers SOAP pushes to legacy systems (pushes: in route files)
	_ "github.com/tuyenquang/lgsp/adapters/vxp"     // registers the national document axis gateway (off unless configured)
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	_ "github.com/tuyenquang/lgsp/bus/pipeline" // registers the core route steps
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	_ "github.com/tuyenquang/lgsp/wsdl/consumed" // registers the operations of consumed WSDLs
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `lgsp — nền tảng tích hợp, chia sẻ dữ liệu (LGSP) / data integration and sharing platform

Usage:
  lgsp serve   [--config FILE]                 run a node (SQLite in ./data when nothing is configured)
  lgsp routes  lint|test [--dir routes]        check route files / run their tests
  lgsp systems add|list|show|set-webhook|suspend|resume|allow-alg|deny-alg|legacy-token|speaks-for   manage connected systems (registry)
  lgsp keys    issue|list|revoke|rotate|add-rsa|history   manage key pairs and their audit record
  lgsp grants  add|list|revoke                 who may send what to whom, call which service (deny by default)
  lgsp users   add|list|roles|disable|enable|passwd|totp|unlock   people of the console (the first administrator: users add LOGIN --roles admin)
  lgsp sso     clients add|list|remove, rotate-key, pending   single sign-on applications (OIDC clients), signing keys, upstream logins awaiting approval
  lgsp deliveries list|retry|discard          outbound deliveries and their dead letters (webhooks, SOAP pushes …)
  lgsp platform-key [--json]                   the public key the platform signs webhooks with (RSA systems)
  lgsp exchange send|inbox|receive|status|cancel   exchange client (signs like any integrator)
  lgsp edoc    validate|inspect|normalize|build|sign|verify|extract   edXML packets (QCVN 102) and XML signatures
  lgsp backup  --out FILE [--include-master-key]   online snapshot of the SQLite store and the settings
  lgsp restore --in FILE [--settings DIR]      restore a backup into an empty data directory
  lgsp migrate status|up                       schema migrations of the store: show / apply
  lgsp report  --from D --to D --by unit|system|route|type [--every month] --format table|csv|xlsx [--out FILE]   statistics (R7)
  lgsp audit   verify [--json]                 check the hash chains and signed checkpoints of the activity log
  lgsp errors                                  print the error catalogue (codes, HTTP status, vi, en)
  lgsp config env                              list the environment variables that override the config
  lgsp version

Global: --config FILE (or LGSP_CONFIG), before or after the command, for the commands
that read the configuration (serve, systems, keys, grants, users, sso, platform-key, backup, restore, migrate, report, audit).
Without a config: SQLite and keys in ./data, routes in ./routes, http://127.0.0.1:8080.
Change them with the config file (listen, data_dir, routes_dir …, see configs/lgsp.yaml)
or the environment (LGSP_LISTEN, LGSP_DATA_DIR, LGSP_ROUTES_DIR …: lgsp config env);
"lgsp serve --listen 127.0.0.1:9090" overrides the address for one run.
Run "lgsp <command> -h" for the flags of a command.
`

func main() {
	args, err := globalFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n\n%s", err, usage)
		os.Exit(2)
	}
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Key and grant operations are recorded with who made them.
	ctx = auth.WithActor(ctx, cliOperator())
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		stop() // serve handles its own signals (SIGHUP reloads routes)
		err = serve(context.Background(), args)
	case "routes":
		err = routesCmd(args)
	case "systems":
		err = systemsCmd(ctx, args)
	case "keys":
		err = keysCmd(ctx, args)
	case "grants":
		err = grantsCmd(ctx, args)
	case "users":
		err = usersCmd(ctx, args)
	case "sso":
		err = ssoCmd(ctx, args)
	case "deliveries":
		err = deliveriesCmd(ctx, args)
	case "platform-key":
		err = platformKeyCmd(ctx, args)
	case "exchange":
		err = exchangeCmd(ctx, args)
	case "report":
		err = reportCmd(ctx, args)
	case "audit":
		err = auditCmd(ctx, args)
	case "edoc":
		err = edocCmd(args)
	case "backup":
		err = backupCmd(ctx, args)
	case "restore":
		err = restoreCmd(ctx, args)
	case "migrate":
		err = migrateCmd(ctx, args)
	case "errors":
		for _, d := range bus.Catalogue() {
			fmt.Printf("%-28s %d  %s | %s\n", d.Code, d.Status, d.VI, d.EN)
		}
	case "config":
		if len(args) == 1 && args[0] == "env" {
			for _, e := range service.EnvVars() {
				fmt.Printf("%-24s %s\n", e[0], e[1])
			}
			fmt.Printf("%-24s %s\n%-24s %s\n%-24s %s\n", "LGSP_CONFIG", "path of the config file", "LGSP_MASTER_KEY", "master key (base64), instead of master_key_file", "LGSP_ADMIN_TOKEN", "admin API token, instead of admin_token_file")
			return
		}
		err = fmt.Errorf("usage: lgsp config env")
	case "version", "--version", "-v":
		fmt.Println("lgsp", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "lgsp:", describe(err))
		os.Exit(1)
	}
}

// globalFlags takes --config FILE (or --config=FILE, -config) given before
// the command and hands it to the command as LGSP_CONFIG, the default of
// every command's own --config; a --config after the command still wins.
func globalFlags(args []string) ([]string, error) {
	for len(args) > 0 {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !strings.HasPrefix(args[0], "-") || name != "config" {
			break
		}
		if !hasVal {
			if len(args) < 2 {
				return nil, usageError("flag needs an argument: --config FILE")
			}
			val, args = args[1], args[1:]
		}
		if val == "" {
			return nil, usageError("--config: empty file name")
		}
		if err := os.Setenv("LGSP_CONFIG", val); err != nil {
			return nil, err
		}
		args = args[1:]
	}
	return args, nil
}

// cliUser names the operator for the audit record: $USER, else $LOGNAME.
func cliUser() string {
	for _, v := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return "unknown"
}

type usageError string

func (u usageError) Error() string { return string(u) }

// describe renders an error for a person at a terminal: catalogue errors
// show their code and both languages.
func describe(err error) string {
	var be *bus.Error
	if errors.As(err, &be) {
		s := fmt.Sprintf("%s: %s / %s", be.Def.Code, be.Def.EN, be.Def.VI)
		if be.Detail != "" {
			s += " (" + be.Detail + ")"
		}
		return s
	}
	return err.Error()
}

// loadStore loads the configuration of a command and opens its store.
func loadStore(ctx context.Context, load func() (service.Config, error)) (service.Config, store.Store, error) {
	cfg, err := load()
	if err != nil {
		return cfg, nil, err
	}
	st, err := service.OpenStore(ctx, &cfg)
	return cfg, st, err
}

// loadRegistry loads the configuration of a command and opens the registry
// (store and master key) as openRegistry does.
func loadRegistry(ctx context.Context, load func() (service.Config, error)) (*auth.Registry, *cliAudit, func(), error) {
	cfg, err := load()
	if err != nil {
		return nil, nil, nil, err
	}
	return openRegistry(ctx, cfg)
}

// configFlag adds --config to fs and returns a loader.
func configFlag(fs *flag.FlagSet) func() (service.Config, error) {
	def := os.Getenv("LGSP_CONFIG")
	p := fs.String("config", def, "config file (default: none; env LGSP_CONFIG)")
	return func() (service.Config, error) { return service.LoadConfig(*p) }
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
