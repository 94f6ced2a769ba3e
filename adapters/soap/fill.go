package soap

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// SetField sets one field of the struct req points to (a request value of
// a generated type) from v, converting it to the field's type. path names
// Go fields: "Name", "Outer.Inner" (nil pointers on the way are
// allocated), or "List[].Item" to set Item in the items of a repeated
// element, where v is a []any with one value per item (the slice is grown
// to that length).
//
// Conversions: strings, numbers, bools, time.Time and []byte go into
// string, integer, float and bool fields as their text would parse; a
// []byte field receives the base64 text of the value (gowsdl maps
// xsd:base64Binary to []byte, which encoding/xml writes verbatim); a nil v
// leaves the field unset.
func SetField(req any, path string, v any) error {
	rv := reflect.ValueOf(req)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("request %T is not a pointer to a struct", req)
	}
	if v == nil {
		return nil
	}
	outer, inner, repeated := strings.Cut(path, "[].")
	if !repeated {
		f, err := fieldAt(rv.Elem(), path)
		if err != nil {
			return err
		}
		return assign(f, v, path)
	}
	list, err := fieldAt(rv.Elem(), outer)
	if err != nil {
		return err
	}
	if list.Kind() != reflect.Slice {
		return fmt.Errorf("%s is %s, not a repeated element", outer, list.Type())
	}
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%s: expected one value per item, got %T", path, v)
	}
	if list.Len() < len(items) {
		grown := reflect.MakeSlice(list.Type(), len(items), len(items))
		reflect.Copy(grown, list)
		list.Set(grown)
	}
	for i, it := range items {
		el := list.Index(i)
		if el.Kind() == reflect.Pointer {
			if el.IsNil() {
				el.Set(reflect.New(el.Type().Elem()))
			}
			el = el.Elem()
		}
		if el.Kind() != reflect.Struct {
			return fmt.Errorf("%s: the items are %s, not structs", outer, el.Type())
		}
		f, err := fieldAt(el, inner)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", outer, i, err)
		}
		if it == nil {
			continue
		}
		if err := assign(f, it, fmt.Sprintf("%s[%d].%s", outer, i, inner)); err != nil {
			return err
		}
	}
	return nil
}

// fieldAt walks the dotted path of exported fields from s.
func fieldAt(s reflect.Value, path string) (reflect.Value, error) {
	cur := s
	for _, name := range strings.Split(path, ".") {
		if cur.Kind() == reflect.Pointer {
			if cur.IsNil() {
				cur.Set(reflect.New(cur.Type().Elem()))
			}
			cur = cur.Elem()
		}
		if cur.Kind() != reflect.Struct {
			return reflect.Value{}, fmt.Errorf("%s: %s is not a struct", path, cur.Type())
		}
		sf, ok := cur.Type().FieldByName(name)
		if !ok || !sf.IsExported() || name == "XMLName" {
			return reflect.Value{}, fmt.Errorf("%s: %s has no field %s", path, cur.Type(), name)
		}
		cur = cur.FieldByIndex(sf.Index)
	}
	return cur, nil
}

// text returns v as text for string-like targets.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func assign(f reflect.Value, v any, path string) error {
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		f = f.Elem()
	}
	bad := func(err error) error {
		return fmt.Errorf("%s: cannot set %s from %T %q: %v", path, f.Type(), v, text(v), err)
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(text(v))
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.Uint8 {
			return bad(fmt.Errorf("map the items of a repeated element with %s[].<field>", path))
		}
		var raw []byte
		if b, ok := v.([]byte); ok {
			raw = b
		} else {
			raw = []byte(text(v))
		}
		f.SetBytes([]byte(base64.StdEncoding.EncodeToString(raw)))
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			f.SetBool(x)
		case int64:
			f.SetBool(x != 0)
		case float64:
			f.SetBool(x != 0)
		default:
			b, err := strconv.ParseBool(strings.TrimSpace(text(v)))
			if err != nil {
				return bad(err)
			}
			f.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case float64:
			if x != float64(int64(x)) {
				return bad(fmt.Errorf("not a whole number"))
			}
			n = int64(x)
		case bool:
			if x {
				n = 1
			}
		default:
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(text(v)), 10, 64); err != nil {
				return bad(err)
			}
		}
		if f.OverflowInt(n) {
			return bad(fmt.Errorf("out of range"))
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(text(v)), 10, 64)
		if err != nil || f.OverflowUint(n) {
			return bad(fmt.Errorf("not an unsigned number in range"))
		}
		f.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(text(v)), 64)
		if err != nil {
			return bad(err)
		}
		f.SetFloat(x)
	default:
		return bad(fmt.Errorf("unsupported field type"))
	}
	return nil
}
