package auth

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus/store"
)

// TestSecretEncOpenedOnlyHere keeps the sealed secrets of keys behind
// SharedSecret: outside the store (which reads and writes the column) and
// the registry (which seals new secrets into it), only keymaterial.go may
// name SecretEnc, and only keymaterial.go may open it.
func TestSecretEncOpenedOnlyHere(t *testing.T) {
	root := filepath.Join("..", "..")
	mayName := []string{"bus/auth/keymaterial.go", "bus/auth/registry.go", "bus/auth/rotation.go"}
	open := regexp.MustCompile(`\.Open\([^)]*SecretEnc`)
	var opens []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "bus/store/") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "SecretEnc") {
			return nil
		}
		if !slices.Contains(mayName, rel) {
			t.Errorf("%s names SecretEnc: ask auth.SharedSecret for a shared secret instead", rel)
		}
		if open.Match(b) {
			opens = append(opens, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(opens, []string{"bus/auth/keymaterial.go"}) {
		t.Errorf("files that open SecretEnc = %v, want only bus/auth/keymaterial.go", opens)
	}
}

// TestSharedSecretRefusesPublicKeys: SharedSecret gives nothing for a key
// that is not a shared secret, whatever its fields hold, and opens the
// secret of an HMAC key.
func TestSharedSecretRefusesPublicKeys(t *testing.T) {
	v := testVault(t)
	sealed := v.Seal([]byte("pem-or-secret"), SecretAAD("K1"))
	for _, k := range []store.Key{
		{AccessKey: "K1", Alg: AlgRSASHA256, Kind: store.KeyPublic, PublicKey: []byte("pem")},
		{AccessKey: "K1", Alg: AlgRSASHA256, Kind: store.KeyPublic, SecretEnc: sealed}, // not yet moved by UpgradeKeys
		{AccessKey: "K1", Alg: AlgRSASHA256, Kind: store.KeyShared, SecretEnc: sealed}, // kind and algorithm disagree
		{AccessKey: "K1", Alg: AlgHMACSHA256, Kind: store.KeyPublic, SecretEnc: sealed},
		{AccessKey: "K1", Alg: AlgRSASHA256, SecretEnc: sealed},
		{AccessKey: "K1", Alg: "LGSP-NO-SUCH", SecretEnc: sealed},
	} {
		got, err := SharedSecret(v, k)
		wantCode(t, err, "auth.key_kind")
		if got != nil {
			t.Fatalf("SharedSecret(%+v) = %q", k, got)
		}
	}
	for _, alg := range []string{AlgHMACSHA256, AlgHMACSHA1, ""} {
		got, err := SharedSecret(v, store.Key{AccessKey: "K1", Alg: alg, Kind: store.KeyShared, SecretEnc: sealed})
		if err != nil || string(got) != "pem-or-secret" {
			t.Fatalf("SharedSecret of an %q key = %q, %v", alg, got, err)
		}
	}
}
