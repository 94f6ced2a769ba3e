package service

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// BackupFormat names the layout of a backup archive (a gzip'd tar):
//
//	manifest.json            BackupManifest
//	lgsp.db                  consistent SQLite snapshot (VACUUM INTO)
//	master.key               only with BackupOptions.IncludeMasterKey
//	settings/config.yaml     the config file the node runs with, if any
//	settings/routes/…        the route files
const BackupFormat = "lgsp-backup/1"

// BackupManifest describes a backup; Files maps each archived file to its
// SHA-256 (hex), checked on restore.
type BackupManifest struct {
	Format            string            `json:"format"`
	Version           string            `json:"version"`
	CreatedAt         time.Time         `json:"created_at"`
	Dialect           string            `json:"dialect"`
	Schema            int               `json:"schema"`
	KeyCheck          []byte            `json:"key_check"`
	MasterKeyIncluded bool              `json:"master_key_included"`
	Files             map[string]string `json:"files"`
}

// BackupOptions says what goes into a backup besides the database.
type BackupOptions struct {
	// ConfigFile is the node's config file ("" when it runs on defaults
	// and the environment).
	ConfigFile string
	// IncludeMasterKey puts the master key in the archive. Off by default:
	// whoever holds the archive and the key reads every stored secret.
	IncludeMasterKey bool
	// Version is the binary's version, recorded in the manifest.
	Version string
}

// maxBackupFiles bounds the entries of an archive read on restore.
const maxBackupFiles = 10000

// Backup writes a backup of the embedded store and the settings to out
// (created with mode 0600, must not exist), while the node may be running.
func Backup(ctx context.Context, c *Config, out string, o BackupOptions) (*BackupManifest, error) {
	dbPath, ok := sqlitePath(c)
	if !ok {
		return nil, errors.New("lgsp backup covers the embedded SQLite store; a MariaDB store is backed up with mariadb-dump or mariabackup (docs/operations.md, \"Backup and restore\")")
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".lgsp-backup-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, "lgsp.db")
	if err := store.SnapshotSQLite(ctx, dbPath, snap); err != nil {
		return nil, err
	}
	check, ok, err := store.SQLiteMeta(ctx, snap, store.MetaKeyCheck)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("the store has no master key check value yet: start the node once before backing it up")
	}
	st, err := store.Schema(ctx, "sqlite:"+snap)
	if err != nil {
		return nil, err
	}
	m := &BackupManifest{Format: BackupFormat, Version: o.Version, CreatedAt: time.Now().UTC(), Dialect: "sqlite",
		Schema: st.Newest(), KeyCheck: check, Files: map[string]string{}}
	files := [][2]string{{"lgsp.db", snap}} // archive name, source
	if o.IncludeMasterKey {
		v, err := loadKeyForBackup(c)
		if err != nil {
			return nil, err
		}
		if !v.Matches(check) {
			return nil, wrongKey(c)
		}
		m.MasterKeyIncluded = true
		files = append(files, [2]string{"master.key", c.MasterKeyPath()})
	}
	if o.ConfigFile != "" {
		files = append(files, [2]string{"settings/config.yaml", o.ConfigFile})
	}
	routes, err := routeFiles(c.RoutesDir)
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		files = append(files, [2]string{"settings/routes/" + r, filepath.Join(c.RoutesDir, r)})
	}
	if err := writeArchive(out, m, files); err != nil {
		return nil, err
	}
	return m, nil
}

// sqlitePath returns the SQLite file of the config, if the store is SQLite.
func sqlitePath(c *Config) (string, bool) {
	dsn := c.StoreDSN()
	if strings.HasPrefix(dsn, "mysql://") {
		return "", false
	}
	return strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:"), true
}

func loadKeyForBackup(c *Config) (*vault.Vault, error) {
	if os.Getenv("LGSP_MASTER_KEY") != "" {
		return nil, errors.New("--include-master-key copies the master key file; the key comes from LGSP_MASTER_KEY here: keep that value in your secret store instead")
	}
	return vault.Load(c.MasterKeyPath())
}

// routeFiles lists the route files (relative, slash-separated) of dir.
func routeFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipAll
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	return out, err
}

