package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/report"
	"github.com/tuyenquang/lgsp/bus/store"
)

// reportCmd prints a statistics report from the rollups (R7):
// lgsp report --from 2026-01-01 --to 2026-12-31 --by unit --format xlsx --out bao-cao.xlsx
func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	load := configFlag(fs)
	from := fs.String("from", "", "first day, yyyy-mm-dd (Asia/Ho_Chi_Minh)")
	to := fs.String("to", "", "last day, yyyy-mm-dd (default: from)")
	by := fs.String("by", "unit", "unit, system, route or type")
	every := fs.String("every", "", "split by day, month, quarter or year (default: the whole period)")
	unit := fs.String("unit", "", "only this unit's figures")
	format := fs.String("format", "table", "table, csv or xlsx")
	out := fs.String("out", "", "write to this file (xlsx needs it unless stdout is redirected)")
	_ = fs.Parse(args)
	if *to == "" {
		to = from
	}
	f, err := time.ParseInLocation("2006-01-02", *from, store.StatsZone)
	if err != nil {
		return usageError("--from must be a date yyyy-mm-dd")
	}
	t, err := time.ParseInLocation("2006-01-02", *to, store.StatsZone)
	if err != nil {
		return usageError("--to must be a date yyyy-mm-dd")
	}
	q := report.Query{From: f, To: t, By: *by, Every: *every, Unit: *unit}
	if err := q.Validate(); err != nil {
		return err
	}
	_, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := report.Build(ctx, st, q)
	if err != nil {
		return err
	}
	w := os.Stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	return report.Write(w, rep, *format)
}

// auditCmd verifies the activity log: lgsp audit verify [--json].
func auditCmd(ctx context.Context, args []string) error {
	if len(args) < 1 || args[0] != "verify" {
		return usageError("usage: lgsp audit verify [--json] [--config FILE]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ExitOnError)
	load := configFlag(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	_ = fs.Parse(args[1:])
	_, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := activity.Verify(ctx, st)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		for _, n := range rep.Nodes {
			fmt.Printf("node %s: %d entries (last %d), %d checkpoints, signed through entry %d\n", n.Node, n.Entries, n.LastSeq, n.Checkpoints, n.Signed)
		}
		for _, p := range rep.Problems {
			fmt.Println("FAIL", p)
		}
		if rep.OK() {
			fmt.Println("ok: every chain holds")
		}
	}
	if !rep.OK() {
		return errors.New("the activity log does not verify")
	}
	return nil
}
