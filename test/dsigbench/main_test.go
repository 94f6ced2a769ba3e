package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestChildrenAgree: a generated packet verifies with bus/xmldsig, and
// both streaming digests accept it (DigestDocument against the packet's
// DigestValue); a tampered packet is refused by both the verifier and the
// DigestValue check.
func TestChildrenAgree(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, []int{20 << 10}); err != nil {
		t.Fatal(err)
	}
	file := packetFile(dir, 20<<10)
	root := filepath.Join(dir, "root.pem")
	if err := verifyChild(file, root); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := streamChild(file); err != nil {
		t.Fatalf("StreamDigest: %v", err)
	}
	if err := scanChild(file); err != nil {
		t.Fatalf("DigestDocument: %v", err)
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(bad, []byte(replaceOnce(string(doc), "ký số", "ký giả")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verifyChild(bad, root); err == nil {
		t.Fatal("tampered packet verified")
	}
	if err := scanChild(bad); err == nil {
		t.Fatal("tampered packet's digest matched")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"100KB": 100 << 10, "10MB": 10 << 20, "512": 512} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0MB", "-1KB", "tenMB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("not found: " + old)
}
