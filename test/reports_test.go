package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// unitSystem registers a system of the given unit and returns its client.
func (n *node) unitSystem(t *testing.T, code, unit string) *rest.Client {
	t.Helper()
	ctx := context.Background()
	if _, _, err := n.svc.Registry().AddSystem(ctx, store.System{Code: code, Name: code, Unit: unit}); err != nil {
		t.Fatal(err)
	}
	ak, sk, err := n.svc.Registry().IssueKey(ctx, code, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c := &rest.Client{BaseURL: n.url, AccessKey: ak, SecretKey: sk}
	n.clients[code] = c
	return c
}

// adminGet calls the admin API and returns the status and body.
func (n *node) adminGet(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// unitActivity reads GET /v1/activity signed with c's key.
func unitActivity(t *testing.T, n *node, c *rest.Client, query string) []service.ActivityJSON {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+"/v1/activity"+query, nil)
	if err := signWith(req, c, auth.EmptySHA256); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/activity: %d %s", resp.StatusCode, b)
	}
	var out struct{ Entries []service.ActivityJSON }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Entries
}

// sendAndConfirm runs one exchange from a to the given recipients, each of
// which downloads and confirms it, and waits for its completion.
func sendAndConfirm(t *testing.T, n *node, a *rest.Client, payload []byte, to ...*rest.Client) string {
	t.Helper()
	ctx := context.Background()
	var codes []string
	for _, c := range to {
		codes = append(codes, codeOf(n, c))
	}
	sum := sha256.Sum256(payload)
	sp, err := a.Request(ctx, exchange.Request{Recipients: codes, Title: "Công văn", DataType: "edoc", MediaType: "application/octet-stream", Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadBytes(ctx, sp.ExchangeID, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
	for _, c := range to {
		eventually(t, "notified", func() (bool, error) {
			_, err := c.Ready(ctx, sp.ExchangeID)
			return err == nil, err
		})
		if _, err := c.Download(ctx, sp.ExchangeID, 0, io.Discard); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Confirm(ctx, sp.ExchangeID, "received", ""); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "exchange completed", func() (bool, error) {
		e, err := n.svc.Store().GetExchange(ctx, sp.ExchangeID)
		return err == nil && !e.PurgedAt.IsZero(), err
	})
	return sp.ExchangeID
}

func codeOf(n *node, c *rest.Client) string {
	for code, x := range n.clients {
		if x == c {
			return code
		}
	}
	return ""
}

// TestReportsAndUnitActivity: finished exchanges show in the admin report
// (JSON and XLSX); a unit reads its own systems' activity with its own key
// and nothing of another unit; admin actions are in the log; the log
// verifies.
func TestReportsAndUnitActivity(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) { testReportsAndUnitActivity(t, dialect) })
	}
}

