package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/tuyenquang/lgsp/bus/service"
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	load := configFlag(fs)
	listen := fs.String("listen", "", "listen address (overrides config)")
	addrFile := fs.String("addr-file", "", "write the bound address to this file once listening (for scripts)")
	_ = fs.Parse(args)
	cfg, err := load()
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	s, err := service.New(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx, func(a net.Addr) {
		fmt.Fprintf(os.Stderr, "lgsp %s listening on http://%s (store %s, data %s)\n", version, a, s.Store().Dialect(), cfg.DataDir)
		if *addrFile != "" {
			_ = os.WriteFile(*addrFile, []byte(a.String()), 0o644)
		}
	})
}
