package test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdocExtractLimitsCLI: `lgsp edoc extract` on a packet carrying a ZIP
// bomb stops at --max-bytes, on one with too many files at --max-files,
// with edxml.extract_limit naming the flag, and leaves no output folder;
// raised flags let it through.
func TestEdocExtractLimitsCLI(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.Create("zeros.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(edocJSON, `"files": [`, fmt.Sprintf(`"files": [{"name": "bom.zip", "media_type": "application/zip", "content_base64": %q}, `, base64.StdEncoding.EncodeToString(zb.Bytes())), 1)
	if err := os.WriteFile(filepath.Join(work, "doc.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("edoc", "build", "--source", "000.00.00.H60", "--out", "bom.edxml", "doc.json"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct{ flag, want string }{
		{"--max-bytes=1048576", "more than 1048576 bytes in total (raise --max-bytes)"},
		{"--max-files=2", "more than 2 files (raise --max-files)"},
	} {
		out, err := run("edoc", "extract", "--out", "files", tc.flag, "bom.edxml")
		if err == nil || !strings.Contains(out, "edxml.extract_limit") || !strings.Contains(out, tc.want) {
			t.Fatalf("extract %s: %v\n%s", tc.flag, err, out)
		}
		if _, err := os.Stat(filepath.Join(work, "files")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("extract %s left its output folder: %v", tc.flag, err)
		}
	}
	out, err := run("edoc", "extract", "--out", "files", "--max-bytes", "16777216", "bom.edxml")
	if err != nil {
		t.Fatalf("extract with raised limit: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(work, "files", "01-bom.zip.unzipped", "01-zeros.bin"))
	if err != nil || st.Size() != 8<<20 {
		t.Fatalf("unzipped entry: %v %v", st, err)
	}
}
