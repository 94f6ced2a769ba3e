package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/tuyenquang/lgsp/bus/auth"
)

const speaksForUsage = `usage:
  lgsp systems speaks-for add    --system CODE --organ CODE
  lgsp systems speaks-for remove --system CODE --organ CODE
  lgsp systems speaks-for list   [--system CODE]`

// speaksForCmd manages the organs a system may name as the sender
// (From/OrganId) of its edXML packets and status packets besides its own
// code: a QLVB server that serves several units, a gateway. None by
// default; every change is in the key audit record (lgsp keys history).
func speaksForCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(speaksForUsage)
	}
	fs := flag.NewFlagSet("systems speaks-for "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	system := fs.String("system", "", "identifier code of the system")
	organ := fs.String("organ", "", "add, remove: identifier code of the organ it speaks for")
	_ = fs.Parse(args[1:])
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	sf := &auth.SpeaksFor{Store: st}
	var au *cliAudit
	if args[0] != "list" {
		if au, err = newCLIAudit(ctx, cfg, st, nil); err != nil {
			return err
		}
	}
	switch args[0] {
	case "add":
		o, err := sf.Add(ctx, *system, *organ)
		if err = au.done(ctx, "systems.speaks-for.add", *system, *organ, err); err != nil {
			return err
		}
		fmt.Printf("%s may send and report status as %s (listed %s by %s)\n", o.System, o.Organ, fmtTime(o.CreatedAt), o.CreatedBy)
	case "remove":
		if err := au.do(ctx, "systems.speaks-for.remove", *system, *organ, func() error { return sf.Remove(ctx, *system, *organ) }); err != nil {
			return err
		}
		fmt.Printf("%s no longer speaks for %s: its packets naming %s are refused from now on\n", *system, *organ, *organ)
	case "list":
		list, err := sf.List(ctx, *system)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "SYSTEM\tORGAN\tLISTED\tBY")
		for _, o := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.System, o.Organ, fmtTime(o.CreatedAt), o.CreatedBy)
		}
		tw.Flush()
	default:
		return usageError(speaksForUsage)
	}
	return nil
}
