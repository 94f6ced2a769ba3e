package soap_test

// Interop with REAL independent SOAP stacks. These tests fail (never skip)
// when a peer is missing: test/run.sh installs python3-zeep (APT_TOOLS) and
// runs `npm ci` in test/interop (ensure_node_modules).
//
//	zeep 4.2.1 client  → our server   (SOAP 1.1 + 1.2, PasswordDigest, fault)
//	node-soap client   → our server   (SOAP 1.1 + 1.2, PasswordDigest + Timestamp, fault)
//	our client         → node-soap server (SOAP 1.1 + 1.2 requests, fault at HTTP 500)

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// interopDir returns test/interop of the repository.
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	must(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "test", "interop")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// needNodeModules fails the test when node or node-soap is missing.
func needNodeModules(t *testing.T) string {
	t.Helper()
	dir := interopDir(t)
	testenv.RequireNodeModules(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "soap", "package.json")); err != nil {
		t.Fatalf("node-soap is not installed in %s: run `npm ci --no-audit --no-fund` there (test/run.sh does)", dir)
	}
	return dir
}

// peerResult is one call as a peer script reports it.
type peerResult struct {
	OK    map[string]any `json:"ok"`
	Fault *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Status    int    `json:"status"`
		LGSPCode  string `json:"lgsp_code"`
		MessageVI string `json:"message_vi"`
		MessageEN string `json:"message_en"`
	} `json:"fault"`
	Error string `json:"error"`
}

// runPeer runs a peer client script and decodes its JSON report.
func runPeer(t *testing.T, name string, args ...string) map[string]json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", name, err, stderr.String())
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%s printed no JSON: %v\n%s\n%s", name, err, out, stderr.String())
	}
	t.Logf("%s: %s", name, out)
	return rep
}

// checkPeerCalls asserts the report of one SOAP version of a peer client.
func checkPeerCalls(t *testing.T, raw json.RawMessage, faultCode string) {
	t.Helper()
	var calls map[string]peerResult
	must(t, json.Unmarshal(raw, &calls))
	want := citizenAnswer("001085000123")
	c := calls["GetCitizen"]
	if c.OK == nil {
		t.Fatalf("GetCitizen: %+v", c)
	}
	if c.OK["Id"] != want.Id || c.OK["FullName"] != want.FullName || c.OK["BirthDate"] != want.BirthDate {
		t.Fatalf("GetCitizen: %v", c.OK)
	}
	if age, _ := c.OK["Age"].(float64); int32(age) != want.Age {
		// node-soap decodes xsd:int as a number too; a string would mean it ignored the schema.
		t.Fatalf("GetCitizen Age: %#v", c.OK["Age"])
	}
	addrs, _ := c.OK["Address"].([]any)
	if len(addrs) != len(want.Address) || addrs[0] != want.Address[0] || addrs[1] != want.Address[1] {
		t.Fatalf("GetCitizen Address: %#v", c.OK["Address"])
	}
	if e := calls["GetExchange"]; e.OK == nil || e.OK["Status"] != "delivered" {
		t.Fatalf("GetExchange: %+v", e)
	}
	f := calls["GetExchangeFault"].Fault
	if f == nil {
		t.Fatalf("GetExchangeFault: %+v", calls["GetExchangeFault"])
	}
	if !strings.HasSuffix(f.Code, ":"+faultCode) || f.LGSPCode != "exchange.not_found" ||
		f.MessageVI != bus.ErrExchangeNotFound.VI || f.MessageEN != bus.ErrExchangeNotFound.EN ||
		!strings.Contains(f.Message, "exchange.not_found") {
		t.Fatalf("GetExchangeFault: %+v", *f)
	}
	if f.Status != 0 && f.Status != 500 {
		t.Fatalf("fault came with HTTP %d", f.Status)
	}
}

func TestInteropZeepClient(t *testing.T) {
	py := testenv.RequireZeep(t)
	f := newFixture(t, fixtureOpts{requireWSS: true})
	rep := runPeer(t, "zeep", py, filepath.Join(interopDir(t), "zeep_client.py"), f.URL+"?wsdl", wssUser, wssPassword)
	for _, tc := range []struct{ version, fault string }{{"1.1", "Client"}, {"1.2", "Sender"}} {
		t.Run(tc.version, func(t *testing.T) { checkPeerCalls(t, rep[tc.version], tc.fault) })
	}
	if sec := f.lastSec.Load(); sec == nil || !sec.Digest() {
		t.Fatalf("zeep did not send a PasswordDigest: %+v", sec)
	}
}

