package vxp

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestParseConfig decodes gateways.vxp sections as a config file holds
// them: defaults, nested retry and durations, and refusals that name the
// line and column of the offending key in the file.
func TestParseConfig(t *testing.T) {
	parse := func(src string) (Config, error) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		// The section as the node's config holds it: gateways: {vxp: …}.
		return ParseConfig(doc.Content[0].Content[1].Content[1])
	}
	const head = "gateways:\n  vxp:\n    url: http://vxp.test\n    system_id: tq\n    gateway_system: 000.00.99.H60\n"
	c, err := parse(head + "    timeout: 20s\n    retry: {initial: 2s, max_attempts: 4}\n    organs: {000.00.00.G22: [000.00.01.H60]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretEnv != DefaultSecretEnv || c.Schedule != "@every 1m" || c.Timeout != 20*time.Second ||
		c.Retry.Initial != 2*time.Second || c.Retry.MaxAttempts != 4 || len(c.Organs["000.00.00.G22"]) != 1 {
		t.Fatalf("config %+v", c)
	}
	for src, want := range map[string]string{
		head + "    secret: s\n":                                                    `gateways.vxp: line 6, column 5: unknown field "secret"`,
		head + "    retry: {initial: 2s, tries: 3}\n":                               `line 6, column 26: retry: unknown field "tries"`,
		head + "    timeout: soon\n":                                                "line 6, column 14: timeout",
		head + "    url: http://again\n":                                            `field "url" repeated (first at line 3)`,
		"gateways:\n  vxp:\n    system_id: tq\n    gateway_system: 000.00.99.H60\n": "url is required",
		head + "    organs: {G22: [not-a-code]}\n":                                  `organs.G22: "not-a-code"`,
	} {
		if _, err := parse(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}
