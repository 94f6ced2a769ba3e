package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// legacyTokenCmd is `lgsp systems legacy-token --code X --on|--off`: it lets
// a system authenticate with the VNPT-style lgspaccesstoken header (off by
// default). That header carries the secret key in every request, so switch
// it on only for a system that is migrating from such a gateway, and off
// again once it signs its requests (docs/services.md).
func legacyTokenCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("systems legacy-token", flag.ExitOnError)
	load := configFlag(fs)
	code := fs.String("code", "", "identifier code of the system")
	on := fs.Bool("on", false, "accept the lgspaccesstoken header from this system")
	off := fs.Bool("off", false, "stop accepting it (the default)")
	_ = fs.Parse(args)
	if *code == "" && fs.NArg() > 0 {
		*code = fs.Arg(0)
	}
	if *code == "" || *on == *off {
		return usageError("usage: lgsp systems legacy-token --code CODE --on|--off")
	}
	reg, au, closeFn, err := loadRegistry(ctx, load)
	if err != nil {
		return err
	}
	defer closeFn()
	st, ok := reg.Store.(interface {
		SetLegacyToken(ctx context.Context, code string, on bool, at time.Time) error
	})
	if !ok {
		return fmt.Errorf("the store cannot switch the legacy token")
	}
	kind := map[bool]string{true: "systems.legacy-token.on", false: "systems.legacy-token.off"}[*on]
	if err := au.do(ctx, kind, *code, *code, func() error { return st.SetLegacyToken(ctx, *code, *on, time.Now()) }); err != nil {
		return err
	}
	if *on {
		fmt.Printf("%s may now authenticate with the lgspaccesstoken header (weaker: the secret travels in every request); switch it off once the system signs its requests\n", *code)
	} else {
		fmt.Printf("%s may no longer use the lgspaccesstoken header\n", *code)
	}
	return nil
}
