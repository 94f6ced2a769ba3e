package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
)

func routesCmd(args []string) error {
	if len(args) == 0 || (args[0] != "lint" && args[0] != "test") {
		return usageError("usage: lgsp routes lint|test [--dir routes]")
	}
	fs := flag.NewFlagSet("routes "+args[0], flag.ExitOnError)
	dir := fs.String("dir", "routes", "folder of route files")
	_ = fs.Parse(args[1:])
	set, err := service.LoadRoutes(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return fmt.Errorf("route files have problems; the running routes (if any) stay in force")
	}
	if args[0] == "lint" {
		fmt.Printf("%d routes OK\n", len(set.Routes()))
		if n := len(set.Services()); n > 0 {
			fmt.Printf("%d services OK\n", n)
		}
		return nil
	}
	results := route.RunTests(set, *dir)
	failed := 0
	for _, r := range results {
		mark := "ok  "
		if !r.Pass {
			mark = "FAIL"
			failed++
		}
		fmt.Printf("%s %s:%d %s / %s", mark, r.File, r.Line, r.Route, r.Name)
		if r.Msg != "" {
			fmt.Printf(": %s", r.Msg)
		}
		fmt.Println()
	}
	fmt.Printf("%d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d route tests failed", failed)
	}
	return nil
}
