package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
)

// loadService is the name of the service the service mode publishes.
const loadService = "thu-tai-dich-vu"

// serviceResult is the RESULT line of a service run.
type serviceResult struct {
	Mode      string     `json:"mode"`
	Label     string     `json:"label,omitempty"`
	Conns     int        `json:"conns"`
	Sources   int        `json:"sources"`
	Auth      string     `json:"auth"`       // signed | bearer
	BodyBytes int        `json:"body_bytes"` // 0: GET, else POST of this many bytes
	PhaseS    float64    `json:"phase_s"`
	Bus       phaseStats `json:"bus"`
	Direct    phaseStats `json:"direct"`
	Ratio     float64    `json:"bus_over_direct"` // bus requests/s ÷ direct requests/s
	// Proxy is the third phase: a bare reverse proxy in place of the bus.
	Proxy             phaseStats `json:"proxy"`
	ProxyRatio        float64    `json:"proxy_over_direct"`
	ProxyCPUPerCallUS float64    `json:"proxy_cpu_us_per_call"`
	// BusCPUPerCallUS is the node's CPU over the bus phase per call (-pid).
	BusCPUPerCallUS float64        `json:"bus_cpu_us_per_call,omitempty"`
	Errors          int            `json:"errors"`
	ErrorsByCode    map[string]int `json:"errors_by_code"`
	Server          *procUsage     `json:"server,omitempty"`
	DB              *procUsage     `json:"db,omitempty"`
	Loadgen         *procUsage     `json:"loadgen,omitempty"`
	Host            *hostUsage     `json:"host,omitempty"`
	Pass            bool           `json:"pass"`
}

// phaseStats is what one phase (through the bus, or straight to the
// destination) measured.
type phaseStats struct {
	Requests     int       `json:"requests"`
	RequestsPerS float64   `json:"requests_per_s"`
	Latency      stepStats `json:"latency"`
	// DestDials is how many TCP connections the destination accepted
	// during the phase: through the bus, the node's connections to the
	// destination (few when it reuses them); straight, the workers' own.
	DestDials int64 `json:"dest_dials"`
}

