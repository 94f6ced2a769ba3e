package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/test/testenv"
)

// TestConsoleBrowser drives the console in real headless Chromium (Debian's
// chromium, through chromedp): log in, see the overview with its chart
// drawn by the bundled Chart.js, register a system and issue a key (the
// secret shown once), see an exchange a test client sends appear with its
// ledger, retry a dead letter, download a report (the XLSX arrives and
// parses), and a unit operator who sees neither another unit's systems in
// the lists nor their pages by URL (M6). With -update it saves screenshots
// of the main pages to docs/console/*.png.
func TestConsoleBrowser(t *testing.T) {
	chromium := testenv.RequireTool(t, "chromium")
	w := newConsoleWorld(t)
	n := w.n
	shots := filepath.Join("..", "docs", "console")
	downloads := t.TempDir()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "vi-VN"), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc, html string
			_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.OuterHTML("body", &html, chromedp.ByQuery))
			t.Fatalf("%s: %v (at %s: %.1500s)", what, err, loc, html)
		}
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		if len(png) < 1000 {
			t.Fatalf("screenshot %s is empty", name)
		}
		if *update {
			if err := os.MkdirAll(shots, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	login := func(who string) {
		t.Helper()
		var who2 string
		run("log in as "+who,
			chromedp.Navigate(n.url+"/console/"),
			chromedp.WaitVisible("#login", chromedp.ByID),
			chromedp.SendKeys("#login", who, chromedp.ByID),
			chromedp.SendKeys("#password", testPassword, chromedp.ByID),
			chromedp.Click("#login-button", chromedp.ByID),
			chromedp.WaitVisible("#person", chromedp.ByID),
			chromedp.Text("#person", &who2, chromedp.ByID))
		if !strings.Contains(who2, who) {
			t.Fatalf("logged in as %q, the page says %q", who, who2)
		}
	}
	has := func(sel string) bool {
		t.Helper()
		var ok bool
		run("look for "+sel, chromedp.Evaluate(`document.querySelector(`+jsString(sel)+`) !== null`, &ok))
		return ok
	}

	// Log in; the login page itself.
	run("login page", chromedp.Navigate(n.url+"/console/login"), chromedp.WaitVisible("#login", chromedp.ByID))
	shot("login")
	login("quantri")

	// The overview, its chart drawn by the bundled Chart.js.
	var drawn string
	run("overview", chromedp.WaitVisible("#traffic-chart", chromedp.ByID),
		chromedp.Poll(`document.documentElement.dataset.chart === "drawn"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.documentElement.dataset.chart`, &drawn))
	if drawn != "drawn" || !has("#backlog-dead") {
		t.Fatalf("overview: chart %q", drawn)
	}
	shot("overview")
	run("overview on a tablet", chromedp.EmulateViewport(768, 1024), chromedp.Reload(), chromedp.WaitVisible("#traffic-chart", chromedp.ByID),
		chromedp.Poll(`document.documentElement.dataset.chart === "drawn"`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	shot("overview-tablet")
	run("back to a laptop", chromedp.EmulateViewport(1280, 900))

	// Register a system and issue its first key.
	var secret, access string
	run("register a system",
		chromedp.Navigate(n.url+"/console/systems"),
		chromedp.WaitVisible("#register-form", chromedp.ByID),
		chromedp.SendKeys("#code", "000.00.09.H60", chromedp.ByID),
		chromedp.SendKeys("#name", "Sở Tài chính", chromedp.ByID),
		chromedp.SendKeys("#unit", "Sở Tài chính", chromedp.ByID),
		chromedp.Click("#register-button", chromedp.ByID),
		chromedp.WaitVisible("#system-facts", chromedp.ByID))
	shot("systems")
	run("issue a key",
		chromedp.Click("#issue-button", chromedp.ByID),
		chromedp.WaitVisible("#issued-secret-key", chromedp.ByID),
		chromedp.Text("#issued-secret-key", &secret, chromedp.ByID),
		chromedp.Text("#issued-access-key", &access, chromedp.ByID))
	keys, err := n.svc.Registry().Keys(context.Background(), "000.00.09.H60")
	if err != nil || len(keys) != 1 || keys[0].AccessKey != strings.TrimSpace(access) || len(strings.TrimSpace(secret)) < 20 {
		t.Fatalf("issued key %q (secret %d chars); registry has %+v (%v)", access, len(secret), keys, err)
	}
	shot("system-key-issued")

	// An exchange a test client sends now appears, with its ledger.
	id := sendSmall(t, n, cwProvince, cwHealth)
	var ledger string
	run("exchange search and ledger",
		chromedp.Navigate(n.url+"/console/exchanges?system="+cwProvince),
		chromedp.WaitVisible(`a[href="/console/exchanges/`+id+`"]`, chromedp.ByQuery))
	shot("exchanges")
	run("open the exchange",
		chromedp.Click(`a[href="/console/exchanges/`+id+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#ledger", chromedp.ByID),
		chromedp.Text("#ledger", &ledger, chromedp.ByID))
	if !strings.Contains(ledger, "requested") || !strings.Contains(ledger, "accepted") {
		t.Fatalf("ledger of %s: %q", id, ledger)
	}
	shot("exchange")

	// Retry a dead letter (the first exchange's webhook).
	dead := outboxItems(t, n.svc.Store(), store.OutboxDead)
	if len(dead) == 0 {
		t.Fatal("no dead letter")
	}
	retry := "#retry-" + itoa64(dead[0].ID)
	run("deliveries", chromedp.Navigate(n.url+"/console/deliveries"), chromedp.WaitVisible(retry, chromedp.ByQuery))
	shot("deliveries")
	run("retry", chromedp.Click(retry, chromedp.ByQuery), chromedp.WaitVisible("#done", chromedp.ByID))
	eventually(t, "the retry in the ledger", func() (bool, error) {
		evs, err := n.svc.Store().Events(context.Background(), dead[0].ExchangeID)
		for _, e := range evs {
			if e.Kind == "delivery_requeued" {
				return true, nil
			}
		}
		return false, err
	})

	// Download a report: the XLSX file arrives and parses.
	today := time.Now().In(store.StatsZone).Format("2006-01-02")
	run("reports",
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		chromedp.Navigate(n.url+"/console/reports?by=system&from="+today+"&to="+today),
		chromedp.WaitVisible("#report", chromedp.ByID))
	shot("reports")
	run("download", chromedp.Click("#download-xlsx", chromedp.ByID))
	file := filepath.Join(downloads, "bao-cao-lgsp.xlsx")
	eventually(t, "the XLSX download", func() (bool, error) {
		st, err := os.Stat(file)
		return err == nil && st.Size() > 0, err
	})
	f, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatalf("the downloaded report does not parse: %v", err)
	}
	f.Close()

	// The activity log and the people pages.
	run("activity", chromedp.Navigate(n.url+"/console/activity"), chromedp.WaitVisible("#verify-button", chromedp.ByID),
		chromedp.Click("#verify-button", chromedp.ByID), chromedp.WaitVisible("#verify-result", chromedp.ByID))
	shot("activity")
	run("people", chromedp.Navigate(n.url+"/console/people"), chromedp.WaitVisible("#people", chromedp.ByID))
	shot("people")
	run("routes", chromedp.Navigate(n.url+"/console/routes"), chromedp.WaitVisible("#routes", chromedp.ByID))
	shot("routes")
	run("english", chromedp.Navigate(n.url+"/console/?lang=en"), chromedp.WaitVisible("#traffic-chart", chromedp.ByID),
		chromedp.Poll(`document.documentElement.lang === "en"`, nil, chromedp.WithPollingTimeout(5*time.Second)))
	shot("overview-en")
	run("log out", chromedp.Navigate(n.url+"/console/?lang=vi"), chromedp.WaitVisible("#person", chromedp.ByID),
		chromedp.Click(`form[action="/console/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#login", chromedp.ByID))

	// A unit operator: neither the menu nor the lists nor a URL show
	// another unit's systems.
	login("vanhanh")
	if has("#menu-people") || has("#menu-routes") {
		t.Fatal("the operator's menu offers people or routes")
	}
	var list string
	run("operator systems", chromedp.Navigate(n.url+"/console/systems"), chromedp.WaitVisible("#systems", chromedp.ByID),
		chromedp.Text("#systems", &list, chromedp.ByID))
	if !strings.Contains(list, cwHealth) || strings.Contains(list, cwSchool) || strings.Contains(list, cwProvince) {
		t.Fatalf("the operator's systems: %q", list)
	}
	var refusal string
	run("another unit's system by URL", chromedp.Navigate(n.url+"/console/systems/"+cwSchool), chromedp.WaitVisible("#error", chromedp.ByID),
		chromedp.Text("#error", &refusal, chromedp.ByID))
	if !strings.Contains(refusal, "people.forbidden") {
		t.Fatalf("refusal: %q", refusal)
	}
	shot("operator-refused")
	run("another unit's exchange by URL", chromedp.Navigate(n.url+"/console/exchanges/"+w.toSchool), chromedp.WaitVisible("#error", chromedp.ByID),
		chromedp.Text("#error", &refusal, chromedp.ByID))
	if !strings.Contains(refusal, "people.forbidden") {
		t.Fatalf("refusal: %q", refusal)
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
