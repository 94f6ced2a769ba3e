package route

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// nodeProblem is a problem at a node, before it gets its file.
type nodeProblem struct {
	n   *yaml.Node
	msg string
}

// decodeStrict decodes n into the value into points to, like yaml.v3 but
// strictly: unknown and repeated fields are errors, and every problem keeps
// the position of its node. Fields absent from n keep their value, so a
// factory may fill defaults before decoding. Values of types that implement
// yaml.Unmarshaler are decoded by yaml.v3 itself.
func decodeStrict(n *yaml.Node, into any) []nodeProblem {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return []nodeProblem{{n, fmt.Sprintf("step factory error: decode needs a non-nil pointer, got %T", into)}}
	}
	d := &decoder{}
	d.value(n, v.Elem(), "")
	return d.probs
}

type decoder struct{ probs []nodeProblem }

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.probs = append(d.probs, nodeProblem{n, msg})
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
	timeType        = reflect.TypeFor[time.Time]()
)

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		return // reported once by the parser (rejectAliases)
	}
	if isNull(n) {
		return // keep the field's value (its default)
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == durationType || t == timeType {
		d.leaf(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			d.leaf(n, v, path)
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, found %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.leaf(n, v, path)
			return
		}
		d.mapping(n, v, path)
	default:
		d.leaf(n, v, path)
	}
}

// leaf lets yaml.v3 decode n into v and turns its error into a plain message.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(n, path, "expected %s, found %s", want(v.Type()), describe(n))
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, found %s", describe(n))
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain names, found %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, path, "key %q repeated (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		e := reflect.New(t.Elem()).Elem()
		d.value(val, e, join(path, k.Value))
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
	}
}

// field is a struct field reachable by a YAML key.
type field struct {
	index []int
}

// structFields lists the YAML keys of struct type t as yaml.v3 does: the
// tag's name, or the lower-cased field name; ",inline" structs are merged
// and an ",inline" map collects the remaining keys.
func structFields(t reflect.Type) (fields map[string]field, inlineMap []int) {
	fields = map[string]field{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.PkgPath != "" && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") {
				switch f.Type.Kind() {
				case reflect.Struct:
					walk(f.Type, idx)
				case reflect.Map:
					inlineMap = idx
				}
				continue
			}
			if f.PkgPath != "" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := fields[name]; !dup {
				fields[name] = field{idx}
			}
		}
	}
	walk(t, nil)
	return fields, inlineMap
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, found %s", describe(n))
		return
	}
	fields, inlineMap := structFields(v.Type())
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain names, found %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, path, "field %q repeated (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		f, ok := fields[k.Value]
		if !ok {
			if inlineMap != nil {
				m := v.FieldByIndex(inlineMap)
				if m.IsNil() {
					m.Set(reflect.MakeMap(m.Type()))
				}
				e := reflect.New(m.Type().Elem()).Elem()
				d.value(val, e, join(path, k.Value))
				m.SetMapIndex(reflect.ValueOf(k.Value).Convert(m.Type().Key()), e)
				continue
			}
			d.fail(k, path, "unknown field %q%s", k.Value, hint(k.Value, known))
			continue
		}
		d.value(val, v.FieldByIndex(f.index), join(path, k.Value))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// want describes in words what a value of type t looks like in YAML.
func want(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration like 90s, 30m or 72h"
	case t == timeType:
		return "a time like 2026-11-26T10:00:00+07:00"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a value of type " + t.String()
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind and value for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	case yaml.ScalarNode:
	default:
		return "nothing"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("string %q", v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	case "!!timestamp":
		return "time " + v
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), v)
}

// DecodeNode decodes n into the value into points to with the strict
// decoder of route files (unknown and repeated fields are errors, hints for
// near misses) outside a route file: a section of the node's configuration,
// say. The error lists every problem as "line L, column C: path: message",
// positions counted in the document n was read from; nil when there is none.
func DecodeNode(n *yaml.Node, into any) error {
	probs := decodeStrict(n, into)
	if len(probs) == 0 {
		return nil
	}
	msgs := make([]string, len(probs))
	for i, p := range probs {
		msgs[i] = fmt.Sprintf("line %d, column %d: %s", p.n.Line, p.n.Column, p.msg)
	}
	return errors.New(strings.Join(msgs, "; "))
}
