package test

import (
	"context"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestSystemdUnit checks configs/lgsp.service with systemd-analyze verify
// (any diagnostic fails the test: unknown keys are only warnings there) and
// asserts the hardening the install guide promises.
func TestSystemdUnit(t *testing.T) {
	sa := testenv.RequireTool(t, "systemd-analyze")
	bin := buildLGSP(t)
	unit, err := os.ReadFile("../configs/lgsp.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"User=lgsp", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"CapabilityBoundingSet=\n", "StateDirectory=lgsp", "PrivateTmp=yes",
		"ExecStart=/usr/local/bin/lgsp serve --config /etc/lgsp/lgsp.yaml",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("lgsp.service lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^LimitNOFILE=(\d+)$`).FindSubmatch(unit)
	if m == nil {
		t.Error("lgsp.service sets no LimitNOFILE")
	} else if n, _ := strconv.Atoi(string(m[1])); n < 10000+1024 {
		t.Errorf("LimitNOFILE must allow 10,000 connections plus files, got %d", n)
	}
	// verify needs ExecStart to exist: point it at the binary just built.
	dir := t.TempDir()
	local := strings.ReplaceAll(string(unit), "/usr/local/bin/lgsp", bin)
	if err := os.WriteFile(filepath.Join(dir, "lgsp.service"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "verify", "--man=no", "lgsp.service")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify lgsp.service (err %v; if it cannot run in this container, that is the reason above):\n%s", err, out)
	}
	// And a broken unit is caught, so the check above can fail.
	broken := strings.Replace(local, "ProtectSystem=strict", "ProtectSystm=strict", 1)
	if err := os.WriteFile(filepath.Join(dir, "broken.service"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(sa, "verify", "--man=no", "broken.service")
	cmd.Dir = dir
	if out, _ := cmd.CombinedOutput(); !strings.Contains(string(out), "ProtectSystm") {
		t.Fatalf("systemd-analyze did not report a misspelt key: %s", out)
	}
}

// TestContainerfile checks the container definition: built from the static
// binary alone (FROM scratch, nothing else), non-root, data volume; the
// binary has no interpreter (fully static). Then, where a container engine
// answers, builds and starts the image and waits for /readyz; where none
// does, the reason is printed and that part alone is skipped.
func TestContainerfile(t *testing.T) {
	src, err := os.ReadFile("../configs/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	user := ""
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		}
	}
	if len(froms) != 1 || froms[0] != "scratch" {
		t.Errorf("Containerfile must build FROM scratch only, has FROM %v", froms)
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("Containerfile runs as %q, want a non-root uid", user)
	}
	if !strings.Contains(string(src), `VOLUME ["/data"]`) || !strings.Contains(string(src), "LGSP_DATA_DIR=/data") {
		t.Error("Containerfile must make /data the data directory and a volume")
	}
	bin := buildLGSP(t)
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary has an ELF interpreter: not static, cannot run FROM scratch")
		}
	}
	ef.Close()

	engine, why := containerEngine()
	if engine == "" {
		t.Skipf("static checks passed; image not built: %s", why)
	}
	ctx := t.TempDir()
	for _, d := range []string{"data", "routes"} {
		if err := os.MkdirAll(filepath.Join(ctx, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyDir(t, "../routes", filepath.Join(ctx, "routes"))
	if b, err := os.ReadFile(bin); err != nil || os.WriteFile(filepath.Join(ctx, "lgsp"), b, 0o755) != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("lgsp-test:%d", time.Now().UnixNano())
	if out, err := exec.Command(engine, "build", "-f", "../configs/Containerfile", "-t", tag, ctx).CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	defer exec.Command(engine, "rmi", "-f", tag).Run()
	out, err := exec.Command(engine, "run", "-d", "-p", "127.0.0.1::8080", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("%s run: %v\n%s", engine, err, out)
	}
	id := strings.TrimSpace(string(out))
	defer exec.Command(engine, "rm", "-f", id).Run()
	port, err := exec.Command(engine, "port", id, "8080/tcp").Output()
	if err != nil {
		t.Fatalf("%s port: %v", engine, err)
	}
	addr := strings.TrimSpace(strings.Split(string(port), "\n")[0])
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("published on %q, want loopback", addr)
	}
	eventually(t, "container ready", func() (bool, error) {
		r, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, err
		}
		r.Body.Close()
		return r.StatusCode == 200, nil
	})
	if who, err := exec.Command(engine, "inspect", "-f", "{{.Config.User}}", id).Output(); err != nil || strings.TrimSpace(string(who)) != user {
		t.Fatalf("container user %q %v, want %s", who, err, user)
	}
}

// containerEngine returns docker or podman when one answers, else "" and why.
func containerEngine() (string, string) {
	var why []string
	for _, e := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(e); err != nil {
			why = append(why, e+" not installed")
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, e, "info").CombinedOutput()
		cancel()
		if err == nil {
			return e, ""
		}
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndex(last, "\n"); i >= 0 {
			last = last[i+1:]
		}
		why = append(why, fmt.Sprintf("%s info failed (%v): %s", e, err, last))
	}
	return "", "no container engine answers: " + strings.Join(why, "; ")
}