func testReportsAndUnitActivity(t *testing.T, dialect string) {
	n := startNodeWith(t, dialect, func(c *service.Config) { c.Activity.CheckpointEvery = 5 })
	a := n.unitSystem(t, "000.00.01.H60", "Sở Nội vụ")
	b := n.unitSystem(t, "000.00.02.H60", "UBND huyện Na Hang")
	c := n.unitSystem(t, "000.00.03.H60", "UBND huyện Lâm Bình")
	n.grant(t, "exchange", "000.00.01.H60", "000.00.*.H60", "edoc")
	secret := "NOI-DUNG-MAT-" + randHex(8)
	sendAndConfirm(t, n, a, []byte(secret+" công văn"), b, c)
	sendAndConfirm(t, n, a, []byte(secret+" công văn 2"), b)

	today := time.Now().In(store.StatsZone).Format("2006-01-02")
	st, body := n.adminGet(t, "/admin/v1/reports?from="+today+"&to="+today+"&by=unit")
	if st != http.StatusOK {
		t.Fatalf("report: %d %s", st, body)
	}
	var rep struct {
		Lines []struct {
			Key                       string
			Sent, Received, Confirmed int64
		}
		Total struct{ Sent, Received, Confirmed int64 }
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string][3]int64{}
	for _, l := range rep.Lines {
		got[l.Key] = [3]int64{l.Sent, l.Received, l.Confirmed}
	}
	if got["Sở Nội vụ"] != [3]int64{3, 0, 3} || got["UBND huyện Na Hang"] != [3]int64{0, 2, 0} || got["UBND huyện Lâm Bình"] != [3]int64{0, 1, 0} || rep.Total.Sent != 3 {
		t.Fatalf("report lines = %+v", rep)
	}
	if bytes.Contains(body, []byte(secret)) {
		t.Fatal("the report quotes the payload")
	}
	st, body = n.adminGet(t, "/admin/v1/reports?from="+today+"&to="+today+"&by=system&format=xlsx")
	if st != http.StatusOK {
		t.Fatalf("xlsx report: %d", st)
	}
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("xlsx report does not open: %v", err)
	}
	rows, _ := f.GetRows("Báo cáo")
	f.Close()
	if len(rows) != 7+3+1 || rows[len(rows)-1][1] != "Tổng cộng" {
		t.Fatalf("xlsx rows = %q", rows)
	}
	if st, _ := n.adminGet(t, "/admin/v1/reports?from="+today+"&to=yesterday"); st != http.StatusBadRequest {
		t.Fatalf("bad date answered %d", st)
	}

	// M6: Na Hang reads its own activity (its system's confirmations …),
	// Lâm Bình reads its own, neither sees the other's.
	var nh []service.ActivityJSON
	eventually(t, "Na Hang's confirmations in the activity log", func() (bool, error) {
		nh = unitActivity(t, n, b, "")
		for _, e := range nh {
			if e.Kind == "exchange.confirmed" {
				return true, nil
			}
		}
		return false, nil
	})
	for _, e := range nh {
		if e.Unit != "UBND huyện Na Hang" || e.System != "000.00.02.H60" {
			t.Fatalf("Na Hang sees an entry of another unit: %+v", e)
		}
	}
	eventually(t, "Lâm Bình's confirmation", func() (bool, error) { return len(unitActivity(t, n, c, "")) > 0, nil })
	for _, e := range unitActivity(t, n, c, "?limit=1000") {
		if e.Unit != "UBND huyện Lâm Bình" {
			t.Fatalf("Lâm Bình sees an entry of another unit: %+v", e)
		}
	}
	// Unsigned and replayed reads are refused before anything is read.
	plain, _ := http.NewRequest(http.MethodGet, n.url+"/v1/activity", nil)
	if resp, err := http.DefaultClient.Do(plain); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned read: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	signed, _ := http.NewRequest(http.MethodGet, n.url+"/v1/activity", nil)
	if err := signWith(signed, b, auth.EmptySHA256); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		again, _ := http.NewRequest(http.MethodGet, n.url+"/v1/activity", nil)
		again.Header = signed.Header.Clone()
		resp, err := http.DefaultClient.Do(again)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("signed read %d: %d, want %d (%s)", i, resp.StatusCode, want, resp.Header.Get("X-LGSP-Error-Code"))
		}
	}
	// The unit's errors: only refusals of its own calls (polling Ready
	// before delivery is due is one), and a refused call shows up there.
	for _, e := range unitActivity(t, n, b, "?errors=true") {
		if e.System != "000.00.02.H60" || e.Outcome == "ok" {
			t.Fatalf("an error of Na Hang = %+v", e)
		}
	}
	if _, err := b.Status(context.Background(), "ex_does_not_exist"); err == nil {
		t.Fatal("status of a missing exchange answered")
	}
	eventually(t, "Na Hang's refused call in its errors", func() (bool, error) {
		for _, e := range unitActivity(t, n, b, "?errors=true") {
			if e.Outcome == "exchange.not_found" && e.Kind == "api.refused" && strings.Contains(e.Subject, "ex_does_not_exist") {
				return true, nil
			}
		}
		return false, nil
	})
	for _, e := range unitActivity(t, n, c, "?errors=true") {
		if e.Unit != "UBND huyện Lâm Bình" || e.Outcome == "exchange.not_found" {
			t.Fatalf("Lâm Bình sees an error not its own: %+v", e)
		}
	}

	// An admin action is recorded with its outcome.
	req, _ := http.NewRequest(http.MethodPost, n.url+"/admin/v1/systems/000.00.03.H60/suspend", nil)
	req.Header.Set("Authorization", "Bearer "+n.svc.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, "admin action in the log", func() (bool, error) {
		_, body := n.adminGet(t, "/admin/v1/activity?system=000.00.03.H60")
		return strings.Contains(string(body), `"kind":"admin.POST"`) && strings.Contains(string(body), "/suspend"), nil
	})
	// The suspended system's unit sees the admin action on its system;
	// its refused call is answered and nothing of the log leaks.
	st, body = n.adminGet(t, "/admin/v1/activity/verify")
	var ver struct {
		OK    bool
		Nodes []struct{ Entries int64 }
	}
	if err := json.Unmarshal(body, &ver); err != nil || st != http.StatusOK || !ver.OK || len(ver.Nodes) != 1 || ver.Nodes[0].Entries == 0 {
		t.Fatalf("verify: %d %s", st, body)
	}
	_, body = n.adminGet(t, "/admin/v1/activity?limit=1000")
	if bytes.Contains(body, []byte(secret)) {
		t.Fatal("the activity log quotes the payload")
	}
}

