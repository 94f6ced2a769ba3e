package test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIClientCert runs `lgsp systems client-cert add|list|remove` with
// the real binary: a binding by certificate (fingerprint) and one by CA
// and subject are added, listed and audited in the key history; removing
// one leaves the other; ambiguous input, an unknown system and an unknown
// binding are refused with their codes and a non-zero exit, changing
// nothing.
func TestCLIClientCert(t *testing.T) {
	bin := buildLGSP(t)
	work := t.TempDir()
	pki := newPKI(t, "CA tỉnh Tuyên Quang")
	certFile, _, cert := pki.issue(t, "qlvb", "qlvb.tuyenquang.gov.vn", false)
	fp := sha256.Sum256(cert.Certificate[0])
	fingerprint := hex.EncodeToString(fp[:])
	lgsp := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "LGSP_CONFIG=", "LGSP_DATA_DIR=data")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("lgsp %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := lgsp(args...)
		if code != 0 {
			t.Fatalf("lgsp %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	refused := func(code string, args ...string) {
		t.Helper()
		out, exit := lgsp(args...)
		if exit == 0 || !strings.Contains(out, code) {
			t.Fatalf("lgsp %s: exit %d, want a refusal %s\n%s", strings.Join(args, " "), exit, code, out)
		}
	}
	const sys = "000.00.01.H60"
	must("systems", "add", "--code", sys, "--name", "Hệ thống QLVB")
	id := regexp.MustCompile(`cc_[A-Za-z0-9_-]+`)

	out := must("systems", "client-cert", "add", "--code", sys, "--cert", certFile, "--description", "QLVB 2025")
	byCert := id.FindString(out)
	if byCert == "" {
		t.Fatalf("add --cert printed no binding id:\n%s", out)
	}
	out = must("systems", "client-cert", "add", "--code", sys, "--ca", pki.caFile, "--subject", "CN=qlvb.tuyenquang.gov.vn,O=Sở Nội vụ,C=VN")
	byCA := id.FindString(out)
	if byCA == "" || byCA == byCert {
		t.Fatalf("add --ca printed binding %q (the first was %q):\n%s", byCA, byCert, out)
	}
	// Adding the same binding again returns the one in force.
	if again := id.FindString(must("systems", "client-cert", "add", "--code", sys, "--cert", certFile)); again != byCert {
		t.Fatalf("adding the same certificate again gave %q, want %q", again, byCert)
	}

	list := must("systems", "client-cert", "list", "--code", sys)
	if !strings.Contains(list, byCert) || !strings.Contains(strings.ToLower(list), fingerprint) || !strings.Contains(list, "QLVB 2025") ||
		!strings.Contains(list, byCA) || !strings.Contains(list, "yes") || strings.Count(list, "cc_") != 2 {
		t.Fatalf("list after two adds:\n%s", list)
	}

	// Refusals, each with its code; nothing changes.
	refused("request.invalid", "systems", "client-cert", "add", "--code", sys, "--cert", certFile, "--sha256", fingerprint)
	refused("request.invalid", "systems", "client-cert", "add", "--code", sys, "--subject", "CN=x")
	refused("registry.system_not_found", "systems", "client-cert", "add", "--code", "000.00.99.H60", "--cert", certFile)
	refused("request.not_found", "systems", "client-cert", "remove", "--code", sys, "--id", "cc_khongco")
	if again := must("systems", "client-cert", "list", "--code", sys); again != list {
		t.Fatalf("refusals changed the bindings:\n%s\nwas\n%s", again, list)
	}

	out = must("systems", "client-cert", "remove", "--code", sys, "--id", byCert)
	if !strings.Contains(out, byCert) {
		t.Fatalf("remove:\n%s", out)
	}
	list = must("systems", "client-cert", "list", "--code", sys)
	if strings.Contains(list, byCert) || !strings.Contains(list, byCA) {
		t.Fatalf("list after removing %s:\n%s", byCert, list)
	}

	// Every change is in the key history, by the CLI.
	hist := must("keys", "history", "--system", sys)
	if strings.Count(hist, "client_cert") != 3 || !strings.Contains(hist, "cli:") || !strings.Contains(hist, "unbound") {
		t.Fatalf("keys history (want 2 bound + 1 unbound client_cert events by cli:):\n%s", hist)
	}
	if _, err := os.Stat(filepath.Join(work, "data", "lgsp.db")); err != nil {
		t.Fatalf("the CLI did not use LGSP_DATA_DIR: %v", err)
	}
}
