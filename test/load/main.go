package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what the flags say.
type config struct {
	URL            string   // the first node: the admin setup goes there
	URLs           []string // every node (-url a,b,…; cycle mode spreads the systems over them)
	PIDs           []int    // the other nodes' process ids (-pid a,b,…)
	CPUProfile     string
	AdminToken     string
	AdminTokenFile string
	Systems        int
	Mode           string
	Concurrency    int
	Duration       time.Duration
	Size           int
	PID            int
	DBPID          int
	Label          string
	Conns          int
	BigSize        int64
	Notify         string
	Seed           uint64
	RoutesOut      string
	RoutesDir      string
	Drip           time.Duration
	Notifications  int
	Rate           float64
	Auth           string
	SvcBody        int
}

// errTargetMissed makes the command exit 1 after the report was printed.
var errTargetMissed = errors.New("target missed")

func main() {
	if len(os.Args) == 3 && os.Args[1] == bareProxyArg {
		if err := serveBareProxy(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "load: bare proxy:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == bareSSEArg {
		if err := serveBareSSE(); err != nil {
			fmt.Fprintln(os.Stderr, "load: bare SSE:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout); err != nil {
		if !errors.Is(err, errTargetMissed) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var urls, pids string
	fs.StringVar(&urls, "url", "http://127.0.0.1:8080", "base URL of the LGSP node; several nodes comma-separated (cycle: system i talks to node i mod n; the admin setup goes to the first)")
	fs.StringVar(&c.AdminToken, "admin-token", os.Getenv("LGSP_ADMIN_TOKEN"), "admin API token (default: env LGSP_ADMIN_TOKEN, else -admin-token-file)")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", "./data/admin.token", "file holding the admin API token")
	fs.IntVar(&c.Systems, "systems", 40, "systems to register and use (2–99: 000.00.01.H60 …)")
	fs.StringVar(&c.Mode, "mode", "cycle", "cycle | hold | fanout | big | service | soap | slowloris | deliveries")
	fs.IntVar(&c.Concurrency, "c", 64, "concurrent workers (cycle)")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long to generate load (cycle, hold)")
	fs.IntVar(&c.Size, "size", 20480, "content bytes per exchange (cycle, soap)")
	fs.StringVar(&pids, "pid", "0", "server process id to sample CPU and memory from /proc (0: none); several comma-separated, in the order of -url")
	fs.IntVar(&c.DBPID, "db-pid", 0, "database server (mariadbd) process id to sample too (0: none)")
	fs.StringVar(&c.Label, "label", "", "free text copied into the RESULT line (e.g. sqlite, mariadb)")
	fs.IntVar(&c.Conns, "conns", 1000, "TCP connections to hold (hold, service, soap, slowloris)")
	fs.DurationVar(&c.Drip, "drip", 5*time.Second, "interval between the body bytes of a slow client (slowloris)")
	fs.Int64Var(&c.BigSize, "big-size", 100<<20, "content bytes of the one exchange (big); the Content-Length the slow SOAP clients declare (slowloris)")
	fs.StringVar(&c.Notify, "notify", "poll", "how recipients learn of an exchange (cycle): poll | sse")
	fs.IntVar(&c.Notifications, "notifications", 20, "exchanges sent to every subscribed system, one after the other (fanout)")
	fs.Float64Var(&c.Rate, "rate", 0, "fixed offered rate in requests/s, spread evenly over the -conns connections, each sending on its schedule: GET /v1/inbox (hold), sendEdoc (soap); 0: closed loop, as fast as answered")
	fs.StringVar(&c.Auth, "auth", "signed", "how service calls authenticate (service): signed (LGSP HMAC signature, a fresh nonce each call) | bearer (OAuth2 token from POST /token); both with the session key")
	fs.IntVar(&c.SvcBody, "svc-body", 0, "body bytes of each service call (service): 0 sends GET ping, more sends POST ping with that many bytes")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the content generator")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the generator's own CPU profile over the notifications to this file (fanout)")
	fs.StringVar(&c.RoutesOut, "routes-out", "", "write a 200 MiB route file into this directory and exit")
	fs.StringVar(&c.RoutesDir, "routes-dir", "./routes", "the node's routes directory, where the service mode publishes its service for the run")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.setNodes(urls, pids); err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return c, err
	}
	if err := c.check(); err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return c, err
	}
	return c, nil
}

// setNodes splits -url and -pid into their lists.
func (c *config) setNodes(urls, pids string) error {
	c.URLs = nil
	for u := range strings.SplitSeq(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.URLs = append(c.URLs, u)
		}
	}
	if len(c.URLs) == 0 {
		return errors.New("-url: no URL")
	}
	c.URL = c.URLs[0]
	c.PID, c.PIDs = 0, nil
	for i, f := range strings.Split(pids, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("-pid %q: want process ids, comma-separated", pids)
		}
		if i == 0 {
			c.PID = n
		} else {
			c.PIDs = append(c.PIDs, n)
		}
	}
	return nil
}

