package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/tuyenquang/lgsp/bus"
)

// LabelConfig configures the label step.
type LabelConfig struct {
	Key   string `yaml:"key"`   // [a-z0-9][a-z0-9._-]*, at most 64 bytes
	Value string `yaml:"value"` // any text, may be empty
}

var labelKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "label",
		Summary: "Sets a label on the message; labels are recorded in the ledger and checked by route tests.",
		Example: `- label: {key: "phong-ban", value: "van-thu"}`,
		New:     newLabel,
	})
}

func newLabel(decode func(into any) error) (bus.Step, error) {
	var c LabelConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	if c.Key == "" {
		return nil, errors.New("key is required")
	}
	if !labelKey.MatchString(c.Key) {
		return nil, fmt.Errorf("key %q must be lowercase letters, digits, '.', '_' or '-' (at most 64)", c.Key)
	}
	return bus.StepFunc(func(_ context.Context, m *bus.Message) error {
		m.Label(c.Key, c.Value)
		return nil
	}), nil
}