// runService measures synchronous service calls (C2, A3–A6): -conns
// connections each loop GET /svc/thu-tai-dich-vu/ping (POST with -svc-body
// bytes) through the bus, signed or with a bearer token (-auth), both with
// the session key, to a trivial destination this tool serves on
// 127.0.0.1:0, for -duration; then the same connections send the same load straight to the
// destination for -duration. The ratio of the two request rates is the
// bus's overhead. The destination counts the connections it accepts in
// each phase, which shows whether the node reuses its connections to it.
//
// systems[0] owns the service; the others are the sources, each granted the
// scope and holding one session. The service is published by writing a
// route file into -routes-dir (the node's routes directory) and reloading
// the routes through the admin API; the file is removed at the end.
func runService(ctx context.Context, cfg config, a *admin, systems []system, out io.Writer) error {
	var accepted atomic.Int64
	dest, addr, err := startDestination(&accepted)
	if err != nil {
		return err
	}
	defer dest.Close()
	owner, sources := systems[0], systems[1:]
	file, err := publishService(ctx, a, cfg.RoutesDir, owner.Code, "http://"+addr, cfg.Conns)
	if err != nil {
		return err
	}
	defer func() {
		os.Remove(file)
		_, _, _ = a.post(context.WithoutCancel(ctx), "/admin/v1/routes/reload", nil)
	}()
	sessions := make([]*rest.ServiceSession, len(sources))
	tokens := make([]string, len(sources))
	for i, s := range sources {
		status, body, err := a.post(ctx, "/admin/v1/grants", map[string]string{"kind": "service", "source": s.Code, "service": loadService, "scope": "load"})
		if err != nil {
			return err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return fmt.Errorf("granting %s: HTTP %d: %s", s.Code, status, body)
		}
		c := apiClient(cfg.URL, s, http.DefaultTransport, requestTimeout)
		if sessions[i], err = c.OpenSession(ctx, rest.OpenSessionRequest{Service: loadService, Scope: "load"}); err != nil {
			return fmt.Errorf("opening a session for %s: %w", s.Code, err)
		}
		if cfg.Auth == "bearer" {
			if tokens[i], err = bearerToken(ctx, cfg.URL, s); err != nil {
				return fmt.Errorf("getting a token for %s: %w", s.Code, err)
			}
		}
	}
	auth := cmp.Or(cfg.Auth, "signed")
	method, body := http.MethodGet, []byte(nil)
	if cfg.SvcBody > 0 {
		method, body = http.MethodPost, bytes.Repeat([]byte("x"), cfg.SvcBody)
	}
	fmt.Fprintf(out, "service: destination on %s, owner %s, %d sources; %d connections, %s %s ping (%d body bytes) %s through the bus, then %s straight to the destination, then %s through a bare reverse proxy\n",
		addr, owner.Code, len(sources), cfg.Conns, auth, method, len(body), cfg.Duration, cfg.Duration, cfg.Duration)

	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	a0 := accepted.Load()
	n0, _ := readProc(cfg.PID)
	busT, busN, busWall := servicePhase(ctx, cfg, func(i int, tr http.RoundTripper) func(context.Context) error {
		c := apiClient(cfg.URL, sources[i%len(sources)], tr, requestTimeout)
		sess, tok := sessions[i%len(sources)], tokens[i%len(sources)]
		if auth == "bearer" {
			hc := &http.Client{Transport: tr, Timeout: requestTimeout}
			u := strings.TrimRight(cfg.URL, "/") + sess.Endpoint + "ping"
			return func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-LGSP-Session", sess.SessionKey)
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				return readOK(resp)
			}
		}
		return func(ctx context.Context) error {
			resp, err := c.CallService(ctx, sess, method, "ping", body, nil)
			if err != nil {
				return err
			}
			return readOK(resp)
		}
	})
	a1 := accepted.Load()
	n1, _ := readProc(cfg.PID)
	directT, directN, directWall := servicePhase(ctx, cfg, func(_ int, tr http.RoundTripper) func(context.Context) error {
		hc := &http.Client{Transport: tr, Timeout: requestTimeout}
		return func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+"/ping", bytes.NewReader(body))
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			return readOK(resp)
		}
	})
	a2 := accepted.Load()
	// Third phase: the same calls through a bare reverse proxy (its own
	// process, as the node is): what forwarding alone costs on this box.
	bp, err := startChild(ctx, bareProxyArg, "http://"+addr)
	if err != nil {
		return err
	}
	p0, _ := readProc(bp.cmd.Process.Pid)
	proxyT, proxyN, proxyWall := servicePhase(ctx, cfg, func(_ int, tr http.RoundTripper) func(context.Context) error {
		hc := &http.Client{Transport: tr, Timeout: requestTimeout}
		return func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, method, "http://"+bp.addr+"/ping", bytes.NewReader(body))
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			return readOK(resp)
		}
	})
	p1, _ := readProc(bp.cmd.Process.Pid)
	bp.stop()
	a3 := accepted.Load()
	usage := meters.finish()

	total := newTally()
	total.merge(busT)
	total.merge(directT)
	total.merge(proxyT)
	res := serviceResult{
		Mode: "service", Label: cfg.Label, Conns: cfg.Conns, Sources: len(sources), Auth: auth, BodyBytes: len(body), PhaseS: round2(cfg.Duration.Seconds()),
		Bus:    phaseStats{Requests: busN, RequestsPerS: round1(float64(busN) / busWall.Seconds()), Latency: summarize("bus", busT.lat["call"]), DestDials: a1 - a0},
		Direct: phaseStats{Requests: directN, RequestsPerS: round1(float64(directN) / directWall.Seconds()), Latency: summarize("direct", directT.lat["call"]), DestDials: a2 - a1},
		Proxy:  phaseStats{Requests: proxyN, RequestsPerS: round1(float64(proxyN) / proxyWall.Seconds()), Latency: summarize("proxy", proxyT.lat["call"]), DestDials: a3 - a2},
		Errors: total.errorCount(), ErrorsByCode: total.errs,
		Server: usage.server, DB: usage.db, Loadgen: usage.self, Host: usage.host,
	}
	if res.Direct.RequestsPerS > 0 {
		res.Ratio = round2(res.Bus.RequestsPerS / res.Direct.RequestsPerS)
		res.ProxyRatio = round2(res.Proxy.RequestsPerS / res.Direct.RequestsPerS)
	}
	if cfg.PID > 0 && busN > 0 {
		res.BusCPUPerCallUS = round1(float64((n1.cpu-n0.cpu)/time.Microsecond) / float64(busN))
	}
	if proxyN > 0 {
		res.ProxyCPUPerCallUS = round1(float64((p1.cpu-p0.cpu)/time.Microsecond) / float64(proxyN))
	}
	res.Pass = res.Errors == 0 && maxLatency([]stepStats{res.Bus.Latency, res.Direct.Latency, res.Proxy.Latency}) < float64(requestTimeout/time.Millisecond)
	fmt.Fprintf(out, "\n%-8s %10s %12s %9s %9s %9s %9s %11s\n", "path", "requests", "requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "dest dials")
	for _, p := range []struct {
		name string
		s    phaseStats
	}{{"bus", res.Bus}, {"direct", res.Direct}, {"proxy", res.Proxy}} {
		fmt.Fprintf(out, "%-8s %10d %12.1f %9.2f %9.2f %9.2f %9.2f %11d\n", p.name, p.s.Requests, p.s.RequestsPerS, p.s.Latency.P50, p.s.Latency.P95, p.s.Latency.P99, p.s.Latency.Max, p.s.DestDials)
	}
	fmt.Fprintf(out, "bus / direct = %.2f (requests per second through the bus ÷ straight to the destination; the node's CPU per call: %.1f µs)\n", res.Ratio, res.BusCPUPerCallUS)
	fmt.Fprintf(out, "proxy / direct = %.2f (through a bare httputil.ReverseProxy in a process of its own, %.1f µs of its CPU per call: forwarding alone on this box)\n\n", res.ProxyRatio, res.ProxyCPUPerCallUS)
	printErrors(out, total)
	usage.print(out)
	return verdict(out, res.Pass, res)
}

