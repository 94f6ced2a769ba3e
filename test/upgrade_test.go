package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// previousRelease is the commit of the previous release, v0.1.0 in
// CHANGELOG.md (the last commit before the upgrade machinery), built by
// TestRollingUpgrade from this repository's own history.
const previousRelease = "1ca3eb8c89bf4bc4f83a71104708a40be4740fa3"

// buildPrevious builds cmd/lgsp of the previous release from git history.
func buildPrevious(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("git", "cat-file", "-e", previousRelease+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("the previous release %s (v0.1.0) is not in this clone's history (%v %s): the rolling-upgrade test needs full history (git fetch --unshallow)", previousRelease[:7], err, out)
	}
	dir := t.TempDir()
	archive := exec.Command("sh", "-c", fmt.Sprintf("git archive %s | tar -x -C %s", previousRelease, dir))
	archive.Dir = ".." // from a subdirectory git archive would take that subtree only
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive of %s: %v\n%s", previousRelease[:7], err, out)
	}
	bin := filepath.Join(t.TempDir(), "lgsp-v0.1.0")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.1.0", "-o", bin, "./cmd/lgsp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building v0.1.0: %v\n%s", err, out)
	}
	return bin
}

// binNode is a node run by a real binary.
type binNode struct {
	url  string
	cmd  *exec.Cmd
	done chan error
	logs *lockedBuffer
}

func startBinNode(t *testing.T, bin string, env []string) *binNode {
	t.Helper()
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "routes"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, "../routes", filepath.Join(work, "routes"))
	n := &binNode{cmd: exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--addr-file", "addr"), done: make(chan error, 1), logs: &lockedBuffer{}}
	n.cmd.Dir = work
	n.cmd.Env = append(env, "LGSP_DATA_DIR="+filepath.Join(work, "data"), "LGSP_ROUTES_DIR="+filepath.Join(work, "routes"))
	n.cmd.Stderr = n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() { n.stop(t) })
	eventually(t, bin+" listening", func() (bool, error) {
		select {
		case err := <-n.done:
			n.done <- err
			t.Fatalf("%s exited: %v\n%s", filepath.Base(bin), err, n.logs.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(work, "addr"))
		n.url = "http://" + string(b)
		return err == nil && len(b) > 0, err
	})
	return n
}

func (n *binNode) stop(t *testing.T) {
	if n.cmd.ProcessState != nil {
		return
	}
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		t.Errorf("node did not stop within 30 s")
	}
}

