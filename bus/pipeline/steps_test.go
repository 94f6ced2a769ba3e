package pipeline

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
)

// strictDecode is the decode callback a factory gets, built from YAML text:
// unknown fields are errors, as in package route.
func strictDecode(cfg string) func(any) error {
	return func(into any) error {
		d := yaml.NewDecoder(strings.NewReader(cfg))
		d.KnownFields(true)
		err := d.Decode(into)
		if err != nil && err.Error() == "EOF" {
			return nil // empty configuration
		}
		return err
	}
}

func build(t *testing.T, kind, cfg string) (bus.Step, error) {
	t.Helper()
	spec, ok := bus.DefaultSteps.Lookup(kind)
	if !ok {
		t.Fatalf("step %q is not registered", kind)
	}
	return spec.New(strictDecode(cfg))
}

const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		msg     bus.Message
		wantErr string // substring of the step error; "" = passes
	}{
		{"empty config passes anything", "", bus.Message{MediaType: "x/y"}, ""},
		{"allowed type", `media_types: [application/xml]`, bus.Message{MediaType: "application/xml"}, ""},
		{"type with parameters and case", `media_types: [application/xml]`, bus.Message{MediaType: "Application/XML; charset=utf-8"}, ""},
		{"wildcard subtype", `media_types: ["image/*"]`, bus.Message{MediaType: "image/png"}, ""},
		{"wrong type", `media_types: [application/xml, application/pdf]`, bus.Message{MediaType: "text/plain"}, `media type "text/plain" is not allowed (allowed: application/xml, application/pdf)`},
		{"missing type", `media_types: [application/xml]`, bus.Message{}, `media type "" is not allowed`},
		{"too large", `max_bytes: 10`, bus.Message{Size: 11}, "size 11 bytes exceeds the limit of 10"},
		{"at the limit", `max_bytes: 10`, bus.Message{Size: 10}, ""},
		{"too small", `min_bytes: 1`, bus.Message{Size: 0}, "size 0 bytes is below the minimum of 1"},
		{"sha256 present", `require_sha256: true`, bus.Message{SHA256: sha}, ""},
		{"sha256 missing", `require_sha256: true`, bus.Message{}, "no SHA-256"},
		{"sha256 upper case", `require_sha256: true`, bus.Message{SHA256: strings.ToUpper(sha)}, "no SHA-256"},
		{"all failures named", `{media_types: [application/xml], max_bytes: 1, require_sha256: true}`, bus.Message{MediaType: "text/plain", Size: 2}, "not allowed (allowed: application/xml); size 2 bytes exceeds the limit of 1; no SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := build(t, "validate", tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := tt.msg
			err = s.Process(context.Background(), &m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Process: %v", err)
				}
				return
			}
			if bus.CodeOf(err) != bus.ErrStepFailed.Code {
				t.Fatalf("Process = %v, want code %s", err, bus.ErrStepFailed.Code)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Process = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFactoryErrors(t *testing.T) {
	tests := []struct{ kind, cfg, want string }{
		{"validate", `max_bytes: -1`, "max_bytes must not be negative"},
		{"validate", `{min_bytes: 5, max_bytes: 4}`, "min_bytes 5 exceeds max_bytes 4"},
		{"validate", `media_types: ["application"]`, `media type "application" is not of the form`},
		{"validate", `media_types: ["*/*"]`, `media type "*/*" is not of the form`},
		{"validate", `media_types: ["text/plain; charset=utf-8"]`, "is not of the form"},
		{"validate", `max_byte: 5`, "field max_byte not found"},
		{"label", `value: x`, "key is required"},
		{"label", `{key: "Phòng ban", value: x}`, `key "Phòng ban" must be lowercase`},
		{"label", `{key: k, value: x, extra: 1}`, "field extra not found"},
		{"reject", ``, "reason is required"},
		{"reject", `reason: "  "`, "reason is required"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.cfg, func(t *testing.T) {
			_, err := build(t, tt.kind, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("factory error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	s, err := build(t, "label", `{key: phong-ban, value: van-thu}`)
	if err != nil {
		t.Fatal(err)
	}
	var m bus.Message
	if err := s.Process(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Labels["phong-ban"] != "van-thu" {
		t.Fatalf("labels = %v", m.Labels)
	}
}

func TestReject(t *testing.T) {
	s, err := build(t, "reject", `reason: "không tiếp nhận"`)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Process(context.Background(), &bus.Message{})
	if bus.CodeOf(err) != bus.ErrStepFailed.Code || !strings.Contains(err.Error(), "rejected: không tiếp nhận") {
		t.Fatalf("Process = %v", err)
	}
}

// TestSpecsDocumented checks that every core step has a summary and an
// example that builds: docs/routes.md is generated from them.
func TestSpecsDocumented(t *testing.T) {
	for _, kind := range []string{"validate", "label", "reject"} {
		spec, ok := bus.DefaultSteps.Lookup(kind)
		if !ok {
			t.Fatalf("step %q is not registered", kind)
		}
		if spec.Summary == "" || !strings.HasSuffix(spec.Summary, ".") {
			t.Errorf("%s: summary %q is not a sentence", kind, spec.Summary)
		}
		var items []map[string]yaml.Node
		if err := yaml.Unmarshal([]byte(spec.Example), &items); err != nil || len(items) != 1 || len(items[0]) != 1 {
			t.Fatalf("%s: example %q is not a one-item step list: %v", kind, spec.Example, err)
		}
		cfg, ok := items[0][kind]
		if !ok {
			t.Fatalf("%s: example does not use the kind %q", kind, kind)
		}
		_, err := spec.New(func(into any) error {
			out, err := yaml.Marshal(&cfg)
			if err != nil {
				return err
			}
			return strictDecode(string(out))(into)
		})
		if err != nil {
			t.Errorf("%s: example does not build: %v", kind, err)
		}
	}
}
