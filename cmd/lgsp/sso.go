package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tuyenquang/lgsp/bus/people"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/sso"
)

const ssoUsage = `usage:
  lgsp sso clients add ID --name NAME --redirect-uri URI[,URI…] [--unit UNIT] [--public]
                          [--post-logout-uri URI[,…]] [--backchannel-logout-uri URI] [--roles R,…] [--units U,…]
  lgsp sso clients list
  lgsp sso clients remove ID
  lgsp sso rotate-key                     a new signing key now (the old one stays published until its tokens expire)
  lgsp sso pending                        upstream logins that wait for an administrator (create the account to approve)
A confidential client's secret is printed once; public clients (--public) have none and must use PKCE.`

// ssoCmd manages the single sign-on provider's applications and keys
// (docs/sso.md).
func ssoCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(ssoUsage)
	}
	sub := args[0]
	rest := args[1:]
	if sub == "clients" {
		if len(rest) == 0 {
			return usageError(ssoUsage)
		}
		sub, rest = "clients "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("sso "+sub, flag.ExitOnError)
	load := configFlag(fs)
	name := fs.String("name", "", "the application's name")
	unit := fs.String("unit", "", "the unit that runs the application")
	public := fs.Bool("public", false, "a browser or mobile application without a secret (PKCE required)")
	redirects := fs.String("redirect-uri", "", "redirect URIs, comma-separated (compared exactly)")
	postLogout := fs.String("post-logout-uri", "", "post-logout redirect URIs, comma-separated")
	backchannel := fs.String("backchannel-logout-uri", "", "where logout tokens are posted when a person logs out anywhere")
	roles := fs.String("roles", "", "roles that may sign in, comma-separated (empty: any): "+strings.Join(people.Roles, ", "))
	units := fs.String("units", "", "units whose people may sign in, comma-separated (empty: every unit)")
	id := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	_ = fs.Parse(rest)
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := service.OpenVault(ctx, &cfg, st, nil)
	if err != nil {
		return err
	}
	p, err := service.NewSSO(&cfg, st, v, people.New(people.Options{Store: st, Vault: v}), nil)
	if err != nil {
		return err
	}
	by := "cli:" + cliUser()
	switch sub {
	case "clients add":
		if id == "" {
			return usageError(ssoUsage)
		}
		c, secret, err := p.AddClient(ctx, by, sso.Client{ID: id, Name: *name, Unit: *unit, Public: *public, RedirectURIs: splitList(*redirects),
			PostLogoutURIs: splitList(*postLogout), BackchannelLogoutURI: *backchannel, Roles: splitList(*roles), Units: splitList(*units)})
		if err != nil {
			return err
		}
		fmt.Printf("client %s added; issuer %s\n", c.ID, p.Issuer())
		if secret != "" {
			fmt.Printf("client_secret: %s\n", secret)
			fmt.Fprintln(os.Stderr, "The secret is shown once: give it to the application's operator over a safe channel.")
		}
	case "clients list":
		list, err := p.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tUNIT\tPUBLIC\tREDIRECT URIS\tROLES\tUNITS")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", c.ID, c.Name, c.Unit, c.Public, strings.Join(c.RedirectURIs, " "), strings.Join(c.Roles, ","), strings.Join(c.Units, ","))
		}
		tw.Flush()
	case "clients remove":
		if id == "" {
			return usageError(ssoUsage)
		}
		if err := p.RemoveClient(ctx, by, id); err != nil {
			return err
		}
		fmt.Printf("client %s removed (its tokens too)\n", id)
	case "rotate-key":
		kid, err := p.RotateKey(ctx, by)
		if err != nil {
			return err
		}
		fmt.Printf("signing key %s now signs\n", kid)
	case "pending":
		list, err := p.Pending(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "CLAIM\tVALUE\tNAME\tLAST TRY\tTRIES")
		for _, x := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", x.Claim, x.Value, x.Name, x.At.Format("2006-01-02 15:04"), x.Count)
		}
		tw.Flush()
	default:
		return usageError(ssoUsage)
	}
	return nil
}
