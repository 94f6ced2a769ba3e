package vault

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "master.key")
	v1, created, err := LoadOrCreate(p)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	v2, created, err := LoadOrCreate(p)
	if err != nil || created {
		t.Fatalf("load: %v created=%v", err, created)
	}
	sealed := v1.Seal([]byte("bí mật"), []byte("ak1"))
	got, err := v2.Open(sealed, []byte("ak1"))
	if err != nil || string(got) != "bí mật" {
		t.Fatalf("open with reloaded key: %q %v", got, err)
	}
	if _, err := v2.Open(sealed, []byte("ak2")); err != ErrOpen {
		t.Fatalf("open with other aad: %v, want ErrOpen", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(p); err == nil {
		t.Fatal("world-readable key file was accepted")
	}
}

func TestDataKeyChunks(t *testing.T) {
	v, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dk, wrapped, err := v.NewDataKey("ex_1")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("MARKER-123 nội dung")
	c := dk.SealChunk("ex_1", 4096, plain)
	if bytes.Contains(c, []byte("MARKER")) {
		t.Fatal("sealed chunk contains plaintext")
	}
	if len(c) != len(plain)+Overhead {
		t.Fatalf("overhead = %d, want %d", len(c)-len(plain), Overhead)
	}
	dk2, err := v.UnwrapDataKey("ex_1", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dk2.OpenChunk("ex_1", 4096, c)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open chunk: %q %v", got, err)
	}
	for name, f := range map[string]func() error{
		"moved offset":               func() error { _, err := dk2.OpenChunk("ex_1", 0, c); return err },
		"other exchange":             func() error { _, err := dk2.OpenChunk("ex_2", 4096, c); return err },
		"wrapped for other exchange": func() error { _, err := v.UnwrapDataKey("ex_2", wrapped); return err },
		"tampered": func() error {
			bad := bytes.Clone(c)
			bad[len(bad)-1] ^= 1
			_, err := dk2.OpenChunk("ex_1", 4096, bad)
			return err
		},
	} {
		if err := f(); err != ErrOpen {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	hex := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	k, err := ParseKey(hex)
	if err != nil || k[31] != 0x1f {
		t.Fatalf("hex: %x %v", k, err)
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("short key accepted")
	}
}

// TestCheckValue: the check value identifies a key (same key, same value;
// another key, another value) and Load never creates a missing file.
func TestCheckValue(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, KeySize))
	a2, _ := New(bytes.Repeat([]byte{1}, KeySize))
	b, _ := New(bytes.Repeat([]byte{2}, KeySize))
	if !a.Matches(a2.CheckValue()) || a.Matches(b.CheckValue()) || len(a.CheckValue()) != 32 {
		t.Fatal("check value does not tell keys apart")
	}
	if bytes.Contains(a.CheckValue(), bytes.Repeat([]byte{1}, 8)) {
		t.Fatal("check value shows the key")
	}
	p := filepath.Join(t.TempDir(), "master.key")
	if _, err := Load(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Load created the key file")
	}
	c, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil || !l.Matches(c.CheckValue()) {
		t.Fatalf("Load after Create: %v", err)
	}
	if _, err := Create(p); err == nil {
		t.Fatal("Create overwrote an existing key file")
	}
}
