package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tuyenquang/lgsp/bus/service"
)

const clientCertUsage = "usage: lgsp systems client-cert add --code CODE (--cert FILE | --sha256 HEX | --ca FILE --subject DN) [--description TEXT]\n" +
	"       lgsp systems client-cert list --code CODE\n" +
	"       lgsp systems client-cert remove --code CODE --id ID"

// clientCertCmd manages the client certificates a system is bound to
// (mutual TLS, docs/auth.md); every change is in the key audit record.
func clientCertCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(clientCertUsage)
	}
	fs := flag.NewFlagSet("systems client-cert "+args[0], flag.ExitOnError)
	load := configFlag(fs)
	code := fs.String("code", "", "identifier code of the system")
	certFile := fs.String("cert", "", "add: PEM client certificate, bound by its SHA-256 fingerprint")
	sha := fs.String("sha256", "", "add: SHA-256 fingerprint of the client certificate (hex, colons allowed)")
	caFile := fs.String("ca", "", "add: PEM certificate of the issuing CA (with --subject)")
	subject := fs.String("subject", "", "add: subject the certificates must have, RFC 2253 (e.g. \"CN=qlvb,O=So Noi vu,C=VN\")")
	desc := fs.String("description", "", "add: free text shown in list")
	id := fs.String("id", "", "remove: id of the binding (from list)")
	_ = fs.Parse(args[1:])
	reg, au, closeFn, err := loadRegistry(ctx, load)
	if err != nil {
		return err
	}
	defer closeFn()
	switch args[0] {
	case "add":
		in := service.ClientCertInput{SHA256: *sha, Subject: *subject, Description: *desc}
		if in.Certificate, err = readOptional(*certFile); err != nil {
			return err
		}
		if in.CA, err = readOptional(*caFile); err != nil {
			return err
		}
		b, err := in.Binding()
		if err != nil {
			return err
		}
		b, err = reg.BindClientCert(ctx, *code, b)
		if err = au.done(ctx, "systems.client-cert.add", *code, b.ID, err); err != nil {
			return err
		}
		fmt.Printf("%s bound to client certificate binding %s: its requests must now arrive over HTTPS presenting it\n", *code, b.ID)
	case "list":
		s, err := reg.Get(ctx, *code)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSHA256\tCA\tSUBJECT\tADDED\tDESCRIPTION")
		for _, c := range s.ClientCerts {
			ca := ""
			if c.CA != "" {
				ca = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.SHA256, ca, c.Subject, c.AddedAt.Format(time.RFC3339), c.Description)
		}
		tw.Flush()
	case "remove":
		if err := au.do(ctx, "systems.client-cert.remove", *code, *id, func() error { return reg.UnbindClientCert(ctx, *code, *id) }); err != nil {
			return err
		}
		fmt.Printf("%s: binding %s removed\n", *code, *id)
	default:
		return usageError(clientCertUsage)
	}
	return nil
}

func readOptional(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	return string(b), err
}
