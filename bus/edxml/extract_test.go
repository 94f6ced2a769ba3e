package edxml

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
)

// zipBomb returns a ZIP whose one entry inflates to n zero bytes, and a
// ZIP holding that ZIP (nested) beside a second bomb entry.
func zipBomb(t testing.TB, n int) (flat, nested []byte) {
	t.Helper()
	mk := func(entries map[string][]byte) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for name, data := range entries {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	zeros := make([]byte, n)
	flat = mk(map[string][]byte{"zeros.bin": zeros})
	nested = mk(map[string][]byte{"inner.zip": flat, "more-zeros.bin": zeros})
	return flat, nested
}

// packetWith returns a document packet whose attachments are the given
// contents.
func packetWith(t testing.TB, contents ...[]byte) []byte {
	t.Helper()
	p := newDocument(DocNew)
	p.Envelope.Body.Manifest.Reference = nil
	p.Attachments = nil
	for i, c := range contents {
		cid := fmt.Sprintf("cid:%d", i+1)
		name := fmt.Sprintf("tep-%d.bin", i+1)
		p.Envelope.Body.Manifest.Reference = append(p.Envelope.Body.Manifest.Reference, Reference{ContentId: cid, ContentType: "application/octet-stream", AttachmentName: name})
		p.Attachments = append(p.Attachments, &Attachment{ContentId: cid, AttachmentName: name, ContentType: "application/octet-stream", Open: content(string(c))})
	}
	return buildBytes(t, p)
}

// onlyKeep checks that dir holds exactly the file keep.txt: a refused
// extraction left nothing behind.
func onlyKeep(t *testing.T, dir string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name() != "keep.txt" {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("after the refusal %s holds %v", dir, names)
	}
}

// TestExtractLimits: a ZIP bomb (flat or nested) and a packet with many
// attachments are refused with edxml.extract_limit naming the limit, and
// leave the output folder as it was; raised limits let the same packets
// through.
func TestExtractLimits(t *testing.T) {
	const inflated = 16 << 20
	flat, nested := zipBomb(t, inflated)
	many := make([][]byte, 30)
	for i := range many {
		many[i] = []byte(fmt.Sprintf("tệp %d", i))
	}
	cases := []struct {
		name   string
		packet []byte
		lim    ExtractLimits
		want   string
	}{
		{"zip bomb", packetWith(t, flat), ExtractLimits{MaxBytes: 4 << 20}, "more than 4194304 bytes in total (raise --max-bytes)"},
		{"nested zip bomb", packetWith(t, nested), ExtractLimits{MaxBytes: 4 << 20}, "more than 4194304 bytes in total (raise --max-bytes)"},
		{"bombs spread over attachments", packetWith(t, flat, flat, flat), ExtractLimits{MaxBytes: 40 << 20}, "more than 41943040 bytes in total"},
		{"many attachments", packetWith(t, many...), ExtractLimits{MaxFiles: 10}, "more than 10 files (raise --max-files)"},
		{"many zip entries", packetWith(t, nested, nested), ExtractLimits{MaxFiles: 4, MaxBytes: 1 << 30}, "more than 4 files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, files, err := ExtractAttachments(bytes.NewReader(tc.packet), dir, tc.lim)
			if !errors.Is(err, bus.ErrExtractLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want edxml.extract_limit %q", err, tc.want)
			}
			if len(files) != 0 {
				t.Fatalf("refusal reported %d files", len(files))
			}
			onlyKeep(t, dir)
		})
	}
	// Raised limits: the same packets are extracted whole.
	dir := t.TempDir()
	_, files, err := ExtractAttachments(bytes.NewReader(packetWith(t, nested)), dir, ExtractLimits{MaxBytes: 3 * inflated})
	if err != nil || len(files) != 3 {
		t.Fatalf("nested bomb with raised limit: %d files, %v", len(files), err)
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f.Path)
		if err != nil || st.Size() != f.Size || !strings.HasPrefix(f.Path, dir+string(os.PathSeparator)) {
			t.Fatalf("%s: %v %v", f.Path, st, err)
		}
		total += f.Size
	}
	// The inner ZIP is written as a file, not unwrapped again (one level
	// of unwrapping, as producers zip each file once), so its bomb does not
	// go off; the outer ZIP's own entry does.
	if total < inflated {
		t.Fatalf("extracted %d bytes, want at least %d", total, inflated)
	}
	if _, files, err = ExtractAttachments(bytes.NewReader(packetWith(t, many...)), t.TempDir(), ExtractLimits{}); err != nil || len(files) != len(many) {
		t.Fatalf("30 attachments under the default limit: %d files, %v", len(files), err)
	}
}

// TestExtractNoOverwrite: an extraction whose files already exist in the
// folder is refused as a whole, leaving the existing files untouched.
func TestExtractNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	pkt := packetWith(t, []byte("một"), []byte("hai"))
	if _, _, err := ExtractAttachments(bytes.NewReader(pkt), dir, ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "02-tep-2.bin"), []byte("của tôi"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "01-tep-1.bin")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ExtractAttachments(bytes.NewReader(pkt), dir, ExtractLimits{}); err == nil {
		t.Fatal("second extraction overwrote existing files")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "02-tep-2.bin")); string(b) != "của tôi" {
		t.Fatalf("existing file changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "01-tep-1.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused extraction left 01-tep-1.bin: %v", err)
	}
}

// BenchmarkExtractZipBomb: worst case of extraction — a ZIP bomb refused at
// the byte limit. Memory stays flat (streams through fixed buffers) whatever
// the inflated size; see the B/op reported.
func BenchmarkExtractZipBomb(b *testing.B) {
	flat, _ := zipBomb(b, 64<<20)
	pkt := packetWith(b, flat)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		_, _, err := ExtractAttachments(bytes.NewReader(pkt), b.TempDir(), ExtractLimits{MaxBytes: 32 << 20})
		if !errors.Is(err, bus.ErrExtractLimit) {
			b.Fatal(err)
		}
	}
}
