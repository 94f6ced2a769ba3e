package pipeline

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// ValidateConfig configures the validate step. Zero fields check nothing.
type ValidateConfig struct {
	// MediaTypes are the allowed media types, "type/subtype" or "type/*";
	// parameters of the message's media type (charset …) are ignored.
	MediaTypes []string `yaml:"media_types"`
	// MaxBytes and MinBytes bound the payload size; 0 means no bound.
	MaxBytes int64 `yaml:"max_bytes"`
	MinBytes int64 `yaml:"min_bytes"`
	// RequireSHA256 requires the sender to have declared the payload's
	// SHA-256 (checked against the bytes when they were uploaded).
	RequireSHA256 bool `yaml:"require_sha256"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "validate",
		Summary: "Refuses a message whose media type or size does not meet the configured rules. With require_sha256, completing an exchange whose sender declared no SHA-256 (in the request or at completion) is refused with exchange.sha256_required before any step runs; the exchange stays open, so the sender may complete again with the hash.",
		Example: `- validate: {media_types: ["application/xml", "application/pdf"], max_bytes: 52428800, min_bytes: 1, require_sha256: true}`,
		New:     newValidate,
	})
}

func newValidate(decode func(into any) error) (bus.Step, error) {
	var c ValidateConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max_bytes must not be negative, got %d", c.MaxBytes))
	}
	if c.MinBytes < 0 {
		errs = append(errs, fmt.Errorf("min_bytes must not be negative, got %d", c.MinBytes))
	}
	if c.MaxBytes > 0 && c.MinBytes > c.MaxBytes {
		errs = append(errs, fmt.Errorf("min_bytes %d exceeds max_bytes %d", c.MinBytes, c.MaxBytes))
	}
	types := make([]string, 0, len(c.MediaTypes))
	for _, t := range c.MediaTypes {
		norm, err := normMediaType(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		types = append(types, norm)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.MediaTypes = types
	return &validate{c}, nil
}

// normMediaType lower-cases a configured media type and checks that it is
// "type/subtype" or "type/*" without parameters.
func normMediaType(t string) (string, error) {
	mt, params, err := mime.ParseMediaType(t)
	if err != nil || len(params) > 0 || strings.Count(mt, "/") != 1 || strings.HasPrefix(mt, "*") || strings.HasSuffix(mt, "/") {
		return "", fmt.Errorf("media type %q is not of the form type/subtype or type/*", t)
	}
	return mt, nil
}

type validate struct{ c ValidateConfig }

func (v *validate) Process(_ context.Context, m *bus.Message) error {
	var failed []string
	if len(v.c.MediaTypes) > 0 && !mediaTypeAllowed(m.MediaType, v.c.MediaTypes) {
		failed = append(failed, fmt.Sprintf("media type %q is not allowed (allowed: %s)", m.MediaType, strings.Join(v.c.MediaTypes, ", ")))
	}
	if v.c.MaxBytes > 0 && m.Size > v.c.MaxBytes {
		failed = append(failed, fmt.Sprintf("size %d bytes exceeds the limit of %d", m.Size, v.c.MaxBytes))
	}
	if v.c.MinBytes > 0 && m.Size < v.c.MinBytes {
		failed = append(failed, fmt.Sprintf("size %d bytes is below the minimum of %d", m.Size, v.c.MinBytes))
	}
	if v.c.RequireSHA256 && !isSHA256(m.SHA256) {
		failed = append(failed, "no SHA-256 of the content was declared")
	}
	if len(failed) > 0 {
		return bus.ErrStepFailed.New("validate: %s", strings.Join(failed, "; "))
	}
	return nil
}

// RequiresSHA256 tells the exchange (route.Route.RequiresSHA256) to refuse
// completion without a declared SHA-256.
func (v *validate) RequiresSHA256() bool { return v.c.RequireSHA256 }

func mediaTypeAllowed(t string, allowed []string) bool {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return false
	}
	for _, a := range allowed {
		if a == mt {
			return true
		}
		if prefix, ok := strings.CutSuffix(a, "/*"); ok && strings.HasPrefix(mt, prefix+"/") {
			return true
		}
	}
	return false
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
