package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// generate checks the WSDL and its schemas (well-formed, document/literal,
// no remote schema without a local copy in schemaDir), stages them with
// every remote schemaLocation pointing at its local copy, runs gowsdl on
// the staged copy — so gowsdl never has a reason to open a connection —
// and fixes its output into dir/pkg/pkg.go.
func generate(wsdlPath, pkg, dir, schemaDir string, writeDoc bool, warn *os.File) error {
	m, err := loadModel(wsdlPath, schemaDir)
	if err != nil {
		return err
	}
	stage, err := os.MkdirTemp("", "fixgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	staged, err := stageFiles(wsdlPath, m, stage)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := runGowsdl(staged, pkg, abs); err != nil {
		return err
	}
	return run(staged, filepath.Join(dir, pkg, pkg+".go"), writeDoc, warn)
}

// stageFiles copies the WSDL and its local schemas into stage, keeping
// their relative places, and puts each remote schema's local copy next to
// the file importing it under its copy name, with the schemaLocation
// rewritten to that name. It returns the staged WSDL.
func stageFiles(wsdlPath string, m *model, stage string) (string, error) {
	base := filepath.Dir(wsdlPath)
	place := map[string]string{} // source file → staged path
	place[wsdlPath] = filepath.Join(stage, filepath.Base(wsdlPath))
	for _, f := range m.files {
		rel, err := filepath.Rel(base, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a remote copy: placed next to its importer below
		}
		place[f] = filepath.Join(stage, rel)
	}
	for from, copies := range m.remote {
		for _, c := range copies {
			if _, ok := place[c.local]; !ok {
				place[c.local] = filepath.Join(filepath.Dir(place[from]), filepath.Base(c.local))
			}
		}
	}
	for src, dst := range place {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		for _, c := range m.remote[src] {
			local, err := filepath.Rel(filepath.Dir(dst), place[c.local])
			if err != nil {
				return "", err
			}
			local = filepath.ToSlash(local)
			for _, q := range []string{`"`, `'`} {
				b = bytes.ReplaceAll(b, []byte("schemaLocation="+q+html.EscapeString(c.url)+q), []byte("schemaLocation="+q+local+q))
				b = bytes.ReplaceAll(b, []byte("schemaLocation="+q+c.url+q), []byte("schemaLocation="+q+local+q))
			}
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", err
		}
	}
	// The staged files must now be self-contained: check again, offline.
	if _, err := loadModel(place[wsdlPath], ""); err != nil {
		return "", fmt.Errorf("staging %s: %w", wsdlPath, err)
	}
	return place[wsdlPath], nil
}

// runGowsdl runs the pinned gowsdl on a staged WSDL. Its proxy settings
// point at a closed loopback port: should gowsdl ever try to fetch
// anything, it fails at once instead of reaching out.
func runGowsdl(wsdlPath, pkg, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Run from the current directory (inside the module that pins gowsdl),
	// on the staged WSDL's absolute path.
	cmd := exec.CommandContext(ctx, "go", "tool", "gowsdl", "-d", dir, "-p", pkg, "-o", pkg+".go", wsdlPath)
	cmd.Env = append(os.Environ(), "HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gowsdl could not read %s: %v\n%s\n%s", wsdlPath, err, bytes.TrimSpace(out), vendorHint)
	}
	return nil
}
