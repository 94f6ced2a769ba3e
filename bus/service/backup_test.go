package service

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
)

// archiveOf builds a gzip'd tar of the entries in order.
func archiveOf(t testing.TB, entries ...[2]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tarBytes(tw, e[0], []byte(e[1])); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func manifestOf(files map[string]string) string {
	m := BackupManifest{Format: BackupFormat, Files: map[string]string{}}
	for name, content := range files {
		s := sha256.Sum256([]byte(content))
		m.Files[name] = hex.EncodeToString(s[:])
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestUnpackBackupRefuses: a restore reads only its own format — manifest
// first, known names without "..", each file once and with its checksum —
// and refuses anything else with backup.bad_archive, writing nothing
// outside the directory it unpacks into.
func TestUnpackBackupRefuses(t *testing.T) {
	db := "SQLite format 3"
	good := manifestOf(map[string]string{"lgsp.db": db})
	cases := map[string][]byte{
		"not gzip":           []byte("hello"),
		"manifest not first": archiveOf(t, [2]string{"lgsp.db", db}, [2]string{"manifest.json", good}),
		"traversal":          archiveOf(t, [2]string{"manifest.json", manifestOf(map[string]string{"lgsp.db": db, "settings/../../x": "x"})}, [2]string{"lgsp.db", db}, [2]string{"settings/../../x", "x"}),
		"unlisted file":      archiveOf(t, [2]string{"manifest.json", good}, [2]string{"lgsp.db", db}, [2]string{"settings/extra", "x"}),
		"checksum":           archiveOf(t, [2]string{"manifest.json", good}, [2]string{"lgsp.db", "other"}),
		"missing file":       archiveOf(t, [2]string{"manifest.json", good}),
		"twice":              archiveOf(t, [2]string{"manifest.json", good}, [2]string{"lgsp.db", db}, [2]string{"lgsp.db", db}),
		"key flag":           archiveOf(t, [2]string{"manifest.json", manifestOf(map[string]string{"lgsp.db": db, "master.key": "k"})}, [2]string{"lgsp.db", db}, [2]string{"master.key", "k"}),
	}
	for name, arc := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "in")
			os.Mkdir(dir, 0o700)
			_, err := unpackBackup(bytes.NewReader(arc), dir)
			if bus.CodeOf(err) != bus.ErrBackupBadArchive.Code {
				t.Fatalf("got %v, want %s", err, bus.ErrBackupBadArchive.Code)
			}
			if _, err := os.Stat(filepath.Join(root, "x")); err == nil {
				t.Fatal("an entry was written outside the unpack directory")
			}
		})
	}
	dir := t.TempDir()
	m, err := unpackBackup(bytes.NewReader(archiveOf(t, [2]string{"manifest.json", good}, [2]string{"lgsp.db", db})), dir)
	if err != nil || m.Format != BackupFormat {
		t.Fatalf("a well-formed archive: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "lgsp.db")); string(b) != db {
		t.Fatalf("unpacked %q", b)
	}
}

// FuzzUnpackBackup: no archive makes the reader panic or write outside its
// directory.
func FuzzUnpackBackup(f *testing.F) {
	db := "SQLite format 3"
	f.Add(archiveOf(f, [2]string{"manifest.json", manifestOf(map[string]string{"lgsp.db": db})}, [2]string{"lgsp.db", db}))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "in")
		os.Mkdir(dir, 0o700)
		_, _ = unpackBackup(bytes.NewReader(b), dir)
		entries, _ := os.ReadDir(root)
		if len(entries) != 1 {
			t.Fatalf("wrote outside the unpack directory: %v", entries)
		}
	})
}
