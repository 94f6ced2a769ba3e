package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// ext4Data is a small ext4 file system in a loop-mounted image, mounted on
// a node's data/ folder, that a test fills up or turns read-only. A real
// file system (not chmod, which does not stop root) so that SQLite meets
// the very errors of a full disk (ENOSPC) and a read-only one (EROFS).
type ext4Data struct {
	t   *testing.T
	img string
	dir string
}

func run(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	return exec.Command(name, args...).CombinedOutput()
}

// mountExt4Data makes and mounts the image on work/data; the test fails
// with one line if it cannot (no root, no loop devices), never skips.
func mountExt4Data(t *testing.T, work string) *ext4Data {
	t.Helper()
	d := &ext4Data{t: t, img: filepath.Join(t.TempDir(), "data.img"), dir: filepath.Join(work, "data")}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.img, 24<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "mkfs.ext4", "-q", "-F", "-m", "0", d.img); err != nil {
		t.Fatalf("SQLite fault test needs mkfs.ext4, root and loop devices: mkfs.ext4: %v %s", err, bytes.TrimSpace(out))
	}
	d.mount()
	t.Cleanup(func() {
		if out, err := run(t, "umount", d.dir); err != nil {
			t.Errorf("umount %s: %v %s", d.dir, err, out)
		}
	})
	return d
}

func (d *ext4Data) mount() {
	d.t.Helper()
	if out, err := run(d.t, "mount", "-o", "loop,errors=remount-ro", d.img, d.dir); err != nil {
		d.t.Fatalf("SQLite fault test needs root and loop devices: mount -o loop: %v %s", err, bytes.TrimSpace(out))
	}
}

// fill writes a filler file until the file system is full.
func (d *ext4Data) fill() string {
	d.t.Helper()
	p := filepath.Join(d.dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				d.t.Fatalf("filling the file system: %v", err)
			}
			_ = f.Sync()
			return p
		}
	}
}

// readOnly turns the mounted file system read-only under the running node
// (an ext4 error with errors=remount-ro, as a failing disk does): a plain
// `mount -o remount,ro` is refused while SQLite holds files open for writing.
func (d *ext4Data) readOnly() {
	d.t.Helper()
	out, err := run(d.t, "findmnt", "-no", "SOURCE", d.dir)
	if err != nil {
		d.t.Fatalf("findmnt: %v %s", err, out)
	}
	dev := filepath.Base(strings.TrimSpace(string(out)))
	if err := os.WriteFile("/sys/fs/ext4/"+dev+"/trigger_fs_error", []byte("1"), 0o200); err != nil {
		d.t.Fatalf("SQLite fault test needs /sys/fs/ext4/*/trigger_fs_error: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		d.t.Fatalf("after the ext4 error the file system still takes writes: %v", err)
	}
}

// remountRW repairs and mounts the file system again (the node is stopped).
func (d *ext4Data) remountRW() {
	d.t.Helper()
	if out, err := run(d.t, "umount", d.dir); err != nil {
		d.t.Fatalf("umount: %v %s", err, out)
	}
	// e2fsck exits 1 when it corrected the error flag: that is expected.
	if out, err := run(d.t, "e2fsck", "-fy", d.img); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 {
			d.t.Fatalf("e2fsck: %v %s", err, out)
		}
	}
	d.mount()
}

// wantUnavailable checks err is the coded 503 of a store that cannot write.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var ae *rest.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 503 || ae.Code != "system.unavailable" || ae.RetryAfter == "" || ae.MessageVI == "" {
		t.Fatalf("%s: got %v, want 503 system.unavailable with Retry-After", what, err)
	}
}

