package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/delivery"
	"github.com/tuyenquang/lgsp/bus/store"
)

const deliveriesUsage = `usage:
  lgsp deliveries list    [--status dead|pending|done|all] [--kind K] [--target CODE] [--exchange ID] [--limit N]
  lgsp deliveries retry   (--id N | [--kind K] [--target CODE] [--exchange ID] | --all) [--limit N]
  lgsp deliveries discard (--id N | [--kind K] [--target CODE] [--exchange ID] | --all) [--limit N]`

// deliveriesCmd shows outbound deliveries and acts on dead letters: retry
// makes them pending again with a fresh attempt budget, discard deletes
// them; both are written to the ledger of their exchanges.
func deliveriesCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(deliveriesUsage)
	}
	fs := flag.NewFlagSet("deliveries "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	status := fs.String("status", store.OutboxDead, "list: dead, pending, done or all")
	id := fs.Int64("id", 0, "one delivery by its id")
	kind := fs.String("kind", "", "delivery kind (webhook, soap_push …)")
	target := fs.String("target", "", "target (system code …)")
	exch := fs.String("exchange", "", "exchange id")
	all := fs.Bool("all", false, "retry/discard: every dead letter")
	limit := fs.Int("limit", 200, "at most this many")
	_ = fs.Parse(args[1:])
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	ops := &delivery.Ops{Store: st, Actor: "cli", Node: cfg.Node}
	f := store.OutboxFilter{ID: *id, Kind: *kind, Target: *target, ExchangeID: *exch, Limit: *limit}
	var views []delivery.View
	switch args[0] {
	case "list":
		if f.Status = *status; f.Status == "all" {
			f.Status = ""
		}
		views, err = ops.List(ctx, f)
	case "retry", "discard":
		au, aerr := newCLIAudit(ctx, cfg, st, nil)
		if aerr != nil {
			return aerr
		}
		act := ops.Requeue
		if args[0] == "discard" {
			act = ops.Discard
		}
		views, err = act(ctx, f, *all)
		err = recordDeliveries(ctx, au, "deliveries."+args[0], f, views, err)
	default:
		return usageError(deliveriesUsage)
	}
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTARGET\tEXCHANGE\tSTATUS\tATTEMPTS\tFIRST\tLAST ERROR")
	for _, v := range views {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", v.ID, v.Kind, v.Target, v.ExchangeID, v.Status, v.Attempts, fmtTime(v.FirstAt), strings.ReplaceAll(v.LastError, "\n", " "))
	}
	tw.Flush()
	if args[0] != "list" {
		fmt.Printf("%d dead letter(s) %s\n", len(views), map[string]string{"retry": "requeued", "discard": "discarded"}[args[0]])
	}
	return nil
}

// recordDeliveries writes one activity entry per dead letter acted on, in
// the unit of its target (M6); a refused action is one entry naming the
// filter's id, kind and target (never an error text).
func recordDeliveries(ctx context.Context, au *cliAudit, kind string, f store.OutboxFilter, views []delivery.View, err error) error {
	if err != nil || len(views) == 0 {
		subject := fmt.Sprintf("id=%d kind=%s target=%s exchange=%s", f.ID, f.Kind, f.Target, f.ExchangeID)
		return au.done(ctx, kind, f.Target, subject, err)
	}
	var entries []activity.Entry
	for _, v := range views {
		entries = append(entries, au.entry(kind, v.Target, fmt.Sprintf("delivery %d (%s, exchange %s)", v.ID, v.Kind, v.ExchangeID), activity.OK))
	}
	return au.commit(ctx, entries...)
}
