package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/service"
)

const usersUsage = `usage:
  lgsp users add LOGIN --roles admin|security|operator|auditor[,…] [--unit UNIT] [--name NAME] [--email E] [--personal-id N] [--password-stdin | --no-password]
  lgsp users list
  lgsp users roles LOGIN --roles R[,…] [--unit UNIT]
  lgsp users disable|enable LOGIN
  lgsp users passwd LOGIN [--password-stdin]
  lgsp users totp LOGIN [--remove]        enrol a second factor: prints the otpauth:// URI for an authenticator app
  lgsp users unlock LOGIN                 lift a login lockout
The password is asked at the terminal (twice, not echoed) or read from the first line of
standard input with --password-stdin; it is never an argument (argv is visible to others).`

// usersCmd manages the people of the operators' console (docs/console.md):
// the first administrator is created with it before anyone can log in.
func usersCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(usersUsage)
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	roles := fs.String("roles", "", "roles, comma-separated: "+strings.Join(people.Roles, ", "))
	unit := fs.String("unit", "", "the person's unit, as systems name theirs (required for operators)")
	name := fs.String("name", "", "full name")
	email := fs.String("email", "", "e-mail (links an upstream identity provider's verified e-mail)")
	pid := fs.String("personal-id", "", "personal identification number (links VNeID)")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	noPw := fs.Bool("no-password", false, "add: no password (the person logs in only through an upstream identity provider)")
	remove := fs.Bool("remove", false, "totp: remove the second factor")
	rest := args[1:]
	login := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		login, rest = rest[0], rest[1:]
	}
	_ = fs.Parse(rest)
	if login == "" && fs.NArg() > 0 {
		login = fs.Arg(0)
	}
	if login == "" && args[0] != "list" {
		return usageError(usersUsage)
	}
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := service.OpenVault(ctx, &cfg, st, nil)
	if err != nil {
		return err
	}
	ps := people.New(people.Options{Store: st, Vault: v})
	by := "cli:" + cliUser()
	switch args[0] {
	case "add":
		pw := ""
		if !*noPw {
			if pw, err = readPassword(*stdin); err != nil {
				return err
			}
		}
		p, err := ps.Add(ctx, by, people.Person{Login: login, Name: *name, Email: *email, PersonalID: *pid, Unit: *unit, Roles: splitList(*roles)}, pw)
		if err != nil {
			return err
		}
		fmt.Printf("%s added (id %d, roles %s)\n", p.Login, p.ID, strings.Join(p.Roles, ","))
	case "list":
		list, err := ps.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLOGIN\tNAME\tUNIT\tROLES\tTOTP\tSTATUS")
		for _, p := range list {
			status := "active"
			if p.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%v\t%s\n", p.ID, p.Login, p.Name, p.Unit, strings.Join(p.Roles, ","), p.TOTP, status)
		}
		tw.Flush()
	case "roles", "disable", "enable":
		p, err := ps.ByLogin(ctx, login)
		if err != nil {
			return err
		}
		switch args[0] {
		case "roles":
			p.Roles = splitList(*roles)
			if *unit != "" {
				p.Unit = *unit
			}
		case "disable":
			p.Disabled = true
		case "enable":
			p.Disabled = false
		}
		if p, err = ps.Update(ctx, by, p); err != nil {
			return err
		}
		fmt.Printf("%s: roles %s, unit %q, disabled %v (sessions ended where rights changed)\n", p.Login, strings.Join(p.Roles, ","), p.Unit, p.Disabled)
	case "passwd":
		pw, err := readPassword(*stdin)
		if err != nil {
			return err
		}
		if err := ps.SetPassword(ctx, by, login, pw); err != nil {
			return err
		}
		fmt.Printf("%s: password changed, sessions ended\n", login)
	case "totp":
		if *remove {
			if err := ps.RemoveTOTP(ctx, by, login); err != nil {
				return err
			}
			fmt.Printf("%s: second factor removed\n", login)
			return nil
		}
		uri, err := ps.EnrollTOTP(ctx, by, login)
		if err != nil {
			return err
		}
		fmt.Println(uri)
		fmt.Fprintln(os.Stderr, "Load this URI into the person's authenticator application (as a QR code or by hand); from now on their logins need its code.")
	case "unlock":
		if err := ps.UnlockLogin(ctx, by, login); err != nil {
			return err
		}
		fmt.Printf("%s: login lockout lifted\n", login)
	default:
		return usageError(usersUsage)
	}
	return nil
}

// readPassword reads a password from stdin's first line (--password-stdin)
// or asks twice at the terminal with echo off.
func readPassword(fromStdin bool) (string, error) {
	in := bufio.NewReader(os.Stdin)
	if fromStdin {
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return "", usageError("no terminal to ask the password at: use --password-stdin")
	}
	echo := func(on bool) {
		arg := "-echo"
		if on {
			arg = "echo"
		}
		c := exec.Command("stty", arg)
		c.Stdin = os.Stdin
		_ = c.Run()
	}
	echo(false)
	defer echo(true)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(os.Stderr, prompt)
		line, err := in.ReadString('\n')
		fmt.Fprintln(os.Stderr)
		if errors.Is(err, io.EOF) && line == "" {
			return "", usageError("no password given")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	a, err := ask("Mật khẩu / password: ")
	if err != nil {
		return "", err
	}
	b, err := ask("Nhập lại / again: ")
	if err != nil {
		return "", err
	}
	if a != b {
		return "", usageError("the two passwords differ")
	}
	return a, nil
}
