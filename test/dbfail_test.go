package test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// ownMariaDB is a MariaDB server of one test: its own data directory and
// port, so that freezing and killing it never touches the shared server.
type ownMariaDB struct {
	t       *testing.T
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	mariadb string
}

func startOwnMariaDB(t *testing.T) *ownMariaDB {
	t.Helper()
	m := &ownMariaDB{t: t, dir: t.TempDir(), mariadb: testenv.RequireTool(t, "mariadbd")}
	install := testenv.RequireTool(t, "mariadb-install-db")
	out, err := exec.Command(install, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"), "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m.start()
	t.Cleanup(func() { m.kill() })
	db, err := sql.Open("mysql", "root@tcp(127.0.0.1:"+strconv.Itoa(m.port)+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE lgsp CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *ownMariaDB) dsn() string {
	return "mysql://root@tcp(127.0.0.1:" + strconv.Itoa(m.port) + ")/lgsp?timeout=2s"
}

// start runs mariadbd on the data directory and waits until it answers.
func (m *ownMariaDB) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.mariadb, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"), "--user=root",
		"--bind-address=127.0.0.1", "--port="+strconv.Itoa(m.port), "--socket="+filepath.Join(m.dir, "sock"),
		"--pid-file="+filepath.Join(m.dir, "pid"), "--innodb-buffer-pool-size=32M", "--skip-log-bin", "--max-connections=500")
	log, err := os.OpenFile(filepath.Join(m.dir, "mariadbd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		m.t.Fatal(err)
	}
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); log.Close(); close(done) }(m.cmd, m.exited)
	db, _ := sql.Open("mysql", "root@tcp(127.0.0.1:"+strconv.Itoa(m.port)+")/")
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for db.Ping() != nil {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(m.dir, "mariadbd.log"))
			m.t.Fatalf("own mariadbd did not answer within 30 s:\n%s", b)
		}
		select {
		case <-m.exited:
			b, _ := os.ReadFile(filepath.Join(m.dir, "mariadbd.log"))
			m.t.Fatalf("own mariadbd exited:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *ownMariaDB) signal(s syscall.Signal) {
	if err := m.cmd.Process.Signal(s); err != nil {
		m.t.Fatalf("signal %s to mariadbd: %v", s, err)
	}
}

// kill ends the server at once (kill -9) and waits for it to be gone.
func (m *ownMariaDB) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGCONT)
	_ = m.cmd.Process.Kill()
	<-m.exited
}

// answer is one HTTP answer seen by the load.
type answer struct {
	start, end time.Time
	status     int
	code       string
	retryAfter string
	err        error // transport error (no answer)
}

// faultLoad runs exchange cycles against a node and records every answer.
type faultLoad struct {
	mu      sync.Mutex
	answers []answer
	created map[string]bool // exchanges the node acknowledged (F2 answered 201)
	accept  map[string]bool // exchanges whose completion was acknowledged
	confirm map[string]bool // exchanges whose confirmation was acknowledged
}

// answerRecorder wraps a transport to record each answer.
type answerRecorder struct {
	l  *faultLoad
	rt http.RoundTripper
}

func (r answerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	a := answer{start: time.Now()}
	resp, err := r.rt.RoundTrip(req)
	a.end, a.err = time.Now(), err
	if resp != nil {
		a.status, a.code, a.retryAfter = resp.StatusCode, resp.Header.Get("X-LGSP-Error-Code"), resp.Header.Get("Retry-After")
	}
	r.l.mu.Lock()
	r.l.answers = append(r.l.answers, a)
	r.l.mu.Unlock()
	return resp, err
}

func (l *faultLoad) mark(m map[string]bool, id string) {
	l.mu.Lock()
	m[id] = true
	l.mu.Unlock()
}

