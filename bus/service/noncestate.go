package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/auth"
)

// nonceStateFile is where a node with its replay cache in memory (one node
// on SQLite, auth.nonces: memory) leaves the cache at a clean stop, in its
// data directory; nonceRunningFile marks a node that runs with such a
// cache, and is removed by the clean stop that saves it.
const (
	nonceStateFile   = "nonces.state"
	nonceRunningFile = "nonces.running"
)

// loadNonceState gives mem the nonces a clean stop saved and removes the
// file, so that a later unclean stop cannot bring back a state older than
// what it lost. It returns the time before which signed requests must be
// refused: zero after a clean stop or on a first start; after an unclean
// stop (kill -9, power loss, a torn state file) the start itself, to the
// second, since the nonces accepted before it are lost and a captured
// request signed before it could otherwise be replayed within the skew.
func loadNonceState(mem *auth.MemoryNonces, dir string, now time.Time, log *logrus.Logger) (time.Time, error) {
	l := log.WithField("component", "auth")
	notBefore := time.Unix(now.Unix(), 0)
	path := filepath.Join(dir, nonceStateFile)
	running := filepath.Join(dir, nonceRunningFile)
	_, rerr := os.Stat(running)
	unclean := rerr == nil
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !unclean {
			notBefore = time.Time{} // first start with this data directory
		} else {
			l.Warn("the last stop was not clean (its replay cache was not saved): requests signed before this start are refused")
		}
	case err != nil:
		return time.Time{}, fmt.Errorf("replay cache: %w", err)
	default:
		n, lerr := mem.Load(f, now)
		f.Close()
		if err := os.Remove(path); err != nil {
			return time.Time{}, fmt.Errorf("replay cache: removing %s after loading it: %w", path, err)
		}
		if lerr != nil {
			l.WithError(lerr).Warn("the saved replay cache is not whole: requests signed before this start are refused")
		} else {
			l.WithField("nonces", n).Info("replay cache of the last clean stop loaded")
			notBefore = time.Time{}
		}
	}
	if err := writeSynced(running, nil); err != nil {
		return time.Time{}, fmt.Errorf("replay cache: %w", err)
	}
	return notBefore, nil
}

// saveNonceState writes mem's live nonces for the next start and closes
// mem (no nonce is accepted after the state was taken), then removes the
// running mark: the next start knows this stop was clean.
func saveNonceState(mem *auth.MemoryNonces, dir string, now time.Time) error {
	var b bytes.Buffer
	if err := mem.Save(&b, now); err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, nonceStateFile), b.Bytes()); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, nonceRunningFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// writeSynced writes data to path through a temporary file synced and
// renamed, then syncs the directory.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