func writeArchive(out string, m *BackupManifest, files [][2]string) (err error) {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating backup file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	for _, fl := range files {
		sum, err := fileSHA256(fl[1])
		if err != nil {
			return err
		}
		m.Files[fl[0]] = sum
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := tarBytes(tw, "manifest.json", mj); err != nil {
		return err
	}
	for _, fl := range files {
		if err := tarFile(tw, fl[0], fl[1]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Sync()
}

func tarBytes(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func tarFile(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RestoreOptions says where the settings of a backup go.
type RestoreOptions struct {
	// SettingsDir receives settings/… of the archive (config.yaml,
	// routes/) for the operator to put in place; default
	// <data_dir>/restored-settings.
	SettingsDir string
}

// Restore unpacks a backup into the empty data directory of c: the
// database, the master key if the archive holds it, the settings into
// o.SettingsDir. The master key (LGSP_MASTER_KEY, the key file, or the
// archive's) must match the backup's check value (vault.wrong_master_key);
// with none, vault.master_key_missing. Nothing is left in the data
// directory when it refuses.
func Restore(ctx context.Context, c *Config, in string, o RestoreOptions) (*BackupManifest, error) {
	dbPath, ok := sqlitePath(c)
	if !ok {
		return nil, errors.New("lgsp restore fills the embedded SQLite store; a MariaDB store is restored with mariadb (docs/operations.md, \"Backup and restore\")")
	}
	if err := emptyDataDir(c); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(c.DataDir, ".lgsp-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	m, err := readArchive(in, tmp)
	if err != nil {
		return nil, err
	}
	keyFrom := ""
	if m.MasterKeyIncluded {
		keyFrom = filepath.Join(tmp, "master.key")
	}
	if err := checkRestoreKey(c, m.KeyCheck, keyFrom); err != nil {
		return nil, err
	}
	if o.SettingsDir == "" {
		o.SettingsDir = filepath.Join(c.DataDir, "restored-settings")
	}
	if _, err := os.Stat(filepath.Join(tmp, "settings")); err == nil {
		if err := os.MkdirAll(filepath.Dir(o.SettingsDir), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(tmp, "settings"), o.SettingsDir); err != nil {
			return nil, fmt.Errorf("placing the settings: %w", err)
		}
	}
	if keyFrom != "" {
		if err := os.MkdirAll(filepath.Dir(c.MasterKeyPath()), 0o700); err != nil {
			return nil, err
		}
		if err := os.Rename(keyFrom, c.MasterKeyPath()); err != nil {
			return nil, fmt.Errorf("placing the master key: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(tmp, "lgsp.db"), dbPath); err != nil {
		return nil, fmt.Errorf("placing the database: %w", err)
	}
	return m, nil
}

// emptyDataDir refuses a data directory holding anything but the master
// key file (which an operator may put there first).
func emptyDataDir(c *Config) error {
	entries, err := os.ReadDir(c.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	key, _ := filepath.Abs(c.MasterKeyPath())
	for _, e := range entries {
		p, _ := filepath.Abs(filepath.Join(c.DataDir, e.Name()))
		if p != key {
			return bus.ErrRestoreNotEmpty.New("%s holds %s", c.DataDir, e.Name())
		}
	}
	if db, _ := sqlitePath(c); db != "" {
		if _, err := os.Stat(db); err == nil {
			return bus.ErrRestoreNotEmpty.New("%s exists", db)
		}
	}
	return nil
}

// checkRestoreKey finds the master key — the archive's (fromArchive), else
// LGSP_MASTER_KEY, else the key file — and checks it against check.
func checkRestoreKey(c *Config, check []byte, fromArchive string) error {
	var v *vault.Vault
	var err error
	switch {
	case os.Getenv("LGSP_MASTER_KEY") != "" || fromArchive == "":
		v, _, err = loadMasterKey(c, false)
	default:
		if _, serr := os.Stat(c.MasterKeyPath()); serr == nil {
			return bus.ErrRestoreNotEmpty.New("the backup holds a master key and %s exists already", c.MasterKeyPath())
		}
		v, err = vault.Load(fromArchive)
	}
	if err != nil {
		return err
	}
	if !v.Matches(check) {
		return wrongKey(c)
	}
	return nil
}

// readArchive unpacks a backup into dir, accepting only the names of the
// format, each file once, and checking every file's SHA-256 against the
// manifest (which comes first).
func readArchive(in, dir string) (*BackupManifest, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return unpackBackup(f, dir)
}

func unpackBackup(r io.Reader, dir string) (*BackupManifest, error) {
	bad := func(format string, a ...any) error { return bus.ErrBackupBadArchive.New(format, a...) }
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, bad("not gzip")
	}
	tr := tar.NewReader(zr)
	var m *BackupManifest
	seen := map[string]bool{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil || n > maxBackupFiles {
			return nil, bad("unreadable tar entry %d", n+1)
		}
		if m == nil {
			if h.Name != "manifest.json" || h.Size > 1<<20 {
				return nil, bad("manifest.json must come first")
			}
			m = &BackupManifest{}
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(m); err != nil || m.Format != BackupFormat || m.Files["lgsp.db"] == "" {
				return nil, bad("manifest.json is not a %s manifest", BackupFormat)
			}
			continue
		}
		name := h.Name
		want, listed := m.Files[name]
		if !listed || seen[name] || h.Typeflag != tar.TypeReg || !safeName(name) {
			return nil, bad("unexpected entry %d", n+1)
		}
		seen[name] = true
		if err := unpackFile(tr, filepath.Join(dir, filepath.FromSlash(name)), want); err != nil {
			return nil, bad("entry %d: %v", n+1, err)
		}
	}
	if m == nil {
		return nil, bad("empty archive")
	}
	for name := range m.Files {
		if !seen[name] {
			return nil, bad("a file of the manifest is missing")
		}
	}
	if m.MasterKeyIncluded != seen["master.key"] {
		return nil, bad("master key flag and contents disagree")
	}
	return m, nil
}

// safeName accepts the archive's own names only: lgsp.db, master.key,
// settings/… without "..", absolute or empty parts.
func safeName(name string) bool {
	if name == "lgsp.db" || name == "master.key" {
		return true
	}
	rest, ok := strings.CutPrefix(name, "settings/")
	if !ok || rest == "" || path.Clean(name) != name {
		return false
	}
	for _, part := range strings.Split(rest, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func unpackFile(r io.Reader, dst, wantSHA string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != wantSHA {
		return errors.New("checksum mismatch")
	}
	return nil
}
