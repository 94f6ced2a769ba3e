package soapout

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
)

// LintMapping checks a mapping against the request type of b, as
// `lgsp routes lint` does: every field path resolves (through embedded and
// pointer fields), every source's value can be set into its field
// (constants are tried, dates included) and, when required is true, every
// required element of the request is mapped. A mapping it accepts cannot
// fail at run time on its shape: only on values (an edXML field that is
// not a number, an empty date).
func LintMapping(b Binding, mapping []soap.FieldMap, required bool) []MappingProblem {
	t := reflect.TypeOf(b.NewRequest())
	var ps []MappingProblem
	var paths []string
	for _, m := range mapping {
		paths = append(paths, m.Field)
		leaf, err := soap.CheckField(t, m.Field)
		if err != nil {
			ps = append(ps, MappingProblem{Line: m.Line, Col: m.Col, Msg: "mapping: " + err.Error()})
			continue
		}
		if msg := sourceFits(m.Source, leaf); msg != "" {
			ps = append(ps, MappingProblem{Line: m.Line, Col: m.Col, Msg: fmt.Sprintf("mapping: %s: %s", m.Field, msg)})
		}
	}
	if required {
		if miss := soap.MissingRequired(t, paths); len(miss) > 0 {
			ps = append(ps, MappingProblem{Msg: fmt.Sprintf("mapping: required element(s) of %s not mapped: %s (an empty required element is refused by the legacy system, or left out of the message)", t.Elem().Name(), strings.Join(miss, ", "))})
		}
	}
	return ps
}

// MappingProblem is one problem of a mapping; Line 0 means the mapping
// as a whole.
type MappingProblem struct {
	Line, Col int
	Msg       string
}

// sourceKinds are the Go kinds of the push sources' values.
func sourceValue(src string) (any, bool) {
	switch {
	case strings.HasPrefix(src, "const:"):
		return strings.TrimPrefix(src, "const:"), true
	case strings.HasPrefix(src, "edxml:"), strings.HasPrefix(src, "json:"):
		return nil, false // known when the document comes
	}
	switch src {
	case "priority", "size", "attachment.size":
		return int64(1), true
	case "urgent":
		return true, true
	case "created_at":
		return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true
	case "content", "attachment.content":
		return []byte("x"), true
	}
	return nil, false // metadata text: checked by kind below
}

// sourceFits says why the values of src can never go into a field of
// type leaf, or "".
func sourceFits(src string, leaf reflect.Type) string {
	if v, ok := sourceValue(src); ok {
		if err := soap.CheckValue(leaf, v); err != nil {
			what := "the values of " + src
			if strings.HasPrefix(src, "const:") {
				what = "the constant"
			}
			return fmt.Sprintf("%s cannot go into %s: %v", what, leaf, trimPath(err))
		}
		return ""
	}
	if strings.HasPrefix(src, "edxml:") || strings.HasPrefix(src, "json:") {
		return ""
	}
	// Metadata text (identifiers, titles, codes): only text fields take it.
	if leaf.Kind() != reflect.String && !(leaf.Kind() == reflect.Slice && leaf.Elem().Kind() == reflect.Uint8) {
		return fmt.Sprintf("%s is text and cannot go into %s", src, leaf)
	}
	return ""
}

// trimPath drops the "value: " prefix of a CheckValue error.
func trimPath(err error) string {
	return strings.TrimPrefix(err.Error(), "value: ")
}

// LintAnswer checks that the fields an answer rule tests exist in the
// answer type of b and hold text.
func LintAnswer(b Binding, r AnswerRule) []MappingProblem {
	var ps []MappingProblem
	for _, at := range []*AnswerTest{r.Success, r.Refusal} {
		if at == nil {
			continue
		}
		if b.NewResponse == nil {
			ps = append(ps, MappingProblem{Line: at.Line, Col: at.Col, Msg: "answer: the operation's answer is not decoded (its binding has no NewResponse)"})
			continue
		}
		if _, err := soap.CheckField(reflect.TypeOf(b.NewResponse()), at.Field); err != nil {
			ps = append(ps, MappingProblem{Line: at.Line, Col: at.Col, Msg: "answer: " + err.Error()})
		}
	}
	return ps
}
