package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/xmldsig"
)

// SignConfig configures the xmldsig_sign step. File paths are relative to
// the routes folder unless absolute.
type SignConfig struct {
	routesDir `yaml:"-"`
	// KeyFile is the PEM file of the RSA private key (PKCS#1 or
	// unencrypted PKCS#8), which may hold the certificates too, or a
	// PKCS#12 file (.p12/.pfx) with the key and its chain.
	KeyFile string `yaml:"key_file"`
	// PasswordEnv names the environment variable holding the password of a
	// PKCS#12 KeyFile (never the password itself: route files are not
	// secret). Empty opens it with the empty password.
	PasswordEnv string `yaml:"password_env"`
	// CertFile is the PEM file of the signer's certificate and its
	// intermediates; optional when KeyFile holds them.
	CertFile string `yaml:"cert_file"`
	// Algorithm is rsa-sha256 (default) or rsa-sha1 (legacy peers only).
	Algorithm string `yaml:"algorithm"`
	// C14N is exclusive (default) or inclusive.
	C14N string `yaml:"c14n"`
	// MaxBytes bounds the document; 0 is 32 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "xmldsig_sign",
		Summary: "Signs the XML payload with an enveloped XML-DSig signature (RSA-SHA256 or RSA-SHA1, exclusive or inclusive C14N, certificate chain in KeyInfo) and replaces the payload with the signed document.",
		Example: `- xmldsig_sign: {key_file: "/etc/lgsp/keys/sign-key.pem", cert_file: "/etc/lgsp/keys/sign-cert.pem", algorithm: rsa-sha256, c14n: exclusive}`,
		New:     newSign,
	})
}

// ParseSignOptions maps the names used in route files and on the command
// line (algorithm rsa-sha256|rsa-sha1, c14n exclusive|inclusive; empty is
// the default) to xmldsig.SignOptions.
func ParseSignOptions(algorithm, c14n string) (xmldsig.SignOptions, error) {
	var o xmldsig.SignOptions
	switch algorithm {
	case "", "rsa-sha256":
		o.Algorithm = xmldsig.RSASHA256
	case "rsa-sha1":
		o.Algorithm = xmldsig.RSASHA1
	default:
		return o, fmt.Errorf("algorithm %q: expected rsa-sha256 or rsa-sha1", algorithm)
	}
	switch c14n {
	case "", "exclusive":
		o.C14N = xmldsig.Exclusive
	case "inclusive":
		o.C14N = xmldsig.Inclusive
	default:
		return o, fmt.Errorf("c14n %q: expected exclusive or inclusive", c14n)
	}
	return o, nil
}

// PasswordFromEnv returns the value of the environment variable name (""
// when name is empty); a named variable that is not set is an error, so a
// typo does not silently try the empty password.
func PasswordFromEnv(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("password_env: environment variable %s is not set", name)
	}
	return v, nil
}

func newSign(decode func(into any) error) (bus.Step, error) {
	var c SignConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	if c.KeyFile == "" {
		return nil, errors.New("key_file is required")
	}
	if c.MaxBytes < 0 {
		return nil, fmt.Errorf("max_bytes must not be negative, got %d", c.MaxBytes)
	}
	opts, err := ParseSignOptions(c.Algorithm, c.C14N)
	if err != nil {
		return nil, err
	}
	if opts.Password, err = PasswordFromEnv(c.PasswordEnv); err != nil {
		return nil, err
	}
	signer, err := xmldsig.LoadSigner(c.path(c.KeyFile), c.path(c.CertFile), opts)
	if err != nil {
		return nil, err
	}
	max := c.MaxBytes
	if max == 0 {
		max = xmldsig.DefaultMaxBytes
	}
	const step = "xmldsig_sign"
	return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
		if err := needContent(step, m, true); err != nil {
			return err
		}
		doc, err := readAll(step, m, max)
		if err != nil {
			return err
		}
		signed, err := signer.Sign(doc)
		if err != nil {
			if xmldsig.CodeOf(err) == xmldsig.CodeKey || xmldsig.CodeOf(err) == xmldsig.CodeAlgorithm {
				return fmt.Errorf("%s: %w", step, err) // our configuration, not the sender's content
			}
			return contentFailure(step, err)
		}
		if err := replaceWith(ctx, step, m, func(w io.Writer) error {
			_, err := io.Copy(w, bytes.NewReader(signed))
			return err
		}); err != nil {
			return err
		}
		m.Label("xmldsig.signed-by", signerName(signer.Certificate()))
		return nil
	}), nil
}