func TestInteropNodeClient(t *testing.T) {
	dir := needNodeModules(t)
	f := newFixture(t, fixtureOpts{requireWSS: true})
	rep := runPeer(t, "node-soap", "node", filepath.Join(dir, "node_client.js"), f.URL+"?wsdl", wssUser, wssPassword)
	for _, tc := range []struct{ version, fault string }{{"1.1", "Client"}, {"1.2", "Sender"}} {
		t.Run(tc.version, func(t *testing.T) { checkPeerCalls(t, rep[tc.version], tc.fault) })
	}
	if sec := f.lastSec.Load(); sec == nil || !sec.Digest() || sec.Timestamp == nil {
		t.Fatalf("node-soap did not send a PasswordDigest with a Timestamp: %+v", sec)
	}
}

// startNodeServer runs test/interop/node_server.js and returns its URL.
func startNodeServer(t *testing.T) string {
	t.Helper()
	dir := needNodeModules(t)
	wsdl, err := filepath.Abs("testdata/citizen.wsdl")
	must(t, err)
	cmd := exec.Command("node", filepath.Join(dir, "node_server.js"), wsdl)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close() // the server exits when stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "listening ") {
				line <- strings.TrimPrefix(s.Text(), "listening ")
			}
		}
		close(line)
	}()
	select {
	case port, ok := <-line:
		if !ok {
			t.Fatalf("node_server.js exited: %s", stderr.String())
		}
		return "http://127.0.0.1:" + port + "/citizen"
	case <-time.After(30 * time.Second):
		t.Fatalf("node_server.js did not start within 30 s: %s", stderr.String())
	}
	return ""
}

// TestInteropNodeServer: our client against node-soap's server. node-soap
// answers a SOAP 1.2 request with a SOAP 1.1 envelope (it writes 1.2 only
// with forceSoap12Headers); our client reads the version of the answer from
// its envelope, so both work and the fault is a 1.1 Client fault in both.
func TestInteropNodeServer(t *testing.T) {
	url := startNodeServer(t)
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			c := newClient(t, url, soap.WithVersion(v), soap.WithSOAPHeader(TransactionID{Value: "tx-node"}))
			var got GetCitizenResponse
			must(t, c.Call(t.Context(), actGetCitizen, &GetCitizen{Id: "042190000777", AsOf: "2026-03-01"}, &got))
			if got.Id != "042190000777" || got.FullName != "Trần Thị Bình" || got.BirthDate != "1990-07-02" || got.Age != 35 ||
				len(got.Address) != 2 || got.Address[1] != "Phường Minh Xuân" {
				t.Fatalf("GetCitizen from node-soap: %+v", got)
			}
			var ex GetExchangeResponse
			must(t, c.Call(t.Context(), actGetExchange, &GetExchange{Id: "ex-1"}, &ex))
			if ex.Status != "delivered" {
				t.Fatalf("GetExchange: %+v", ex)
			}
			raw, err := c.CallRaw(t.Context(), actGetExchange, []byte(`<c:GetExchange xmlns:c="urn:lgsp:test:citizen"><c:Id>ex-1</c:Id></c:GetExchange>`))
			must(t, err)
			var ex2 GetExchangeResponse
			if err := xmlUnmarshal(raw, &ex2); err != nil || ex2.Status != "delivered" {
				t.Fatalf("CallRaw answer is not standalone XML: %v\n%s", err, raw)
			}

			err = c.Call(t.Context(), actGetExchange, &GetExchange{Id: "ex-404"}, nil)
			var f *soap.Fault
			if !errors.As(err, &f) {
				t.Fatalf("want *soap.Fault, got %T %v", err, err)
			}
			if f.HTTPStatus != 500 || f.Code != "Client" || !strings.Contains(f.String, "ex-404") ||
				f.LGSPCode != "exchange.not_found" || !errors.Is(err, bus.ErrExchangeNotFound) {
				t.Fatalf("fault from node-soap: %+v\ndetail: %s", *f, f.Detail)
			}
		})
	}
}
