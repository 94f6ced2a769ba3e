package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// TestCLIActivitySQLite: admin actions made with the CLI (registry, keys,
// grants, refused ones too) are in the activity log on a chain of their
// own, beside a running node's; lgsp audit verify checks both, and fails at
// the CLI entry edited in the table; a unit reads the CLI actions on its
// own systems through /v1/activity and nothing of another unit's (issue 11,
// M5, M6).
func TestCLIActivitySQLite(t *testing.T) { testCLIActivity(t, "sqlite") }

// TestCLIActivityMariaDB is TestCLIActivitySQLite on MariaDB.
func TestCLIActivityMariaDB(t *testing.T) { testCLIActivity(t, "mysql") }

func testCLIActivity(t *testing.T, dialect string) {
	bin := buildLGSP(t)
	n := startNodeWith(t, dialect, nil)
	noiVu := n.unitSystem(t, "000.00.01.H60", "Sở Nội vụ")
	naHang := n.unitSystem(t, "000.00.02.H60", "UBND huyện Na Hang")
	env := append(os.Environ(), "LGSP_DATA_DIR="+n.dataDir, "USER=vanthu", "LOGNAME=vanthu")
	if dialect == "mysql" {
		env = append(env, "LGSP_STORE="+n.dsn)
	}
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = t.TempDir(), env
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("lgsp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// Changes made with the CLI while the node runs.
	run(true, "systems", "add", "--code", "000.00.11.H60", "--name", "QLVB So Noi vu", "--unit", "Sở Nội vụ")
	run(true, "systems", "add", "--code", "000.00.22.H60", "--name", "QLVB Na Hang", "--unit", "UBND huyện Na Hang")
	credFile := filepath.Join(t.TempDir(), "cred.json")
	run(true, "keys", "issue", "--system", "000.00.11.H60", "--out", credFile)
	var cred struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}
	if b, err := os.ReadFile(credFile); err != nil || json.Unmarshal(b, &cred) != nil || cred.SecretKey == "" {
		t.Fatalf("credentials file: %v %+v", err, cred)
	}
	out := run(true, "grants", "add", "--kind", "exchange", "--source", "000.00.11.H60", "--to", "000.00.22.H60", "--data-type", "edoc")
	grantID := strings.Fields(out)[0]
	run(true, "keys", "revoke", cred.AccessKey)
	run(true, "systems", "suspend", "000.00.22.H60")
	run(true, "grants", "revoke", grantID)
	// … and one through the node's admin API, on the node's own chain.
	req, _ := http.NewRequest(http.MethodPost, n.url+"/admin/v1/systems/000.00.22.H60/resume", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("admin resume: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	run(false, "systems", "suspend", "000.00.99.H60") // refused: no such system, recorded with its code
	// A route reload by SIGHUP (the node runs in this process and
	// catches it) is recorded on the node's chain.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the SIGHUP route reload in the activity log", func() (bool, error) {
		_, b := n.adminGet(t, "/admin/v1/activity?limit=1000")
		return strings.Contains(string(b), `"admin.signal.routes.reload"`), nil
	})

	// What the node's admin API shows: every action, who made it, never a secret.
	_, body := n.adminGet(t, "/admin/v1/activity?limit=1000")
	var all struct{ Entries []map[string]any }
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	chain, operator := "cli-"+host, "cli:vanthu@"+host
	kinds := map[string]string{}
	for _, e := range all.Entries {
		if e["node"] == chain {
			if e["actor"] != operator {
				t.Errorf("CLI entry with actor %v, want %s", e["actor"], operator)
			}
			kinds[e["kind"].(string)+" "+str(e["system"])] = e["outcome"].(string)
		}
	}
	for k, want := range map[string]string{
		"admin.cli.systems.add 000.00.11.H60":     "ok",
		"admin.cli.systems.add 000.00.22.H60":     "ok",
		"admin.cli.keys.issue 000.00.11.H60":      "ok",
		"admin.cli.grants.add 000.00.11.H60":      "ok",
		"admin.cli.keys.revoke 000.00.11.H60":     "ok",
		"admin.cli.systems.suspend 000.00.22.H60": "ok",
		"admin.cli.grants.revoke 000.00.11.H60":   "ok",
		"admin.cli.systems.suspend 000.00.99.H60": "error:registry.system_not_found",
	} {
		if got, ok := kinds[k]; !ok || got != want {
			t.Errorf("CLI entry %q: outcome %q (present %v), want %q; CLI entries: %v", k, got, ok, want, kinds)
		}
	}
	if strings.Contains(string(body), cred.SecretKey) {
		t.Fatal("the activity log holds a secret key")
	}

	// M6: each unit sees the CLI actions on its own systems, nothing of the other's.
	for _, c := range []struct {
		name      string
		own, othr string
	}{
		{"Sở Nội vụ", "000.00.11.H60", "000.00.22.H60"},
		{"UBND huyện Na Hang", "000.00.22.H60", "000.00.11.H60"},
	} {
		reader := noiVu
		if c.own == "000.00.22.H60" {
			reader = naHang
		}
		seen := 0
		for _, e := range unitActivity(t, n, reader, "?limit=1000") {
			if e.Unit != c.name {
				t.Errorf("%s reads an entry of unit %q: %+v", c.name, e.Unit, e)
			}
			if e.System == c.othr {
				t.Errorf("%s reads an entry of %s: %+v", c.name, c.othr, e)
			}
			if e.Node == chain && e.System == c.own {
				seen++
			}
		}
		if seen < 2 {
			t.Errorf("%s reads %d CLI entries on %s, want at least 2", c.name, seen, c.own)
		}
	}

	// lgsp audit verify checks the node's chain and the CLI's together.
	if err := n.shutdown(); err != nil {
		t.Fatal(err)
	}
	out = run(true, "audit", "verify")
	if !strings.Contains(out, "node "+chain+": 8 entries (last 8), 8 checkpoints, signed through entry 8") ||
		!strings.Contains(out, "node test-node:") || !strings.Contains(out, "ok: every chain holds") {
		t.Fatalf("lgsp audit verify:\n%s", out)
	}
	var db *sql.DB
	var err error
	if dialect == "mysql" {
		db, err = sql.Open("mysql", strings.TrimPrefix(n.dsn, "mysql://"))
	} else {
		db, err = sql.Open("sqlite", filepath.Join(n.dataDir, "lgsp.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec("UPDATE activity_log SET outcome = 'ok' WHERE node = ? AND seq = 8", chain); err != nil {
		t.Fatal(err)
	} else if k, _ := res.RowsAffected(); k != 1 {
		t.Fatalf("edited %d rows", k)
	}
	out = run(false, "audit", "verify")
	if !strings.Contains(out, "FAIL node "+chain+", entry 8: content does not match its hash (edited)") {
		t.Fatalf("lgsp audit verify after an edit of a CLI entry:\n%s", out)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestCLIActivityDeadLetters: lgsp deliveries retry|discard writes one
// entry per dead letter acted on, in the unit of its target (M5, M6).
func TestCLIActivityDeadLetters(t *testing.T) {
	bin := buildLGSP(t)
	n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Webhooks.AllowCIDRs = []string{"127.0.0.0/8"} })
	recv := newKeyCounter(0)
	recv.code.Store(http.StatusBadRequest)
	hook := httptest.NewServer(recv)
	defer hook.Close()
	n.unitSystem(t, "000.00.00.H60", "UBND tỉnh")
	yTe := n.unitSystem(t, "000.00.07.H60", "Sở Y tế")
	if _, err := n.svc.Registry().SetWebhook(context.Background(), "000.00.07.H60", hook.URL); err != nil {
		t.Fatal(err)
	}
	id1 := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	id2 := sendSmall(t, n, "000.00.00.H60", "000.00.07.H60")
	eventually(t, "two dead letters", func() (bool, error) {
		return len(outboxItems(t, n.svc.Store(), store.OutboxDead)) == 2, nil
	})
	cmd := exec.Command(bin, "deliveries", "discard", "--target", "000.00.07.H60")
	cmd.Dir, cmd.Env = t.TempDir(), append(os.Environ(), "LGSP_DATA_DIR="+n.dataDir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "2 dead letter(s) discarded") {
		t.Fatalf("lgsp deliveries discard: %v\n%s", err, out)
	}
	host, _ := os.Hostname()
	got := map[string]bool{}
	for _, e := range unitActivity(t, n, yTe, "?limit=1000") {
		if e.Node == "cli-"+host && e.Kind == "admin.cli.deliveries.discard" && e.System == "000.00.07.H60" && e.Unit == "Sở Y tế" {
			for _, id := range []string{id1, id2} {
				if strings.Contains(e.Subject, id) {
					got[id] = true
				}
			}
		}
	}
	if !got[id1] || !got[id2] {
		t.Fatalf("Sở Y tế does not read the discard of both dead letters: %v", got)
	}
}
