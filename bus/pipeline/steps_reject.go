package pipeline

import (
	"context"
	"errors"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// RejectConfig configures the reject step.
type RejectConfig struct {
	// Reason is shown to the sender in the error detail.
	Reason string `yaml:"reason"`
}

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "reject",
		Summary: "Refuses every message with the configured reason; use it to block a data type from a source.",
		Example: `- reject: {reason: "dữ liệu này không còn được tiếp nhận qua LGSP"}`,
		New:     newReject,
	})
}

func newReject(decode func(into any) error) (bus.Step, error) {
	var c RejectConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.Reason) == "" {
		return nil, errors.New("reason is required")
	}
	return bus.StepFunc(func(context.Context, *bus.Message) error {
		return bus.ErrStepFailed.New("rejected: %s", c.Reason)
	}), nil
}
