package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// sealedSamples is how many sealed values of each kind are tried when a
// store from before the key check value is opened.
const sealedSamples = 3

// OpenVault loads the master key from LGSP_MASTER_KEY or the key file and
// checks it against the store, so that a node (or a CLI command) never runs
// on the wrong key:
//
//   - the store has a key check value: the key must match it
//     (vault.wrong_master_key), and a missing key file is
//     vault.master_key_missing — a new key is never created then;
//   - no check value but sealed data (a store from before the check):
//     the key must open one of the sealed values, then its check value is
//     written; a missing key file is vault.master_key_missing;
//   - an empty store: the key file is created if missing, and its check
//     value written.
//
// Nodes sharing one MariaDB agree through the store: the first check value
// written wins, and a node starting with another key is refused.
func OpenVault(ctx context.Context, c *Config, st store.MetaStore, log logrus.FieldLogger) (*vault.Vault, error) {
	check, hasCheck, err := st.GetMeta(ctx, store.MetaKeyCheck)
	if err != nil {
		return nil, err
	}
	var samples []store.SealedSample
	if !hasCheck {
		if samples, err = st.SealedSamples(ctx, sealedSamples); err != nil {
			return nil, err
		}
	}
	fresh := !hasCheck && len(samples) == 0
	v, created, err := loadMasterKey(c, fresh)
	if err != nil {
		return nil, err
	}
	undo := func() {
		if created {
			_ = os.Remove(c.MasterKeyPath())
		}
	}
	switch {
	case hasCheck && !v.Matches(check):
		return nil, wrongKey(c)
	case !hasCheck && len(samples) > 0 && !opensAny(v, samples):
		return nil, wrongKey(c)
	case !hasCheck:
		got, err := st.InitMeta(ctx, store.MetaKeyCheck, v.CheckValue())
		if err != nil {
			undo()
			return nil, fmt.Errorf("recording the master key check value: %w", err)
		}
		if !v.Matches(got) { // another node wrote its key's check first
			undo()
			return nil, wrongKey(c)
		}
	}
	if created && log != nil {
		log.WithField("file", c.MasterKeyPath()).Warn("created a new master key: back it up now (see README, \"Backing up the master key\"); without it stored secrets and payloads cannot be read")
	}
	return v, nil
}

// loadMasterKey reads the key from LGSP_MASTER_KEY or the key file, and
// creates the file only when mayCreate (the store holds nothing sealed).
func loadMasterKey(c *Config, mayCreate bool) (v *vault.Vault, created bool, err error) {
	if k := os.Getenv("LGSP_MASTER_KEY"); k != "" {
		key, err := vault.ParseKey(k)
		if err != nil {
			return nil, false, fmt.Errorf("LGSP_MASTER_KEY: %w", err)
		}
		v, err := vault.New(key)
		return v, false, err
	}
	path := c.MasterKeyPath()
	v, err = vault.Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return v, false, err
	}
	if !mayCreate {
		return nil, false, bus.ErrMasterKeyMissing.New("%s does not exist and the store already holds data sealed by a master key", path)
	}
	v, err = vault.Create(path)
	return v, err == nil, err
}

func wrongKey(c *Config) error {
	src := "master key file " + c.MasterKeyPath()
	if os.Getenv("LGSP_MASTER_KEY") != "" {
		src = "LGSP_MASTER_KEY"
	}
	return bus.ErrWrongMasterKey.New("%s is not the key this store was sealed with", src)
}

// opensAny reports whether the key opens one of the sealed samples; with a
// wrong key AES-GCM opens none.
func opensAny(v *vault.Vault, samples []store.SealedSample) bool {
	for _, s := range samples {
		var err error
		switch s.Kind {
		case store.SealedKeySecret:
			_, err = v.Open(s.Sealed, auth.SecretAAD(s.ID))
		case store.SealedWrappedKey:
			_, err = v.UnwrapDataKey(s.ID, s.Sealed)
		default:
			continue
		}
		if err == nil {
			return true
		}
	}
	return false
}