func (c config) check() error {
	switch {
	case c.RoutesOut != "":
		return nil
	case c.Mode != "cycle" && c.Mode != "hold" && c.Mode != "fanout" && c.Mode != "big" && c.Mode != "service" && c.Mode != "soap" && c.Mode != "slowloris" && c.Mode != "deliveries":
		return fmt.Errorf("-mode %q: want cycle, hold, fanout, big, service, soap, slowloris or deliveries", c.Mode)
	case len(c.URLs) > 1 && c.Mode != "cycle":
		return fmt.Errorf("-url with %d nodes: only the cycle mode drives several nodes", len(c.URLs))
	case c.Notify != "poll" && c.Notify != "sse":
		return fmt.Errorf("-notify %q: want poll or sse", c.Notify)
	case c.Systems < 2 || c.Systems > 99:
		return fmt.Errorf("-systems %d: want 2 to 99", c.Systems)
	case c.Auth != "" && c.Auth != "signed" && c.Auth != "bearer":
		return fmt.Errorf("-auth %q: want signed or bearer", c.Auth)
	case c.SvcBody < 0:
		return errors.New("-svc-body must not be negative")
	case c.Notifications < 1 || c.Rate < 0:
		return errors.New("-notifications must be positive and -rate not negative")
	case c.Concurrency < 1 || c.Conns < 1 || c.Size < 1 || c.BigSize < 1 || c.Duration <= 0 || c.Drip <= 0:
		return errors.New("-c, -conns, -size, -big-size, -duration and -drip must be positive")
	}
	return nil
}

func run(cfg config, out io.Writer) error {
	if cfg.RoutesOut != "" {
		path, err := writeRoutes(cfg.RoutesOut)
		if err == nil {
			fmt.Fprintf(out, "wrote %s; start the node with LGSP_ROUTES_DIR=%s\n", path, cfg.RoutesOut)
		}
		return err
	}
	if lim, err := raiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "load: raising RLIMIT_NOFILE: %v (now %d)\n", err, lim)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	token, err := adminToken(cfg)
	if err != nil {
		return err
	}
	adm := newAdmin(cfg.URL, token)
	systems, err := provision(ctx, adm, cfg.Systems)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d systems ready (%s … %s), each with a new key\n", len(systems), systems[0].Code, systems[len(systems)-1].Code)
	switch cfg.Mode {
	case "cycle":
		return runCycle(ctx, cfg, systems, out)
	case "hold":
		return runHold(ctx, cfg, systems, out)
	case "fanout":
		return runFanout(ctx, cfg, systems, out)
	case "service":
		return runService(ctx, cfg, adm, systems, out)
	case "soap":
		return runSoap(ctx, cfg, systems, out)
	case "slowloris":
		return runSlowloris(ctx, cfg, systems, out)
	case "deliveries":
		return runDeliveries(ctx, cfg, adm, systems, out)
	default:
		return runBig(ctx, cfg, systems, out)
	}
}

func adminToken(cfg config) (string, error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, nil
	}
	b, err := os.ReadFile(cfg.AdminTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin token: %w (pass -admin-token or -admin-token-file)", err)
	}
	return strings.TrimSpace(string(b)), nil
}