// TestReportAndAuditCLI runs the real binary on a node's store: `lgsp
// report` in each format, `lgsp audit verify` on the untouched log, then
// after an entry is edited directly in the table: exit 1, naming the entry.
func TestReportAndAuditCLI(t *testing.T) {
	bin := buildLGSP(t)
	n := startNode(t, "sqlite")
	a := n.unitSystem(t, "000.00.01.H60", "Sở Nội vụ")
	b := n.unitSystem(t, "000.00.02.H60", "UBND huyện Na Hang")
	n.grant(t, "exchange", "000.00.01.H60", "000.00.02.H60", "edoc")
	sendAndConfirm(t, n, a, []byte("công văn"), b)
	if err := n.shutdown(); err != nil { // flushes the log and signs a checkpoint
		t.Fatal(err)
	}
	env := append(os.Environ(), "LGSP_DATA_DIR="+n.dataDir)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = t.TempDir(), env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	today := time.Now().In(store.StatsZone).Format("2006-01-02")
	out, err := run("report", "--from", today, "--to", today, "--by", "unit")
	if err != nil || !strings.Contains(out, "Sở Nội vụ") || !strings.Contains(out, "Tổng cộng") {
		t.Fatalf("lgsp report: %v\n%s", err, out)
	}
	xlsx := filepath.Join(t.TempDir(), "r.xlsx")
	if out, err := run("report", "--from", today, "--by", "system", "--format", "xlsx", "--out", xlsx); err != nil {
		t.Fatalf("lgsp report xlsx: %v\n%s", err, out)
	}
	if f, err := excelize.OpenFile(xlsx); err != nil {
		t.Fatalf("xlsx does not open: %v", err)
	} else {
		f.Close()
	}
	if out, err := run("report", "--from", "2026-13-01"); err == nil {
		t.Fatalf("a bad date was accepted: %s", out)
	}
	out, err = run("audit", "verify")
	if err != nil || !strings.Contains(out, "ok: every chain holds") {
		t.Fatalf("lgsp audit verify: %v\n%s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(n.dataDir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.Exec("UPDATE activity_log SET subject = 'ex_forged' WHERE seq = 3"); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("edited %d rows; the log holds:\n%s", n, out)
	}
	out, err = run("audit", "verify")
	if err == nil || !strings.Contains(out, "entry 3: content does not match its hash (edited)") {
		t.Fatalf("lgsp audit verify after an edit: %v\n%s", err, out)
	}
}

// TestActivityTwoNodesOneMariaDB: two real nodes on one MariaDB share the
// traffic of one exchange (sent through one, confirmed through the other);
// each keeps its own chain and both verify together.
func TestActivityTwoNodesOneMariaDB(t *testing.T) {
	a := startNodeWith(t, "mysql", func(c *service.Config) { c.Node = "node-a" })
	b := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.Node = "node-b"
		c.Store = a.dsn
		c.MasterKeyFile = filepath.Join(a.dataDir, "master.key")
	})
	src := a.unitSystem(t, "000.00.01.H60", "Sở Nội vụ")
	dst := a.unitSystem(t, "000.00.02.H60", "UBND huyện Na Hang")
	a.grant(t, "exchange", "000.00.01.H60", "000.00.02.H60", "edoc")
	dst.BaseURL = b.url // the recipient goes through the other node
	b.clients["000.00.02.H60"] = dst
	sendAndConfirm(t, a, src, []byte("công văn"), dst)
	for _, n := range []*node{a, b} {
		if err := n.shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(context.Background(), a.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := activity.Verify(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Nodes) != 2 || rep.Nodes[0].Node != "node-a" || rep.Nodes[1].Node != "node-b" {
		t.Fatalf("verify: %+v", rep)
	}
	for _, nr := range rep.Nodes {
		if nr.Entries == 0 || nr.Signed != nr.LastSeq {
			t.Fatalf("node %s: %+v (every entry must be signed after shutdown)", nr.Node, nr)
		}
	}
}

// TestMetadataRetention: reports.retention_years deletes the metadata of
// exchanges finished before it (rows, ledger, rollups) and keeps the rest;
// 0 keeps everything.
func TestMetadataRetention(t *testing.T) {
	for _, years := range []int{2, 0} {
		n := startNodeWith(t, "sqlite", func(c *service.Config) { c.Reports.RetentionYears = years })
		ctx := context.Background()
		st := n.svc.Store()
		for _, x := range []struct {
			id  string
			age time.Duration
		}{{"ex_old", 3 * 365 * 24 * time.Hour}, {"ex_recent", 30 * 24 * time.Hour}} {
			at := time.Now().Add(-x.age)
			e := store.Exchange{ID: x.id, Source: "000.00.01.H60", Status: store.ExchangeRequested, MaxBytes: 10, CreatedAt: at, UpdatedAt: at,
				Recipients: []store.Recipient{{ExchangeID: x.id, Code: "000.00.02.H60", Status: store.RecipientPending}}}
			if err := st.CreateExchange(ctx, e, store.Event{Kind: "requested", At: at}); err != nil {
				t.Fatal(err)
			}
			if err := st.Purge(ctx, x.id, store.ExchangeCancelled, store.RecipientCancelled, at.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := n.svc.PruneMetadata(ctx); err != nil {
			t.Fatal(err)
		}
		_, errOld := st.GetExchange(ctx, "ex_old")
		_, errRecent := st.GetExchange(ctx, "ex_recent")
		rows, _ := st.Stats(ctx, store.StatsQuery{From: 0, To: 99999999, By: "system", DaysOnly: true})
		var sent int64
		for _, r := range rows {
			if r.Direction == store.DirOut {
				sent += r.Docs
			}
		}
		switch {
		case years > 0 && (errOld == nil || errRecent != nil || sent != 1):
			t.Fatalf("retention %d years: old %v, recent %v, rollups %+v", years, errOld, errRecent, rows)
		case years == 0 && (errOld != nil || errRecent != nil || sent != 2):
			t.Fatalf("retention off: old %v, recent %v, rollups %+v", errOld, errRecent, rows)
		}
		if evs, _ := st.Events(ctx, "ex_old"); years > 0 && len(evs) != 0 {
			t.Fatalf("ledger of a pruned exchange kept: %+v", evs)
		}
	}
}
