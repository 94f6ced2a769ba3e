package ngsp

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseConfig(t *testing.T) {
	parse := func(src string) (Config, error) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		return ParseConfig(n.Content[0])
	}
	c, err := parse("token_url: https://api.ngsp.gov.vn/token\nconsumer_key: abc\nservices: [dmdc]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretEnv != DefaultSecretEnv || c.ConsumerKey != "abc" || len(c.Services) != 1 {
		t.Fatalf("config %+v", c)
	}
	for src, want := range map[string]string{
		"consumer_key: abc\n":                                      "token_url",
		"token_url: https://x/token\n":                             "consumer_key is required",
		"token_url: https://x/token\nconsumer_key: a\nsecret: s\n": `line 3, column 1: unknown field "secret"`,
		"token_url: https://x/token\nconsumer_key: a\ndeliveries: {not-a-code: {service: s}}\n":             "deliveries.not-a-code",
		"token_url: https://x/token\nconsumer_key: a\ndeliveries: {000.00.98.H60: {path: /x}}\n":            "service is required",
		"token_url: https://x/token\nconsumer_key: a\ndeliveries: {000.00.98.H60: {service: s, path: x}}\n": "path must start with /",
		"token_url: https://x/token\nconsumer_key: a\ndeliveries: {000.00.98.H60: {service: s, url: x}}\n":  `line 3, column 42: deliveries.000.00.98.H60: unknown field "url"`,
	} {
		if _, err := parse(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}
