package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
)

const grantsUsage = `usage:
  lgsp grants add --kind exchange --source CODE|PATTERN --to CODE|PATTERN --data-type TYPE|*
  lgsp grants add --kind service  --source CODE|PATTERN --service NAME|* --scope SCOPE|*
  lgsp grants list [--source CODE|PATTERN] [--kind K] [--all]
  lgsp grants revoke ID`

// grantsCmd manages grants: who may send what to whom and call which
// service (M1, M2, Art. 8). Without a grant, everything is refused.
func grantsCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(grantsUsage)
	}
	fs := flag.NewFlagSet("grants "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	kind := fs.String("kind", "", "exchange or service")
	source := fs.String("source", "", "identifier code or pattern (*, ?) of the source system")
	to := fs.String("to", "", "exchange: identifier code or pattern of the destination")
	dataType := fs.String("data-type", "", "exchange: data type, or * for any")
	svc := fs.String("service", "", "service: name of the service, or * for any")
	scope := fs.String("scope", "", "service: scope, or * for any")
	all := fs.Bool("all", false, "list: include revoked grants")
	_ = fs.Parse(args[1:])
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	g := &auth.Grants{Store: st}
	var au *cliAudit
	if args[0] != "list" {
		if au, err = newCLIAudit(ctx, cfg, st, nil); err != nil {
			return err
		}
	}
	switch args[0] {
	case "add":
		gr, err := g.Add(ctx, store.Grant{Kind: *kind, Source: *source, Destination: *to, DataType: *dataType, Service: *svc, Scope: *scope})
		if err = au.done(ctx, "grants.add", *source, gr.ID, err); err != nil {
			return err
		}
		fmt.Printf("%s %s\n", gr.ID, describeGrant(gr))
	case "list":
		list, err := g.List(ctx, store.GrantFilter{Kind: *kind, Source: *source, Revoked: *all})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSOURCE\tTO / SERVICE\tDATA TYPE / SCOPE\tCREATED\tBY\tREVOKED")
		for _, x := range list {
			target, what := x.Destination, x.DataType
			if x.Kind == store.GrantService {
				target, what = x.Service, x.Scope
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Kind, x.Source, target, what, fmtTime(x.CreatedAt), x.CreatedBy, fmtTime(x.RevokedAt))
		}
		tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError("usage: lgsp grants revoke ID")
		}
		if err := au.do(ctx, "grants.revoke", grantSource(ctx, st, fs.Arg(0)), fs.Arg(0), func() error { return g.Revoke(ctx, fs.Arg(0)) }); err != nil {
			return err
		}
		fmt.Printf("%s revoked: what it allowed is refused from now on\n", fs.Arg(0))
	default:
		return usageError(grantsUsage)
	}
	return nil
}

// grantSource is the source of a grant, for the activity entry of its
// revocation ("" when there is no such grant).
func grantSource(ctx context.Context, st store.Store, id string) string {
	list, err := st.ListGrants(ctx, store.GrantFilter{Revoked: true})
	if err != nil {
		return ""
	}
	for _, g := range list {
		if g.ID == id {
			return g.Source
		}
	}
	return ""
}

func describeGrant(g store.Grant) string {
	if g.Kind == store.GrantService {
		return fmt.Sprintf("service: %s may call %s with scope %s", g.Source, g.Service, g.Scope)
	}
	return fmt.Sprintf("exchange: %s may send %s to %s", g.Source, g.DataType, g.Destination)
}