// servicePhase runs cfg.Conns workers, each with a transport (and so a TCP
// connection) of its own, calling the function mk builds for it until
// cfg.Duration is over. It returns their merged tally ("call" latencies),
// the number of good answers and the wall time.
func servicePhase(ctx context.Context, cfg config, mk func(i int, tr http.RoundTripper) func(context.Context) error) (*tally, int, time.Duration) {
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	tallies := make([]*tally, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range tallies {
		t := newTally()
		tallies[i] = t
		wg.Go(func() {
			tr := singleConnTransport()
			defer tr.CloseIdleConnections()
			call := mk(i, tr)
			for runCtx.Err() == nil {
				t0 := time.Now()
				if err := call(ctx); err != nil {
					t.fail("call", err)
					continue
				}
				t.add("call", time.Since(t0))
				t.done++
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	total := newTally()
	for _, t := range tallies {
		total.merge(t)
	}
	return total, total.done, wall
}

// bearerToken gets an OAuth2 client-credentials token for sys (POST /token).
func bearerToken(ctx context.Context, base string, sys system) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sys.AccessKey, sys.SecretKey)
	resp, err := (&http.Client{Timeout: requestTimeout}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&t); err != nil || resp.StatusCode != http.StatusOK || t.AccessToken == "" {
		return "", fmt.Errorf("POST /token: HTTP %d (%v)", resp.StatusCode, err)
	}
	return t.AccessToken, nil
}

var errNotOK = errors.New("the destination's answer is not 200 ok")

func readOK(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		return fmt.Errorf("%w: HTTP %d %q", errNotOK, resp.StatusCode, b)
	}
	return nil
}

// startDestination serves the trivial destination: 200 "ok" to everything.
// accepted counts the TCP connections it accepts.
func startDestination(accepted *atomic.Int64) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

// serviceRoute is the route file the service mode writes: the destination
// of this run, owned by the first load system.
const serviceRoute = `# Written by "go run ./test/load -mode service" for the length of a run and
# removed afterwards. Not for production.
services:
  - name: %s
    description: Dịch vụ thử tải — trả lời "ok"
    owner: %q
    endpoint: %q
    scopes: [load]
    timeout: 10s
    max_inflight: %d
`

// publishService writes the service's route file into dir and reloads the
// node's routes; it returns the file's path.
func publishService(ctx context.Context, a *admin, dir, owner, endpoint string, inflight int) (string, error) {
	if dir == "" {
		return "", errors.New("-routes-dir: give the node's routes directory (the service is published there for the run)")
	}
	path := filepath.Join(dir, "zz-thu-tai-dich-vu.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(serviceRoute, loadService, owner, endpoint, max(inflight, 64))), 0o644); err != nil {
		return "", err
	}
	status, body, err := a.post(ctx, "/admin/v1/routes/reload", nil)
	if err != nil || status != http.StatusOK {
		os.Remove(path)
		if err == nil {
			err = fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(body))
		}
		return "", fmt.Errorf("reloading the routes with %s: %w", path, err)
	}
	return path, nil
}
