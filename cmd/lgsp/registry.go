package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
)

// openRegistry opens the store and vault of the configuration, as the
// server does; SQLite in WAL mode lets the CLI work beside a running node.
// Its changes are recorded by the returned cliAudit (activity log, M5).
func openRegistry(ctx context.Context, cfg service.Config) (*auth.Registry, *cliAudit, func(), error) {
	st, err := service.OpenStore(ctx, &cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := service.OpenVault(ctx, &cfg, st, nil) // refuses a missing or wrong master key
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	pol, err := cfg.OutboundPolicy()
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	au, _ := newCLIAudit(ctx, cfg, st, v) // the vault is open: no error
	return &auth.Registry{Store: st, Vault: v, Audit: st, Outbound: pol}, au, func() { st.Close() }, nil
}

func systemsCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("usage: lgsp systems add|list|show|set-webhook|suspend|resume|allow-alg|deny-alg|legacy-token|speaks-for|client-cert …")
	}
	if args[0] == "legacy-token" {
		return legacyTokenCmd(ctx, args[1:]) // legacy.go
	}
	if args[0] == "speaks-for" {
		return speaksForCmd(ctx, args[1:]) // speaksfor.go
	}
	if args[0] == "client-cert" {
		return clientCertCmd(ctx, args[1:]) // clientcert.go
	}
	fs := flag.NewFlagSet("systems "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	code := fs.String("code", "", "identifier code (QCVN 102, e.g. 000.00.01.H60)")
	name := fs.String("name", "", "name of the system")
	unit := fs.String("unit", "", "owning unit")
	contact := fs.String("contact", "", "contact person / e-mail / phone")
	webhook := fs.String("webhook", "", "add, set-webhook: webhook URL for push notifications (checked against webhooks.allow_private / allow_cidrs)")
	clearHook := fs.Bool("clear", false, "set-webhook: remove the webhook (the system polls or subscribes)")
	alg := fs.String("alg", "", "allow-alg, deny-alg: signature algorithm ("+strings.Join(auth.Algorithms(), ", ")+"); add: comma-separated algorithms allowed besides "+auth.AlgHMACSHA256)
	_ = fs.Parse(args[1:])
	if *code == "" && fs.NArg() > 0 {
		*code = fs.Arg(0)
	}
	reg, au, closeFn, err := loadRegistry(ctx, load)
	if err != nil {
		return err
	}
	defer closeFn()
	switch args[0] {
	case "add":
		var sys store.System
		err := au.do(ctx, "systems.add", *code, *code, func() (err error) {
			var warns []string
			sys, warns, err = reg.AddSystem(ctx, store.System{Code: *code, Name: *name, Unit: *unit, Contact: *contact, WebhookURL: *webhook})
			for _, w := range warns {
				fmt.Fprintln(os.Stderr, "warning:", w)
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, a := range splitList(*alg) {
			if err := au.do(ctx, "systems.allow-alg", sys.Code, a, func() error { _, err := reg.AllowAlg(ctx, sys.Code, a); return err }); err != nil {
				return err
			}
		}
		fmt.Printf("registered %s (%s)\nnext: lgsp keys issue --system %s --out %s.json\n", sys.Code, sys.Name, sys.Code, sys.Code)
	case "list":
		list, err := reg.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tSTATUS\tNAME\tUNIT\tCREATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Code, s.Status, s.Name, s.Unit, s.CreatedAt.Format(time.RFC3339))
		}
		tw.Flush()
	case "show":
		s, err := reg.Get(ctx, *code)
		if err != nil {
			return err
		}
		keys, err := reg.Keys(ctx, s.Code)
		if err != nil {
			return err
		}
		out := map[string]any{"system": service.SystemToJSON(s)}
		var kj []service.KeyJSON
		for _, k := range keys {
			kj = append(kj, service.KeyJSON{AccessKey: k.AccessKey, System: k.SystemCode, Status: k.Status, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt})
		}
		out["keys"] = kj
		return printJSON(out)
	case "set-webhook":
		if (*webhook == "") == !*clearHook {
			return usageError("usage: lgsp systems set-webhook --code CODE (--webhook URL | --clear)")
		}
		var s store.System
		err := au.do(ctx, "systems.set-webhook", *code, *code, func() (err error) { s, err = reg.SetWebhook(ctx, *code, *webhook); return err })
		if err != nil {
			return err
		}
		if s.WebhookURL == "" {
			fmt.Printf("%s: webhook removed\n", s.Code)
		} else {
			fmt.Printf("%s: webhooks go to %s\n", s.Code, s.WebhookURL)
		}
	case "suspend":
		if err := au.do(ctx, "systems.suspend", *code, *code, func() error { return reg.Suspend(ctx, *code) }); err != nil {
			return err
		}
		fmt.Printf("%s suspended: its requests are refused until resumed\n", *code)
	case "resume":
		if err := au.do(ctx, "systems.resume", *code, *code, func() error { return reg.Resume(ctx, *code) }); err != nil {
			return err
		}
		fmt.Printf("%s active again\n", *code)
	case "allow-alg", "deny-alg":
		change := reg.AllowAlg
		if args[0] == "deny-alg" {
			change = reg.DenyAlg
		}
		var algs []string
		err := au.do(ctx, "systems."+args[0], *code, *alg, func() (err error) { algs, err = change(ctx, *code, *alg); return err })
		if err != nil {
			return err
		}
		fmt.Printf("%s may sign with: %s\n", *code, strings.Join(algs, ", "))
	default:
		return usageError("usage: lgsp systems add|list|show|set-webhook|suspend|resume|allow-alg|deny-alg|legacy-token|speaks-for|client-cert …")
	}
	return nil
}

func keysCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("usage: lgsp keys issue|list|revoke|rotate|add-rsa|history …")
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	system := fs.String("system", "", "identifier code of the system")
	expires := fs.String("expires", "", "expiry date (YYYY-MM-DD or RFC 3339); default none")
	out := fs.String("out", "", "issue: write a credentials file (mode 0600) instead of printing the secret")
	url := fs.String("url", "http://127.0.0.1:8080", "issue: platform URL recorded in the credentials file")
	alg := fs.String("alg", auth.AlgHMACSHA256, "issue: "+auth.AlgHMACSHA256+" or "+auth.AlgHMACSHA1+" (the system must be allowed it)")
	accessKey := fs.String("access-key", "", "rotate: the access key to replace")
	overlap := fs.Duration("overlap", 72*time.Hour, "rotate: how long the old key keeps working")
	publicKey := fs.String("public-key", "", "add-rsa: PEM public key or X.509 certificate file")
	_ = fs.Parse(args[1:])
	reg, au, closeFn, err := loadRegistry(ctx, load)
	if err != nil {
		return err
	}
	defer closeFn()
	switch args[0] {
	case "issue":
		var exp time.Time
		if *expires != "" {
			if exp, err = time.ParseInLocation("2006-01-02", *expires, time.Local); err != nil {
				if exp, err = time.Parse(time.RFC3339, *expires); err != nil {
					return usageError("--expires: expected YYYY-MM-DD or RFC 3339")
				}
			}
		}
		ak, sk, err := reg.IssueKeyAlg(ctx, *system, *alg, exp)
		if err = au.done(ctx, "keys.issue", *system, ak, err); err != nil {
			return err
		}
		cred := rest.Credentials{URL: *url, System: *system, AccessKey: ak, SecretKey: sk}
		if *out != "" {
			b, _ := json.MarshalIndent(cred, "", "  ")
			if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
				return err
			}
			fmt.Printf("issued %s for %s; credentials written to %s (mode 0600) — the secret is not shown again\n", ak, *system, *out)
			return nil
		}
		fmt.Printf("access_key: %s\nsecret_key: %s\n(the secret is shown only once: store it safely)\n", ak, sk)
	case "list":
		if *system == "" && fs.NArg() > 0 {
			*system = fs.Arg(0)
		}
		keys, err := reg.Keys(ctx, *system)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCESS KEY\tSTATUS\tCREATED\tEXPIRES\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.AccessKey, k.Status, fmtTime(k.CreatedAt), fmtTime(k.ExpiresAt), fmtTime(k.RevokedAt))
		}
		tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError("usage: lgsp keys revoke ACCESS_KEY")
		}
		if err := au.do(ctx, "keys.revoke", keySystem(ctx, reg, fs.Arg(0)), fs.Arg(0), func() error { return reg.RevokeKey(ctx, fs.Arg(0)) }); err != nil {
			return err
		}
		fmt.Printf("%s revoked: requests signed with it are refused from now on\n", fs.Arg(0))
	case "rotate":
		if *accessKey == "" && fs.NArg() == 1 {
			*accessKey = fs.Arg(0)
		}
		if *accessKey == "" {
			return usageError("usage: lgsp keys rotate --access-key AK [--overlap 72h] [--expires DATE] [--out FILE.json]")
		}
		exp, err := parseExpiry(*expires)
		if err != nil {
			return err
		}
		rot, err := reg.RotateKey(ctx, *accessKey, *overlap, exp)
		subject := *accessKey
		if err == nil {
			subject += " -> " + rot.AccessKey
		}
		if err = au.done(ctx, "keys.rotate", keySystem(ctx, reg, *accessKey), subject, err); err != nil {
			return err
		}
		note := fmt.Sprintf("%s keeps working until %s; deploy the new key before then", rot.Old, rot.OldExpires.Local().Format(time.RFC3339))
		if *out != "" {
			cred := rest.Credentials{URL: *url, System: rot.System, AccessKey: rot.AccessKey, SecretKey: rot.SecretKey}
			b, _ := json.MarshalIndent(cred, "", "  ")
			if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
				return err
			}
			fmt.Printf("issued %s for %s; credentials written to %s (mode 0600)\n%s\n", rot.AccessKey, rot.System, *out, note)
			return nil
		}
		fmt.Printf("access_key: %s\nsecret_key: %s\n(the secret is shown only once: store it safely)\n%s\n", rot.AccessKey, rot.SecretKey, note)
	case "add-rsa":
		if *publicKey == "" {
			return usageError("usage: lgsp keys add-rsa --system CODE --public-key FILE.pem [--expires DATE]")
		}
		b, err := os.ReadFile(*publicKey)
		if err != nil {
			return err
		}
		exp, err := parseExpiry(*expires)
		if err != nil {
			return err
		}
		ak, err := reg.RegisterRSAKey(ctx, *system, b, exp)
		if err = au.done(ctx, "keys.add-rsa", *system, ak, err); err != nil {
			return err
		}
		fmt.Printf("access_key: %s\n(%s: sign with the matching private key; the platform holds no secret)\n", ak, auth.AlgRSASHA256)
	case "history":
		if *system == "" && fs.NArg() > 0 {
			*system = fs.Arg(0)
		}
		evs, err := reg.History(ctx, *system, 1000)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tACTION\tACCESS KEY\tACTOR\tDETAIL")
		for _, e := range evs {
			ak := e.AccessKey
			if ak == "" {
				ak = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.RFC3339), e.Action, ak, e.Actor, e.Detail)
		}
		tw.Flush()
	default:
		return usageError("usage: lgsp keys issue|list|revoke|rotate|add-rsa|history …")
	}
	return nil
}

// keySystem is the system of an access key, for the activity entry of an
// action on the key ("" when there is no such key: the action fails).
func keySystem(ctx context.Context, reg *auth.Registry, accessKey string) string {
	k, err := reg.Store.GetKey(ctx, accessKey)
	if err != nil {
		return ""
	}
	return k.SystemCode
}

// parseExpiry reads --expires: YYYY-MM-DD (local midnight) or RFC 3339;
// "" is no expiry.
func parseExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError("--expires: expected YYYY-MM-DD or RFC 3339")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
