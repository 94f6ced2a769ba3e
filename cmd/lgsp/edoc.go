package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/transform" // also registers the edXML and XML-DSig route steps
	"github.com/tuyenquang/lgsp/bus/xmldsig"
)

const edocUsage = `usage: lgsp edoc validate FILE...                         check edXML packets (exit 1 on errors)
       lgsp edoc inspect FILE                           summary of a packet
       lgsp edoc normalize [--out F] FILE               re-emit a packet as we build packets (idempotent)
       lgsp edoc build [--out F] [--source ID] [--to ID,ID] [--title T] [--importance I] FILE.json
       lgsp edoc sign --key KEY.pem|KEY.p12 [--password-env VAR] [--cert CERT.pem] [--algorithm rsa-sha256|rsa-sha1] [--c14n exclusive|inclusive] [--out F] FILE
       lgsp edoc verify --roots CA.pem[,…] [--intermediates …] [--crls …] [--policy require|verify_if_present|ignore] FILE
       lgsp edoc extract --out DIR [--max-files N] [--max-bytes N] FILE   write the attachments to DIR`

func edocCmd(args []string) error {
	if len(args) == 0 {
		return usageError(edocUsage)
	}
	fs := flag.NewFlagSet("edoc "+args[0], flag.ExitOnError)
	out := fs.String("out", "", "output file (directory for extract); default stdout")
	switch args[0] {
	case "validate":
		_ = fs.Parse(args[1:])
		if fs.NArg() == 0 {
			return usageError(edocUsage)
		}
		return edocValidate(fs.Args())
	case "inspect":
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 {
			return usageError(edocUsage)
		}
		p, err := parseFile(fs.Arg(0), nil)
		if err != nil {
			return err
		}
		fmt.Print(edxml.Inspect(p))
		return nil
	case "normalize":
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 {
			return usageError(edocUsage)
		}
		return edocNormalize(fs.Arg(0), *out)
	case "build":
		source := fs.String("source", "", "sending organ id (From/OrganId when the JSON has none)")
		to := fs.String("to", "", "recipient organ ids, comma-separated (the To list)")
		title := fs.String("title", "", "Subject when the JSON has none")
		importance := fs.String("importance", "", "normal|urgent|very-urgent|flash|flash-timed (Priority when the JSON has none)")
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 {
			return usageError(edocUsage)
		}
		name := fs.Arg(0)
		open := func() (io.ReadCloser, error) { return os.Open(name) }
		p, err := transform.PacketFromJSON(open, transform.Meta{Source: *source, Recipients: splitList(*to), Title: *title, Importance: *importance, Now: time.Now()})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return writeOut(*out, func(w io.Writer) error { return edxml.Build(w, p) })
	case "sign":
		key := fs.String("key", "", "PEM file of the RSA private key (may hold the certificates too)")
		cert := fs.String("cert", "", "PEM file of the certificate and intermediates")
		alg := fs.String("algorithm", "rsa-sha256", "rsa-sha256 or rsa-sha1")
		c14n := fs.String("c14n", "exclusive", "exclusive or inclusive")
		pwEnv := fs.String("password-env", "", "environment variable holding the password of a PKCS#12 (.p12/.pfx) --key")
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 || *key == "" {
			return usageError(edocUsage)
		}
		opts, err := transform.ParseSignOptions(*alg, *c14n)
		if err != nil {
			return err
		}
		if opts.Password, err = transform.PasswordFromEnv(*pwEnv); err != nil {
			return err
		}
		s, err := xmldsig.LoadSigner(*key, *cert, opts)
		if err != nil {
			return err
		}
		doc, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		signed, err := s.Sign(doc)
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		return writeOut(*out, func(w io.Writer) error { _, err := w.Write(signed); return err })
	case "verify":
		roots := fs.String("roots", "", "PEM files of trusted CA certificates, comma-separated")
		inter := fs.String("intermediates", "", "PEM files of intermediate certificates, comma-separated")
		crls := fs.String("crls", "", "CRL files (PEM or DER), comma-separated")
		policy := fs.String("policy", "require", "require, verify_if_present or ignore")
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 {
			return usageError(edocUsage)
		}
		pol, err := xmldsig.ParsePolicy(*policy)
		if err != nil {
			return err
		}
		v, err := transform.LoadVerifier(splitList(*roots), splitList(*inter), splitList(*crls))
		if err != nil {
			return err
		}
		doc, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		res, warns, err := v.Check(doc, pol)
		for _, w := range warns {
			fmt.Printf("%s: warning %s\n", fs.Arg(0), w)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		if res == nil {
			fmt.Printf("%s: not verified (policy %s)\n", fs.Arg(0), pol)
			return nil
		}
		fmt.Printf("%s: OK, signed by %s (issuer %s), %s, reference %q\n", fs.Arg(0), res.Cert.Subject, res.Cert.Issuer, res.Algorithm, res.ReferenceURI)
		return nil
	case "extract":
		maxFiles := fs.Int("max-files", edxml.DefaultExtractFiles, "refuse past this many files written (attachments and unzipped entries)")
		maxBytes := fs.Int64("max-bytes", edxml.DefaultExtractBytes, "refuse past this many bytes written in total")
		_ = fs.Parse(args[1:])
		if fs.NArg() != 1 || *out == "" {
			return usageError(edocUsage)
		}
		return edocExtract(fs.Arg(0), *out, edxml.ExtractLimits{MaxFiles: *maxFiles, MaxBytes: *maxBytes})
	}
	return usageError(edocUsage)
}

// edocNormalize parses file and writes it back with edxml.Build: canonical
// dates, our element order, one-line base64, LF line ends; unknown elements
// kept, comments dropped. Attachments go through a private spool directory
// that is removed afterwards, so no size is held in memory. Normalizing
// changes the bytes, so a signature the packet carries no longer verifies:
// the command says so on stderr.
func edocNormalize(file, out string) error {
	spool, err := os.MkdirTemp("", "lgsp-normalize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	p, err := parseFile(file, &edxml.Options{SpoolDir: spool})
	if err != nil {
		return err
	}
	defer p.Cleanup()
	if hasSignature(p) {
		fmt.Fprintf(os.Stderr, "%s: warning: the packet is signed; its signature is kept but will not verify after normalizing (sign again)\n", file)
	}
	if out == "" {
		w := bufio.NewWriter(os.Stdout)
		if err := edxml.Build(w, p); err != nil {
			return err
		}
		return w.Flush()
	}
	return writeFileAtomic(out, func(w io.Writer) error { return edxml.Build(w, p) })
}

// hasSignature reports whether p carries a Signature element where packets
// put one: in edXMLHeader, in the envelope or at the root.
func hasSignature(p *edxml.Packet) bool {
	if p.Envelope.Header.Signature != nil {
		return true
	}
	for _, n := range append(append([]*edxml.Node(nil), p.Extra...), p.Envelope.Extra...) {
		if n.Name.Local == "Signature" {
			return true
		}
	}
	return false
}

// writeFileAtomic streams write into a temporary file beside path and
// renames it over path once complete: a failure leaves path as it was.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// edocExtract writes the attachments of file to out within lim. On any
// error nothing is left behind: files go to out only once all were
// extracted, and an out folder this command created is removed.
func edocExtract(file, out string, lim edxml.ExtractLimits) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, statErr := os.Stat(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	_, files, err := edxml.ExtractAttachments(f, out, lim)
	if err != nil {
		if statErr != nil {
			os.Remove(out) // only if empty: it is ours
		}
		return fmt.Errorf("%s:%w", file, positioned(err))
	}
	for _, x := range files {
		fmt.Printf("%s\t%d\t%s\n", x.Path, x.Size, x.Name)
	}
	return nil
}

// positioned renders an edxml error as "line:col: …" (after "file:").
func positioned(err error) error {
	var e *edxml.Error
	if errors.As(err, &e) {
		return e
	}
	return fmt.Errorf(" %w", err)
}

func parseFile(name string, opts *edxml.Options) (*edxml.Packet, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := edxml.Parse(f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, positioned(err))
	}
	return p, nil
}

// edocValidate prints every issue as "file:line:col: severity code path:
// message" and fails when any file has an error.
func edocValidate(files []string) error {
	bad := 0
	for _, name := range files {
		p, err := parseFile(name, nil)
		if err != nil {
			fmt.Println(err)
			bad++
			continue
		}
		issues := edxml.Validate(p)
		for _, is := range issues {
			fmt.Printf("%s:%s\n", name, issueLine(is))
		}
		if edxml.HasErrors(issues) {
			bad++
		} else {
			fmt.Printf("%s: OK (%s packet, %d warning(s))\n", name, p.Kind(), len(issues))
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d file(s) are not valid edXML", bad, len(files))
	}
	return nil
}

func issueLine(is edxml.Issue) string {
	s := is.String()
	if is.Line == 0 {
		return " " + s
	}
	return s
}

func writeOut(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(os.Stdout)
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