// TestSQLiteDiskFullAndReadOnly runs the real binary on SQLite in a small
// ext4 file system: when the disk is full, then when the file system turns
// read-only, writes are refused with 503 system.unavailable and
// Retry-After (no 500, no crash); once space is freed the refused upload
// resumes, and after the read-only file system is repaired and the node
// restarted every acknowledged exchange is there with its content.
func TestSQLiteDiskFullAndReadOnly(t *testing.T) {
	var fs *ext4Data
	n, credA, credB := newCrashNodeOn(t, func(work string) { fs = mountExt4Data(t, work) })
	n.start()
	ctx := context.Background()
	a, b := n.client(credA), n.client(credB)
	a.MaxRetries, b.MaxRetries = -1, -1 // the test sees every refusal

	acked := map[string][]byte{} // exchanges whose completion was acknowledged
	send := func(payload []byte) (string, error) {
		sum := sha256.Sum256(payload)
		sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Công văn thử đĩa", DataType: "edoc", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:])})
		if err != nil {
			return "", err
		}
		if _, err := a.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
			return sp.ExchangeID, err
		}
		if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: hex.EncodeToString(sum[:])}); err != nil {
			return sp.ExchangeID, err
		}
		acked[sp.ExchangeID] = payload
		return sp.ExchangeID, nil
	}
	small := []byte("<congvan>trước sự cố</congvan>")
	if _, err := send(small); err != nil {
		t.Fatal(err)
	}

	// Disk full: a large upload cannot be stored.
	filler := fs.fill()
	big := make([]byte, 4<<20)
	if _, err := cryptoRead(big); err != nil {
		t.Fatal(err)
	}
	bigSum := sha256.Sum256(big)
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60"}, Title: "Hồ sơ khi đầy đĩa", DataType: "edoc", Size: int64(len(big)), SHA256: hex.EncodeToString(bigSum[:])})
	if err == nil {
		_, err = a.UploadBytes(ctx, sp.ExchangeID, big)
	}
	wantUnavailable(t, "writing with the disk full", err)
	if _, err := a.Status(ctx, sp.ExchangeID); sp.ExchangeID != "" && err != nil {
		var ae *rest.APIError
		if !errors.As(err, &ae) || ae.Code != "system.unavailable" {
			t.Fatalf("status of the refused exchange: %v", err)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Space freed: the refused work completes (the upload resumes from
	// what the node holds), or, if the space request itself was refused,
	// the exchange is simply sent again.
	eventually(t, "writes succeed once space is freed", func() (bool, error) {
		if sp.ExchangeID == "" {
			_, err := send(big)
			return err == nil, err
		}
		off, err := a.UploadOffset(ctx, sp.ExchangeID)
		if err != nil {
			return false, err
		}
		left := big[off:]
		rs := sha256.Sum256(left)
		if _, err := a.Upload(ctx, sp.ExchangeID, off, bytes.NewReader(left), int64(len(left)), hex.EncodeToString(rs[:])); err != nil {
			return false, err
		}
		if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: hex.EncodeToString(bigSum[:])}); err != nil {
			return false, err
		}
		acked[sp.ExchangeID] = big
		return true, nil
	})

	// Read-only file system under the running node.
	fs.readOnly()
	_, err = send([]byte("<congvan>khi hệ thống tệp chỉ đọc</congvan>"))
	wantUnavailable(t, "writing on a read-only file system", err)
	if len(acked) != 2 {
		t.Fatalf("%d exchanges acknowledged, want 2 (a refusal was acknowledged?)", len(acked))
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done: // its exit status may tell the failed final writes
	case <-time.After(30 * time.Second):
		t.Fatal("lgsp did not stop within 30 s on a read-only file system")
	}
	fs.remountRW()

	// Nothing acknowledged lost: each exchange is there, accepted, with
	// its content.
	n.start()
	a, b = n.client(credA), n.client(credB)
	for id, payload := range acked {
		v, err := a.Status(ctx, id)
		if err != nil || v.Status == store.ExchangeRequested {
			t.Fatalf("acknowledged exchange %s after the restart: %v %+v", id, err, v)
		}
		eventually(t, "exchange in B's inbox", func() (bool, error) {
			items, err := b.Inbox(ctx)
			for _, it := range items {
				if it.ExchangeID == id {
					return true, nil
				}
			}
			return false, err
		})
		if _, err := b.Ready(ctx, id); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := b.Download(ctx, id, 0, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
			t.Fatalf("download of %s after the restart: %v (%d of %d bytes)", id, err, got.Len(), len(payload))
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-n.done; err != nil {
		t.Fatalf("lgsp did not stop cleanly after the repair: %v", err)
	}
}
