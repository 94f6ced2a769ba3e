package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// backupCmd: lgsp backup --out FILE [--include-master-key].
func backupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ExitOnError)
	load := configFlag(fs)
	out := fs.String("out", "", "backup file to write (must not exist)")
	withKey := fs.Bool("include-master-key", false, "also put the master key in the file (off: keep the key apart from its backups)")
	_ = fs.Parse(args)
	if *out == "" {
		return usageError("usage: lgsp backup --out FILE [--include-master-key] [--config FILE]")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	m, err := service.Backup(ctx, &cfg, *out, service.BackupOptions{ConfigFile: fs.Lookup("config").Value.String(), IncludeMasterKey: *withKey, Version: version})
	if err != nil {
		return err
	}
	fmt.Printf("backup %s: schema %04d, %d files, master key %s\n", *out, m.Schema, len(m.Files), keyPlace(m.MasterKeyIncluded))
	return nil
}

func keyPlace(included bool) string {
	if included {
		return "INCLUDED (guard this file like the key itself)"
	}
	return "not included (keep master.key in its own safe place)"
}

// restoreCmd: lgsp restore --in FILE [--settings DIR].
func restoreCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ExitOnError)
	load := configFlag(fs)
	in := fs.String("in", "", "backup file written by lgsp backup")
	settings := fs.String("settings", "", "where the archived config and routes go (default <data_dir>/restored-settings)")
	_ = fs.Parse(args)
	if *in == "" {
		return usageError("usage: lgsp restore --in FILE [--settings DIR] [--config FILE]")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	m, err := service.Restore(ctx, &cfg, *in, service.RestoreOptions{SettingsDir: *settings})
	if err != nil {
		return err
	}
	fmt.Printf("restored %s (taken %s by lgsp %s, schema %04d) into %s\n", *in, m.CreatedAt.Format("2006-01-02 15:04:05Z"), m.Version, m.Schema, cfg.DataDir)
	return nil
}

// migrateCmd: lgsp migrate status|up.
func migrateCmd(ctx context.Context, args []string) error {
	if len(args) < 1 || (args[0] != "status" && args[0] != "up") {
		return usageError("usage: lgsp migrate status|up [--config FILE]")
	}
	fs := flag.NewFlagSet("migrate "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	_ = fs.Parse(args[1:])
	cfg, err := load()
	if err != nil {
		return err
	}
	dsn := cfg.StoreDSN()
	if args[0] == "up" {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			return err
		}
		st.Close()
	}
	status, err := store.Schema(ctx, dsn)
	if err != nil {
		return err
	}
	printSchema(status)
	return status.Compatible()
}

func printSchema(s store.SchemaStatus) {
	fmt.Printf("store %s: database at %04d, this binary knows up to %04d", s.Dialect, s.Newest(), s.Latest())
	if s.Floor > 0 {
		fmt.Printf(", oldest compatible %04d", s.Floor)
	}
	fmt.Println()
	for _, m := range s.Known {
		state := "pending"
		if at, ok := s.Applied[m.Version]; ok {
			state = "applied " + at.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Printf("  %04d %-40s %s\n", m.Version, m.Name, state)
	}
	for v := range s.Applied {
		if v > s.Latest() {
			fmt.Fprintf(os.Stdout, "  %04d %-40s applied by a newer version\n", v, "?")
		}
	}
}
