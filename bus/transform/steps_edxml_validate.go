package transform

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
)

// ValidateConfig configures the edxml_validate step.
type ValidateConfig struct {
	// Kinds are the packet kinds accepted, "document" and/or "status";
	// empty accepts both.
	Kinds []string `yaml:"kinds"`
	// WarningsAreErrors refuses a packet with warnings too.
	WarningsAreErrors bool `yaml:"warnings_are_errors"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "edxml_validate",
		Summary: "Parses the payload as an edXML packet and validates it (QCVN 102 rules); errors fail the step with the issue code, element path and line:col, warnings become labels (edxml.warnings, edxml.warning.N).",
		Example: `- edxml_validate: {kinds: [document]}`,
		New:     newValidate,
	})
}

func newValidate(decode func(into any) error) (bus.Step, error) {
	var c ValidateConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	for _, k := range c.Kinds {
		if k != edxml.KindDocument.String() && k != edxml.KindStatus.String() {
			return nil, fmt.Errorf("kinds: %q is not a packet kind (document, status)", k)
		}
	}
	const step = "edxml_validate"
	return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
		if err := needContent(step, m, false); err != nil {
			return err
		}
		rc, err := m.Open()
		if err != nil {
			return fmt.Errorf("%s: opening content: %w", step, err)
		}
		p, err := edxml.Parse(rc, nil)
		rc.Close()
		if err != nil {
			return contentFailure(step, err)
		}
		kind := p.Kind().String()
		if len(c.Kinds) > 0 && !slices.Contains(c.Kinds, kind) {
			return bus.ErrStepFailed.New("%s: a %s packet is not accepted here (kinds: %v)", step, kind, c.Kinds)
		}
		// The packet speaks for the exchange's source only (R6, Art. 5); a
		// missing From is left to the validation rules.
		if f := p.Envelope.Header.MessageHeader.From; f != nil && strings.TrimSpace(f.OrganId) != "" {
			if err := m.CheckSender(ctx, strings.TrimSpace(f.OrganId)); err != nil {
				return err
			}
		}
		issues := edxml.Validate(p)
		if c.WarningsAreErrors {
			for i := range issues {
				issues[i].Severity = edxml.SeverityError
			}
		}
		if err := issuesFailure(step, issues); err != nil {
			return err
		}
		m.Label("edxml.kind", kind)
		if len(issues) > 0 {
			m.Label("edxml.warnings", strconv.Itoa(len(issues)))
		}
		for i, is := range issues {
			if i == maxIssues {
				break
			}
			m.Label("edxml.warning."+strconv.Itoa(i+1), IssueText(is))
		}
		return nil
	}), nil
}