// TestRollingUpgrade runs the previous release (v0.1.0, built from git
// history) and this version side by side on one MariaDB: the new node
// migrates the shared database while the old one serves; both keep
// serving the same systems and exchanges; the old binary restarts on the
// migrated database (backward-compatible migrations); and the new binary
// refuses a database a newer, incompatible version migrated.
func TestRollingUpgrade(t *testing.T) {
	dsn, db := freshMySQL(t)
	oldBin := buildPrevious(t)
	newBin := buildLGSP(t)
	key := make([]byte, 32)
	rand.Read(key)
	env := append(os.Environ(), "LGSP_STORE="+dsn, "LGSP_MASTER_KEY="+base64.StdEncoding.EncodeToString(key))
	cli := func(bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = t.TempDir(), append(env, "LGSP_DATA_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	client := func(bin, code, url string) *rest.Client {
		t.Helper()
		out := filepath.Join(t.TempDir(), "creds.json")
		cli(bin, "keys", "issue", "--system", code, "--out", out, "--url", url)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		}
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" {
			t.Fatalf("credentials file: %v %s", err, b)
		}
		return &rest.Client{BaseURL: url, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
	}

	// Release N: one node, systems, a grant, an exchange.
	old := startBinNode(t, oldBin, env)
	cli(oldBin, "systems", "add", "--code", "000.00.00.H60", "--name", "UBND tỉnh", "--unit", "UBND")
	cli(oldBin, "systems", "add", "--code", "000.00.01.H60", "--name", "Văn phòng", "--unit", "UBND")
	cli(oldBin, "grants", "add", "--kind", "exchange", "--source", "000.00.00.H60", "--to", "000.00.01.H60", "--data-type", "edoc")
	a := client(oldBin, "000.00.00.H60", old.url)
	b := client(oldBin, "000.00.01.H60", old.url)
	send := func(c *rest.Client) string {
		t.Helper()
		ctx := context.Background()
		sp, err := c.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn", DataType: "edoc"})
		if err != nil {
			t.Fatalf("request on %s: %v", c.BaseURL, err)
		}
		doc := []byte("<cv>nâng cấp</cv>")
		if _, err := c.UploadBytes(ctx, sp.ExchangeID, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{MediaType: "application/xml", SHA256: sumHex(doc)}); err != nil {
			t.Fatal(err)
		}
		return sp.ExchangeID
	}
	inInbox := func(c *rest.Client, id string) func() (bool, error) {
		return func() (bool, error) {
			list, err := c.Inbox(context.Background())
			for _, e := range list {
				if e.ExchangeID == id {
					return true, nil
				}
			}
			return false, err
		}
	}
	id1 := send(a)

	// Release N+1 joins on the same database (migrating it) while N serves.
	nw := startBinNode(t, newBin, env)
	status := cli(newBin, "migrate", "status")
	if !strings.Contains(status, "oldest compatible") || strings.Contains(status, "pending") {
		t.Fatalf("migrate status after the new node started:\n%s", status)
	}
	b2 := *b
	b2.BaseURL = nw.url
	eventually(t, "exchange sent through v0.1.0 seen on the new node", inInbox(&b2, id1))
	a2 := *a
	a2.BaseURL = nw.url
	id2 := send(&a2) // through the new node …
	eventually(t, "exchange sent through the new node seen on v0.1.0", inInbox(b, id2))
	id3 := send(a) // … and the old one keeps taking writes
	eventually(t, "v0.1.0 still writes", inInbox(&b2, id3))

	// The old binary restarts on the migrated database (one release back).
	old.stop(t)
	old = startBinNode(t, oldBin, env)
	a.BaseURL = old.url
	id4 := send(a)
	eventually(t, "restarted v0.1.0 writes", inInbox(&b2, id4))
	old.stop(t)
	nw.stop(t)

	// A database migrated by an incompatible newer version: refused, coded.
	if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(newBin, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir, cmd.Env = t.TempDir(), append(env, "LGSP_DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "store.schema_newer") || !strings.Contains(string(out), "9999") {
		t.Fatalf("serve on a newer database: %v\n%s", err, out)
	}
	mig := exec.Command(newBin, "migrate", "status")
	mig.Dir, mig.Env = t.TempDir(), env
	if out, err := mig.CombinedOutput(); err == nil || !strings.Contains(string(out), "store.schema_newer") {
		t.Fatalf("migrate status on a newer database: %v\n%s", err, out)
	}
}

// TestMariaDBDumpRestore runs the MariaDB procedure of docs/operations.md:
// mariadb-dump --single-transaction of a live node's database, loaded into
// an empty database with the mariadb client; a node on it (same master key)
// has every system, grant, exchange and ledger event.
func TestMariaDBDumpRestore(t *testing.T) {
	dump := testenv.RequireTool(t, "mariadb-dump")
	client := testenv.RequireTool(t, "mariadb")
	n := startNode(t, "mysql")
	n.system(t, "000.00.00.H60", "UBND tỉnh")
	n.system(t, "000.00.01.H60", "Văn phòng")
	ids := []string{sendSmall(t, n, "000.00.00.H60", "000.00.01.H60"), sendSmall(t, n, "000.00.00.H60", "000.00.01.H60")}
	last, err := n.svc.Store().LastEventID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	src, err := mysql.ParseDSN(strings.TrimPrefix(n.dsn, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(src.Addr, ":")
	args := []string{"--protocol=TCP", "-h", host, "-P", port, "-u", src.User}
	pw := "MYSQL_PWD=" + src.Passwd
	file := filepath.Join(t.TempDir(), "lgsp.sql")
	cmd := exec.Command("sh", "-c", fmt.Sprintf("%q \"$@\" > %q", dump, file), "sh")
	cmd.Args = append(cmd.Args, append(args, "--single-transaction", "--routines", "--triggers", "--hex-blob", src.DBName)...)
	cmd.Env = append(os.Environ(), pw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-dump: %v\n%s", err, out)
	}
	dst, _ := freshMySQL(t)
	dcfg, _ := mysql.ParseDSN(strings.TrimPrefix(dst, "mysql://"))
	load := exec.Command(client, append(args, dcfg.DBName)...)
	load.Env = append(os.Environ(), pw)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	load.Stdin = f
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("mariadb < dump: %v\n%s", err, out)
	}
	n2 := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Store = dst
		c.MasterKeyFile = filepath.Join(n.dataDir, "master.key")
	})
	checkRestored(t, n, n2, ids, last)
}