// cycle runs F2–F7 once; on a refusal it waits the Retry-After (jittered),
// as clients are told to.
func (l *faultLoad) cycle(ctx context.Context, src, dst *rest.Client, dstCode string, content []byte) {
	var id string
	h := sha256.Sum256(content)
	sum := hex.EncodeToString(h[:])
	err := func() error {
		sp, err := src.Request(ctx, exchange.Request{Recipients: []string{dstCode}, Title: "Công văn thử sự cố cơ sở dữ liệu", DataType: "edoc", MediaType: "application/xml", Size: int64(len(content)), SHA256: sum})
		if err != nil {
			return err
		}
		id = sp.ExchangeID
		l.mark(l.created, id)
		if _, err := src.UploadBytes(ctx, id, content); err != nil {
			return err
		}
		if _, err := src.Complete(ctx, id, exchange.CompleteRequest{SHA256: sum, MediaType: "application/xml"}); err != nil {
			return err
		}
		l.mark(l.accept, id)
		for notified := false; !notified; { // the dispatcher notifies the recipient
			items, err := dst.Inbox(ctx)
			if err != nil {
				return err
			}
			for _, it := range items {
				notified = notified || it.ExchangeID == id
			}
			if !notified {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		if _, err := dst.Ready(ctx, id); err != nil {
			return err
		}
		var sink strings.Builder
		if _, err := dst.Download(ctx, id, 0, &sink); err != nil {
			return err
		}
		if _, err := dst.Confirm(ctx, id, "received", ""); err != nil {
			return err
		}
		l.mark(l.confirm, id)
		return nil
	}()
	var ae *rest.APIError
	if errors.As(err, &ae) && ae.RetryAfter != "" {
		ra, _ := strconv.Atoi(ae.RetryAfter)
		select {
		case <-ctx.Done():
		case <-time.After(rest.RetryJitter(time.Duration(ra) * time.Second)):
		}
	} else if err != nil {
		select { // a transport error or an uncoded answer: do not spin
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestMariaDBFaultInjection runs a node on its own MariaDB under load,
// freezes the database (SIGSTOP), then kills it (kill -9) and restarts it,
// and checks what issue 15 promises: no answer over the request timeout,
// every answer during the outage fast, coded and with Retry-After, nothing
// acknowledged lost, nothing half-done after recovery, one log line for
// "store down" and one for "store back" per outage.
func TestMariaDBFaultInjection(t *testing.T) {
	m := startOwnMariaDB(t)
	const reqTimeout, callTimeout = 8 * time.Second, 2 * time.Second
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Store = m.dsn()
		c.Limits.RequestTimeout = reqTimeout
		c.Database.CallTimeout = callTimeout
		c.Database.ProbeEvery = 200 * time.Millisecond
		c.Exchange.SweepEvery = 2 * time.Second // work cut after the recovery sweep is found within the wait
		c.Auth.RatePerKey = -1
		c.Log.Level = "info"
	})
	l := &faultLoad{created: map[string]bool{}, accept: map[string]bool{}, confirm: map[string]bool{}}
	codes := []string{"000.00.31.H60", "000.00.32.H60"}
	var clients []*rest.Client
	for _, code := range codes {
		c := n.system(t, code, "Hệ thống "+code)
		c.HTTP = &http.Client{Transport: answerRecorder{l: l, rt: http.DefaultTransport.(*http.Transport).Clone()}, Timeout: 60 * time.Second}
		c.MaxRetries = -1 // every answer is seen by the test; cycle honours Retry-After itself
		clients = append(clients, c)
	}
	n.grant(t, "exchange", codes[0], codes[1], "edoc")
	n.grant(t, "exchange", codes[1], codes[0], "edoc")
	content := []byte(strings.Repeat("<p>nội dung</p>", 200))
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				l.cycle(ctx, clients[w%2], clients[1-w%2], codes[1-w%2], content)
			}
		})
	}
	ready := func() int {
		resp, err := http.Get(n.url + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("%s: not within %s", what, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	pause := func(d time.Duration) { <-time.After(d) } // the load runs meanwhile
	type window struct{ from, to time.Time }
	var outages []window

	pause(2 * time.Second)
	// Freeze: the database accepts connections but answers nothing.
	m.signal(syscall.SIGSTOP)
	frozen := time.Now()
	waitFor("readyz 503 while frozen", 2*callTimeout+2*time.Second, func() bool { return ready() == 503 })
	pause(5 * time.Second)
	outages = append(outages, window{frozen.Add(callTimeout + time.Second), time.Now()})
	m.signal(syscall.SIGCONT)
	waitFor("readyz 200 after thaw", 10*time.Second, func() bool { return ready() == 200 })
	pause(2 * time.Second)
	// Kill: connections are refused until the server is back.
	m.kill()
	killed := time.Now()
	waitFor("readyz 503 after kill", 2*callTimeout+2*time.Second, func() bool { return ready() == 503 })
	waitFor("the circuit refuses requests at once", 2*callTimeout+2*time.Second, func() bool {
		_, err := clients[0].Status(t.Context(), "ex_none")
		var ae *rest.APIError
		return errors.As(err, &ae) && ae.Code == "system.unavailable"
	})
	// The token endpoint answers the outage the same way.
	form := strings.NewReader("grant_type=client_credentials")
	treq, _ := http.NewRequest(http.MethodPost, n.url+"/token", form)
	treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	treq.SetBasicAuth(clients[0].AccessKey, clients[0].SecretKey)
	t0 := time.Now()
	tresp, err := http.DefaultClient.Do(treq)
	if err != nil {
		t.Fatal(err)
	}
	tresp.Body.Close()
	if tresp.StatusCode != 503 || tresp.Header.Get("X-LGSP-Error-Code") != "system.unavailable" || tresp.Header.Get("Retry-After") == "" || time.Since(t0) > 500*time.Millisecond {
		t.Errorf("POST /token during the outage: %d %q Retry-After %q after %s", tresp.StatusCode, tresp.Header.Get("X-LGSP-Error-Code"), tresp.Header.Get("Retry-After"), time.Since(t0))
	}
	pause(4 * time.Second)
	outages = append(outages, window{killed.Add(callTimeout + time.Second), time.Now()})
	m.start()
	waitFor("readyz 200 after restart", 15*time.Second, func() bool { return ready() == 200 })
	pause(2 * time.Second)
	stop()
	wg.Wait()

	// Figures and checks on every answer.
	var slowest time.Duration
	var inOutage, fastOutage int
	var outageTime time.Duration
	for _, o := range outages {
		outageTime += o.to.Sub(o.from)
	}
	for _, a := range l.answers {
		d := a.end.Sub(a.start)
		slowest = max(slowest, d)
		if a.err != nil {
			if ctx.Err() == nil || !errors.Is(a.err, context.Canceled) {
				t.Errorf("request without answer after %s: %v", d, a.err)
			}
			continue
		}
		if d > reqTimeout+time.Second {
			t.Errorf("answer %d %s took %s, over the request timeout %s", a.status, a.code, d, reqTimeout)
		}
		if a.status >= 500 && (a.code == "" || a.retryAfter == "") {
			t.Errorf("answer %d (code %q, Retry-After %q) after %s: a 5xx must be coded with Retry-After", a.status, a.code, a.retryAfter, d)
		}
		for _, o := range outages {
			if a.start.After(o.from) && a.start.Before(o.to) {
				inOutage++
				if a.status == http.StatusServiceUnavailable && a.code == "system.unavailable" && a.retryAfter != "" && d < 500*time.Millisecond {
					fastOutage++
				} else {
					t.Errorf("answer during the outage: %d %s Retry-After %q after %s; want a fast 503 system.unavailable with Retry-After", a.status, a.code, a.retryAfter, d)
				}
			}
		}
	}
	if inOutage == 0 {
		t.Fatal("no answer during the outages: the load did not run")
	}

	// Nothing acknowledged lost; nothing half-done once the sweeper ran.
	st := n.svc.Store()
	lost := 0
	for id := range l.created {
		e, err := st.GetExchange(t.Context(), id)
		switch {
		case err != nil:
			lost++
			t.Errorf("acknowledged exchange %s: %v", id, err)
		case l.accept[id] && e.Status == store.ExchangeRequested:
			lost++
			t.Errorf("exchange %s: completion acknowledged but status %s", id, e.Status)
		case l.confirm[id] && e.Recipients[0].Status != store.RecipientConfirmed:
			lost++
			t.Errorf("exchange %s: confirmation acknowledged but recipient %s", id, e.Recipients[0].Status)
		}
	}
	var halfDone []string
	eventually(t, "the sweeper finishes exchanges cut by the outage", func() (bool, error) {
		ids, err := st.Settled(t.Context(), 1000)
		halfDone = ids
		return err == nil && len(ids) == 0, err
	})
	for id := range l.confirm {
		if e, err := st.GetExchange(t.Context(), id); err != nil || e.Status != store.ExchangeCompleted || e.WrappedKey != nil {
			t.Errorf("confirmed exchange %s not completed and purged after recovery: %v %s", id, err, e.Status)
		}
	}

	// The log: once down and once back per outage, not a line per request.
	logb, err := os.ReadFile(n.logFile)
	if err != nil {
		t.Fatal(err)
	}
	down, back, errLines := strings.Count(string(logb), `"msg":"store down`), strings.Count(string(logb), `"msg":"store back`), strings.Count(string(logb), `"level":"error"`)
	if down != 2 || back != 2 {
		t.Errorf("log has %d 'store down' and %d 'store back' lines, want 2 and 2", down, back)
	}
	if errLines > 40 {
		msgs := map[string]int{}
		for _, line := range strings.Split(string(logb), "\n") {
			if strings.Contains(line, `"level":"error"`) {
				i := strings.Index(line, `"msg":`)
				msgs[line[i:min(len(line), i+60)]]++
			}
		}
		t.Errorf("%d error lines in the log for 2 outages: one per request? %v", errLines, msgs)
	}
	byCode := map[string]int{}
	for _, a := range l.answers {
		byCode[strconv.Itoa(a.status)+" "+a.code]++
	}
	t.Logf("answers by status and code: %v", byCode)
	sort.Slice(l.answers, func(i, j int) bool { return l.answers[i].start.Before(l.answers[j].start) })
	t.Logf("FIGURES: answers=%d slowest=%s outage_answers=%d (fast coded %d) answers_per_s_in_outage=%.1f acknowledged_exchanges=%d confirmed=%d lost=%d half_done=%d log_error_lines=%d",
		len(l.answers), slowest.Round(time.Millisecond), inOutage, fastOutage, float64(inOutage)/outageTime.Seconds(), len(l.created), len(l.confirm), lost, len(halfDone), errLines)
}
