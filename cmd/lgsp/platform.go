package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
)

// platformKeyCmd prints the public key the platform signs webhooks with
// (for systems whose key is an RSA public key), creating the key pair if
// no node did yet: receivers verify LGSP-RSA-SHA256 signatures with it.
func platformKeyCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("platform-key", flag.ExitOnError)
	load := configFlag(fs)
	asJSON := fs.Bool("json", false, "print key id, algorithm and PEM as JSON")
	_ = fs.Parse(args)
	cfg, st, err := loadStore(ctx, load)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := service.OpenVault(ctx, &cfg, st, nil) // refuses a missing or wrong master key
	if err != nil {
		return err
	}
	k, err := (&auth.PlatformKeys{Store: st, Vault: v}).Webhook(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(k)
	}
	fmt.Printf("# key_id %s, %s, signs webhooks (use %s)\n%s", k.KeyID, k.Alg, k.Use, k.PublicKey)
	return nil
}
