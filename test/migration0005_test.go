package test

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// preKeyKinds builds a database as it was before migration 0005: the
// migrations 0001–0004 of dialect, recorded as applied.
func preKeyKinds(t *testing.T, db *sql.DB, dialect string) {
	t.Helper()
	ddl := map[string]string{
		"sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
		"mysql":  "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL) ENGINE=InnoDB",
	}[dialect]
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "bus", "store", "migrations", dialect, "000[1-4]_*.sql"))
	if len(files) != 4 {
		t.Fatalf("migrations 0001–0004 of %s: %v", dialect, files)
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur strings.Builder
		for line := range strings.SplitSeq(string(b), "\n") {
			if l := strings.TrimSpace(line); l == "" || strings.HasPrefix(l, "--") {
				continue
			}
			cur.WriteString(line + "\n")
			if strings.HasSuffix(strings.TrimSpace(line), ";") {
				if _, err := db.Exec(strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				cur.Reset()
			}
		}
		if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", i+1); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigration0005KeyKindsSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lgsp.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testMigration0005(t, db, "sqlite", func() (store.Store, error) { return store.OpenSQLite(context.Background(), path) })
}

func TestMigration0005KeyKindsMariaDB(t *testing.T) {
	dsn, db := freshMySQL(t)
	testMigration0005(t, db, "mysql", func() (store.Store, error) {
		return store.OpenMySQL(context.Background(), strings.TrimPrefix(dsn, "mysql://"))
	})
}

// testMigration0005: an RSA key registered before 0005 (its public key
// sealed in secret_enc) becomes a key of kind public, its public key moved
// by auth.UpgradeKeys; it keeps verifying signatures and never yields a
// secret. HMAC keys become kind shared and keep their sealed secret.
func testMigration0005(t *testing.T, db *sql.DB, dialect string, open func() (store.Store, error)) {
	ctx := context.Background()
	preKeyKinds(t, db, dialect)
	v, err := vault.New(make([]byte, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join("..", "bus", "auth", "testdata", "rsa-example.pub"))
	if err != nil {
		t.Fatal(err)
	}
	rk, err := auth.ParseRSAPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ak := auth.RSAAccessKey(rk)
	const code = "000.00.31.H60"
	ins := []struct {
		q    string
		args []any
	}{
		{"INSERT INTO systems (code, name, unit, contact, status, webhook_url, created_at, updated_at, algs) VALUES (?, 'RSA', '', '', 'active', '', 0, 0, ?)", []any{code, auth.AlgHMACSHA256 + "," + auth.AlgRSASHA256}},
		{"INSERT INTO access_keys (access_key, system_code, alg, secret_enc, status, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, 'active', 0, 0, 0)", []any{ak, code, auth.AlgRSASHA256, v.Seal(pub, auth.SecretAAD(ak))}},
		{"INSERT INTO access_keys (access_key, system_code, alg, secret_enc, status, created_at, expires_at, revoked_at) VALUES ('AKOLDHMAC', ?, ?, ?, 'active', 1, 0, 0)", []any{code, auth.AlgHMACSHA256, v.Seal([]byte("s3cret"), auth.SecretAAD("AKOLDHMAC"))}},
	}
	for _, in := range ins {
		if _, err := db.Exec(in.q, in.args...); err != nil {
			t.Fatal(err)
		}
	}
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.GetKey(ctx, ak)
	if err != nil || k.Kind != store.KeyPublic || len(k.PublicKey) != 0 || len(k.SecretEnc) == 0 {
		t.Fatalf("RSA key after migration: %+v %v", k, err)
	}
	_, err = auth.SharedSecret(v, k)
	wantCode(t, err, "auth.key_kind")
	h, err := st.GetKey(ctx, "AKOLDHMAC")
	if err != nil || h.Kind != store.KeyShared {
		t.Fatalf("HMAC key after migration: %+v %v", h, err)
	}
	if s, err := auth.SharedSecret(v, h); err != nil || string(s) != "s3cret" {
		t.Fatalf("HMAC secret after migration: %q %v", s, err)
	}

	if n, err := auth.UpgradeKeys(ctx, st, v); err != nil || n != 1 {
		t.Fatalf("UpgradeKeys = %d, %v", n, err)
	}
	if n, err := auth.UpgradeKeys(ctx, st, v); err != nil || n != 0 {
		t.Fatalf("UpgradeKeys again = %d, %v", n, err)
	}
	k, _ = st.GetKey(ctx, ak)
	if k.Kind != store.KeyPublic || len(k.SecretEnc) != 0 || !strings.Contains(string(k.PublicKey), "BEGIN PUBLIC KEY") {
		t.Fatalf("RSA key after UpgradeKeys: %+v", k)
	}

	// The key keeps working for what it is for: RSA signatures.
	priv, err := os.ReadFile(filepath.Join("..", "bus", "auth", "testdata", "rsa-example.key"))
	if err != nil {
		t.Fatal(err)
	}
	ver := &auth.Verifier{Keys: st, Vault: v, Nonces: auth.NewMemoryNonces(16)}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/v1/inbox", nil)
	if err := auth.SignWith(auth.AlgRSASHA256, req, ak, priv, auth.EmptySHA256, time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if p, err := ver.Verify(req); err != nil || p.SystemCode != code {
		t.Fatalf("RSA signature after migration: %+v %v", p, err)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://127.0.0.1/v1/inbox", nil)
	if err := auth.SignWith(auth.AlgHMACSHA256, req, ak, pub, auth.EmptySHA256, time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	_, err = ver.Verify(req)
	wantCode(t, err, "auth.key_kind")
}
