package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/store"
)

// crashNode runs the real lgsp binary on a work folder (SQLite store in
// data/) so that a test can kill it with SIGKILL and start it again on the
// same data.
type crashNode struct {
	t    *testing.T
	bin  string
	work string
	cmd  *exec.Cmd
	done chan error
	logs lockedBuffer
	url  string
}

// newCrashNode builds the binary with the test-only crash points compiled
// in (build tag lgsp_testhooks) and prepares a work folder with the test
// routes, two systems A → B and their grant.
func newCrashNode(t *testing.T) (*crashNode, rest.Credentials, rest.Credentials) {
	t.Helper()
	return newCrashNodeOn(t, nil)
}

// newCrashNodeOn is newCrashNode with prepare run on the work folder first
// (before any data is written), e.g. to mount a file system on data/. Its
// cleanups run after the node is stopped.
func newCrashNodeOn(t *testing.T, prepare func(work string)) (*crashNode, rest.Credentials, rest.Credentials) {
	t.Helper()
	n := &crashNode{t: t, bin: builtLGSP(t, "lgsp_testhooks"), work: t.TempDir()}
	if prepare != nil {
		prepare(n.work)
	}
	if err := os.MkdirAll(filepath.Join(n.work, "routes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.work, "routes", "test.yaml"), []byte(testRoutes), 0o644); err != nil {
		t.Fatal(err)
	}
	n.cli("systems", "add", "--code", "000.00.00.H60", "--name", "UBND tỉnh", "--unit", "UBND tỉnh")
	n.cli("systems", "add", "--code", "000.00.01.H60", "--name", "Văn phòng", "--unit", "UBND tỉnh")
	n.cli("keys", "issue", "--system", "000.00.00.H60", "--out", "a.json")
	n.cli("keys", "issue", "--system", "000.00.01.H60", "--out", "b.json")
	n.cli("grants", "add", "--kind", "exchange", "--source", "000.00.00.H60", "--to", "000.00.01.H60", "--data-type", "edoc")
	a, err := rest.LoadCredentials(filepath.Join(n.work, "a.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rest.LoadCredentials(filepath.Join(n.work, "b.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd != nil && n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	return n, a, b
}

func (n *crashNode) env(extra ...string) []string {
	return append(os.Environ(), append([]string{"LGSP_LOG_FORMAT=json", "LGSP_LOG_LEVEL=debug"}, extra...)...)
}

func (n *crashNode) cli(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(n.bin, args...)
	cmd.Dir, cmd.Env = n.work, n.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		n.t.Fatalf("lgsp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start runs `lgsp serve` with extra environment and waits until it
// listens.
func (n *crashNode) start(extra ...string) {
	n.t.Helper()
	addrFile := filepath.Join(n.work, "addr")
	_ = os.Remove(addrFile)
	n.cmd = exec.Command(n.bin, "serve", "--listen", "127.0.0.1:0", "--addr-file", addrFile)
	n.cmd.Dir, n.cmd.Env = n.work, n.env(extra...)
	n.logs = lockedBuffer{}
	n.cmd.Stderr = &n.logs
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(n.cmd, n.done)
	eventually(n.t, "lgsp listening", func() (bool, error) {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(b) > 0 {
			n.url = "http://" + strings.TrimSpace(string(b))
			return true, nil
		}
		select {
		case err := <-n.done:
			n.t.Fatalf("lgsp exited before listening: %v\n%s", err, n.logs.String())
		default:
		}
		return false, err
	})
}

// waitKilled waits for the process to end and fails unless SIGKILL ended it.
func (n *crashNode) waitKilled() {
	n.t.Helper()
	select {
	case err := <-n.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			n.t.Fatalf("lgsp ended with %v, want death by SIGKILL", err)
		}
		ws, ok := ee.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			n.t.Fatalf("lgsp ended with %v, want death by SIGKILL\n%s", err, n.logs.String())
		}
	case <-time.After(30 * time.Second):
		n.t.Fatal("lgsp still running 30 s after it should have died")
	}
}

func (n *crashNode) client(c rest.Credentials) *rest.Client {
	return &rest.Client{BaseURL: n.url, AccessKey: c.AccessKey, SecretKey: c.SecretKey}
}

// db opens the node's SQLite database directly (the node may be stopped).
func (n *crashNode) db() *sql.DB {
	n.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(n.work, "data", "lgsp.db"))
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var v sql.NullInt64
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.Int64
}

func queryString(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

// TestCrashBetweenConfirmAndPurge kills the node (SIGKILL, by the test-only
// crash point after-confirm-commit) right after the recipient's
// confirmation is committed and before the purge. Restarted on the same
// data, the node's sweeper completes the exchange by itself: status
// completed, no chunk, no wrapped key, a purged event in the ledger; a
// retried confirmation then answers 200 with that state.
func TestCrashBetweenConfirmAndPurge(t *testing.T) {
	n, credA, credB := newCrashNode(t)
	n.start("LGSP_TEST_CRASH_AT=after-confirm-commit")
	ctx := context.Background()
	a, b := n.client(credA), n.client(credB)
	payload := []byte("<congvan>văn bản thử nghiệm sự cố giữa xác nhận và xoá</congvan>")
	sum := sha256.Sum256(payload)
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn thử sự cố", DataType: "edoc", SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	id := sp.ExchangeID
	if _, err := a.UploadBytes(ctx, id, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Complete(ctx, id, exchange.CompleteRequest{SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "exchange in B's inbox", func() (bool, error) {
		items, err := b.Inbox(ctx)
		return err == nil && len(items) == 1, err
	})
	if _, err := b.Ready(ctx, id); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := b.Download(ctx, id, 0, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
		t.Fatalf("download: %v (%d bytes)", err, got.Len())
	}
	if _, err := b.Confirm(ctx, id, "received", "đã nhận"); err == nil {
		t.Fatal("confirm answered although the node was to die after committing it")
	}
	n.waitKilled()

	// The crash left the window this test is about.
	db := n.db()
	if st := queryString(t, db, "SELECT status FROM exchanges WHERE id = ?", id); st != store.ExchangeAccepted {
		t.Fatalf("after the crash the exchange is %s, want accepted (the crash point missed the window)", st)
	}
	if st := queryString(t, db, "SELECT status FROM recipients WHERE exchange_id = ?", id); st != store.RecipientConfirmed {
		t.Fatalf("after the crash the recipient is %s, want confirmed", st)
	}
	if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks WHERE exchange_id = ?", id); c == 0 {
		t.Fatal("after the crash no chunk is left: the crash point missed the window")
	}
	db.Close()

	n.start() // no crash point now
	a, b = n.client(credA), n.client(credB)
	eventually(t, "sweeper completes the exchange after the restart", func() (bool, error) {
		v, err := a.Status(ctx, id)
		return err == nil && v.Status == store.ExchangeCompleted, err
	})
	v, err := a.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	purged := false
	for _, ev := range v.Ledger {
		if ev.Kind == "purged" {
			purged = true
		}
	}
	if !purged {
		t.Fatalf("ledger has no purged event: %+v", v.Ledger)
	}
	db = n.db()
	if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks WHERE exchange_id = ?", id); c != 0 {
		t.Fatalf("%d chunks left after the sweeper completed the exchange", c)
	}
	if k := queryInt(t, db, "SELECT LENGTH(wrapped_key) FROM exchanges WHERE id = ?", id); k != 0 {
		t.Fatal("wrapped data key left after the sweeper completed the exchange")
	}
	if d := queryString(t, db, "SELECT detail FROM events WHERE exchange_id = ? AND kind = 'purged'", id); !strings.Contains(d, `"resumed_by":"sweeper"`) {
		t.Fatalf("purged event detail = %s, want it to say the sweeper resumed it", d)
	}

	// Retrying the confirmation is idempotent: 200 with the current state.
	again, err := b.Confirm(ctx, id, "received", "đã nhận")
	if err != nil {
		t.Fatalf("retried confirmation: %v", err)
	}
	if again.Status != store.ExchangeCompleted {
		t.Fatalf("retried confirmation answered %s, want completed", again.Status)
	}
	// A different outcome for a final recipient is still a conflict.
	if _, err := b.Confirm(ctx, id, "rejected", "đổi ý"); err == nil {
		t.Fatal("rejecting after confirming was accepted")
	} else {
		wantAPIError(t, err, "exchange.state")
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-n.done; err != nil {
		t.Fatalf("lgsp did not stop cleanly: %v", err)
	}
}

// slowBody is an upload body the test feeds piece by piece, so that it can
// kill the node at a point it observed.
type slowBody struct {
	pr *io.PipeReader
	pw *io.PipeWriter
}

// TestUploadResumesAfterKill kills the node (SIGKILL from the test) in the
// middle of a 20 MiB upload, after HEAD showed chunks stored; restarted on
// the same data, HEAD reports exactly the stored chunks, the upload resumes
// from there, and the downloaded content has the right SHA-256; at no point
// is a chunk row left beyond the stored offset.
func TestUploadResumesAfterKill(t *testing.T) {
	n, credA, credB := newCrashNode(t)
	n.start()
	ctx := context.Background()
	a := n.client(credA)
	const size, chunk, cut = 20 << 20, 256 << 10, 3 << 20 // cut: bytes sent before the kill (a multiple of the chunk size)
	payload := make([]byte, size)
	if _, err := cryptoRead(payload); err != nil {
		t.Fatal(err)
	}
	whole := sha256.Sum256(payload)
	wholeHex := hex.EncodeToString(whole[:])
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Hồ sơ lớn", DataType: "edoc", Size: size, SHA256: wholeHex})
	if err != nil {
		t.Fatal(err)
	}
	id := sp.ExchangeID

	body := &slowBody{}
	body.pr, body.pw = io.Pipe()
	upErr := make(chan error, 1)
	go func() {
		_, err := a.Upload(ctx, id, 0, body.pr, size, wholeHex)
		upErr <- err
	}()
	if _, err := body.pw.Write(payload[:cut]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "HEAD shows the first 3 MiB stored", func() (bool, error) {
		off, err := a.UploadOffset(ctx, id)
		return off == cut, err
	})
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.waitKilled()
	body.pw.CloseWithError(errors.New("node killed"))
	if err := <-upErr; err == nil {
		t.Fatal("the interrupted upload reported success")
	}
	db := n.db()
	strays := func(when string) {
		t.Helper()
		if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks c JOIN exchanges e ON e.id = c.exchange_id WHERE c.exchange_id = ? AND c.off >= e.received", id); c != 0 {
			t.Fatalf("%s: %d chunk rows beyond the stored offset", when, c)
		}
	}
	strays("after the kill")

	n.start()
	a, b := n.client(credA), n.client(credB)
	off, err := a.UploadOffset(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if off != cut {
		t.Fatalf("HEAD after the restart = %d, want %d (the stored chunks)", off, cut)
	}
	if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks WHERE exchange_id = ?", id); c != cut/chunk {
		t.Fatalf("%d chunk rows after the restart, want %d", c, cut/chunk)
	}
	rest := payload[off:]
	restSum := sha256.Sum256(rest)
	if got, err := a.Upload(ctx, id, off, bytes.NewReader(rest), int64(len(rest)), hex.EncodeToString(restSum[:])); err != nil || got != size {
		t.Fatalf("resumed upload: %d, %v", got, err)
	}
	if _, err := a.Complete(ctx, id, exchange.CompleteRequest{SHA256: wholeHex}); err != nil {
		t.Fatal(err)
	}
	strays("after completion")
	if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks WHERE exchange_id = ?", id); c != (size+chunk-1)/chunk {
		t.Fatalf("%d chunk rows after completion, want %d", c, (size+chunk-1)/chunk)
	}
	eventually(t, "exchange in B's inbox", func() (bool, error) {
		items, err := b.Inbox(ctx)
		return err == nil && len(items) == 1, err
	})
	if _, err := b.Ready(ctx, id); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := b.Download(ctx, id, 0, h); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wholeHex {
		t.Fatalf("downloaded SHA-256 %s, want %s", got, wholeHex)
	}
	v, err := b.Confirm(ctx, id, "received", "")
	if err != nil || v.Status != store.ExchangeCompleted {
		t.Fatalf("confirm: %+v %v", v, err)
	}
	if c := queryInt(t, db, "SELECT COUNT(*) FROM chunks"); c != 0 {
		t.Fatalf("%d chunk rows left after completion", c)
	}
	// The ledger tells the interrupted part from the resumed one.
	var ledger []string
	rows, err := db.Query("SELECT detail FROM events WHERE exchange_id = ? AND kind = 'uploaded' ORDER BY id", id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		ledger = append(ledger, d)
	}
	rows.Close()
	if len(ledger) != 1 {
		t.Fatalf("uploaded events = %v, want only the resumed part (the killed node recorded nothing)", ledger)
	}
	var part struct{ From, To int64 }
	if err := json.Unmarshal([]byte(ledger[0]), &part); err != nil || part.From != cut || part.To != size {
		t.Fatalf("uploaded event = %s, want from %d to %d", ledger[0], cut, size)
	}
}
