package soap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
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

// fieldAt walks the dotted path of exported fields from s, allocating
// nil pointers on the way — embedded ones too (an XSD extension base is an
// embedded *Base that gowsdl leaves nil, and reflect panics through it).
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
		if isRawXML(sf) {
			return reflect.Value{}, fmt.Errorf("%s holds raw XML (xsd:any) and cannot be mapped: a value would be written unescaped", path)
		}
		for _, i := range sf.Index {
			if cur.Kind() == reflect.Pointer {
				if cur.IsNil() {
					cur.Set(reflect.New(cur.Type().Elem()))
				}
				cur = cur.Elem()
			}
			cur = cur.Field(i)
		}
	}
	return cur, nil
}

// isRawXML reports a field encoding/xml writes verbatim.
func isRawXML(sf reflect.StructField) bool {
	_, opts, _ := strings.Cut(sf.Tag.Get("xml"), ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "innerxml" || o == "any" || o == "comment" {
			return true
		}
	}
	return false
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
	// The value is the document's: never quoted (bus: no payload text in
	// errors), only its type and length.
	bad := func(err error) error {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return fmt.Errorf("%s: cannot set %s from a %T of %d characters: %v", path, f.Type(), v, len(text(v)), err)
	}
	if kind := xsdTimeKind(f.Type()); kind != "" {
		return setXSDTime(f, kind, v, path)
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(text(v))
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.Uint8 {
			return assignList(f, v, path)
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

// assignList sets a repeated simple element (.NET's ArrayOfInt items):
// one item per value of a list, or a single item.
func assignList(f reflect.Value, v any, path string) error {
	el := f.Type().Elem()
	if k := el.Kind(); k == reflect.Struct || k == reflect.Pointer && el.Elem().Kind() == reflect.Struct && xsdTimeKind(el.Elem()) == "" {
		return fmt.Errorf("%s: map the items of a repeated element with %s[].<field>", path, path)
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	list := reflect.MakeSlice(f.Type(), len(items), len(items))
	for i, it := range items {
		if err := assign(list.Index(i), it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	f.Set(list)
	return nil
}

// xsdTimeKind says which XSD type a field of gowsdl's date types holds
// ("dateTime", "date", "time"), or "".
func xsdTimeKind(t reflect.Type) string {
	if t.PkgPath() != "github.com/hooklift/gowsdl/soap" {
		return ""
	}
	switch t.Name() {
	case "XSDDateTime":
		return "dateTime"
	case "XSDDate":
		return "date"
	case "XSDTime":
		return "time"
	}
	return ""
}

// xsdLayouts are the lexical forms accepted for each XSD time type.
var xsdLayouts = map[string][]string{
	"dateTime": {time.RFC3339Nano, "2006-01-02T15:04:05.999999999"},
	"date":     {"2006-01-02Z07:00", "2006-01-02"},
	"time":     {"15:04:05.999999999Z07:00", "15:04:05.999999999"},
}

// setXSDTime sets a gowsdl date type from a time.Time or its XSD text:
// the text is checked here (gowsdl's UnmarshalXML silently keeps a zero
// time for text it cannot parse, which it then leaves out of the message)
// and handed to the type's own UnmarshalXML. An empty value is an error:
// a zero date type is never written, so it would drop the element.
func setXSDTime(f reflect.Value, kind string, v any, path string) error {
	var s string
	if t, ok := v.(time.Time); ok {
		if t.IsZero() {
			return fmt.Errorf("%s: the %s is empty", path, kind)
		}
		s = t.Format(xsdLayouts[kind][0])
	} else {
		s = strings.TrimSpace(text(v))
	}
	if s == "" {
		return fmt.Errorf("%s: the %s is empty; xsd:%s needs a value (map a source that always has one, or leave the element out if it is optional)", path, kind, kind)
	}
	ok := false
	for _, layout := range xsdLayouts[kind] {
		if _, err := time.Parse(layout, s); err == nil {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%s: %d characters that are not an xsd:%s (e.g. %s)", path, len(s), kind, map[string]string{"dateTime": "2026-12-05T08:30:00+07:00", "date": "2026-12-05", "time": "08:30:00"}[kind])
	}
	u, ok := f.Addr().Interface().(xml.Unmarshaler)
	if !ok {
		return fmt.Errorf("%s: %s cannot be set", path, f.Type())
	}
	var b bytes.Buffer
	b.WriteString("<v>")
	_ = xml.EscapeText(&b, []byte(s))
	b.WriteString("</v>")
	d := xml.NewDecoder(&b)
	tok, err := d.Token()
	if err != nil {
		return err
	}
	start := tok.(xml.StartElement)
	return u.UnmarshalXML(d, start)
}

// CheckField resolves path (as SetField takes it) in the request type t
// without a value, as route lint does: it returns the type a value is
// converted to, or why no value can ever be set there.
func CheckField(t reflect.Type, path string) (reflect.Type, error) {
	outer, inner, repeated := strings.Cut(path, "[].")
	if !repeated {
		return typeAt(t, path)
	}
	lt, err := resolveType(t, outer)
	if err != nil {
		return nil, err
	}
	if lt.Kind() == reflect.Pointer {
		lt = lt.Elem()
	}
	if lt.Kind() != reflect.Slice || lt.Elem().Kind() == reflect.Uint8 {
		return nil, fmt.Errorf("%s is %s, not a repeated element", outer, lt)
	}
	return typeAt(lt.Elem(), inner)
}

// typeAt is fieldAt on types; the final type must take a value.
func typeAt(t reflect.Type, path string) (reflect.Type, error) {
	cur, err := resolveType(t, path)
	if err != nil {
		return nil, err
	}
	return leafType(cur, path)
}

// resolveType follows path through t's fields (embedded and pointer ones
// included) to the type of the last one.
func resolveType(t reflect.Type, path string) (reflect.Type, error) {
	cur := t
	for _, name := range strings.Split(path, ".") {
		if cur.Kind() == reflect.Pointer {
			cur = cur.Elem()
		}
		if cur.Kind() != reflect.Struct || xsdTimeKind(cur) != "" {
			return nil, fmt.Errorf("%s: %s is not a struct", path, cur)
		}
		sf, ok := cur.FieldByName(name)
		if !ok || !sf.IsExported() || name == "XMLName" {
			return nil, fmt.Errorf("%s: %s has no field %s%s", path, cur, name, fieldHint(cur))
		}
		if isRawXML(sf) {
			return nil, fmt.Errorf("%s holds raw XML (xsd:any) and cannot be mapped: a value would be written unescaped", path)
		}
		cur = sf.Type
	}
	return cur, nil
}

// leafType checks that a resolved field type takes a value.
func leafType(cur reflect.Type, path string) (reflect.Type, error) {
	leaf := cur
	if leaf.Kind() == reflect.Pointer {
		leaf = leaf.Elem()
	}
	switch {
	case xsdTimeKind(leaf) != "":
	case leaf.Kind() == reflect.Slice && leaf.Elem().Kind() == reflect.Uint8:
	case leaf.Kind() == reflect.Slice:
		el := leaf.Elem()
		if el.Kind() == reflect.Pointer {
			el = el.Elem()
		}
		if el.Kind() == reflect.Struct && xsdTimeKind(el) == "" {
			return nil, fmt.Errorf("%s is a repeated element (%s): map its items with %s[].<field>", path, leaf, path)
		}
		return el, nil // a repeated simple element: one item per value
	case leaf.Kind() == reflect.Struct:
		return nil, fmt.Errorf("%s is a complex element (%s): map its fields, %s.<field>%s", path, leaf, path, fieldHint(leaf))
	case leaf.Kind() == reflect.String, leaf.Kind() == reflect.Bool,
		leaf.Kind() >= reflect.Int && leaf.Kind() <= reflect.Uint64, leaf.Kind() == reflect.Float32, leaf.Kind() == reflect.Float64:
	default:
		return nil, fmt.Errorf("%s: %s cannot be set from a route", path, leaf)
	}
	return leaf, nil
}

// fieldHint lists the settable field names of a struct type.
func fieldHint(t reflect.Type) string {
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && !f.Anonymous && f.Name != "XMLName" && !isRawXML(f) {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (fields: " + strings.Join(names, ", ") + ")"
}

// XSDTimeKind says which XSD type a field type of gowsdl's date types is
// ("dateTime", "date", "time"), or "" for any other type.
func XSDTimeKind(t reflect.Type) string { return xsdTimeKind(t) }

// MissingRequired returns the Go paths of the required elements of the
// request type t (fixgen leaves omitempty off them) that a mapping of
// paths leaves empty: at the top level, and inside every complex element
// that the mapping creates. An optional element that nothing maps is left
// out of the message and its required children do not count.
func MissingRequired(t reflect.Type, paths []string) []string {
	mapped := map[string]bool{}
	for _, p := range paths {
		p = strings.Replace(p, "[].", ".", 1)
		parts := strings.Split(p, ".")
		for i := range parts {
			mapped[strings.Join(parts[:i+1], ".")] = true
		}
	}
	var missing []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || xsdTimeKind(t) != "" {
			return
		}
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || f.Name == "XMLName" || isRawXML(f) {
				continue
			}
			ft := f.Type
			if f.Anonymous {
				continue // its fields are visible ones of t
			}
			path := prefix + f.Name
			tag := f.Tag.Get("xml")
			name, opts, _ := strings.Cut(tag, ",")
			required := tag != "" && name != "-" && !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",chardata,")
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
				// fixgen leaves omitempty off every list (encoding/xml
				// would drop zero items) and marks the required ones.
				required = f.Tag.Get("xsd") == "required"
			}
			inner := ft
			if inner.Kind() == reflect.Pointer || inner.Kind() == reflect.Slice && inner.Elem().Kind() != reflect.Uint8 {
				inner = inner.Elem()
				if inner.Kind() == reflect.Pointer {
					inner = inner.Elem()
				}
			}
			isStruct := inner.Kind() == reflect.Struct && xsdTimeKind(inner) == ""
			switch {
			case isStruct && (mapped[path] || ft.Kind() == reflect.Struct):
				// present: a value struct always is, a pointer or list
				// when a mapping reaches into it.
				if required && !mapped[path] && ft.Kind() != reflect.Struct {
					missing = append(missing, path)
				}
				walk(inner, path+".")
			case required && !mapped[path]:
				missing = append(missing, path)
			}
		}
	}
	walk(t, "")
	return missing
}

// CheckValue reports whether v can be set into a field of type t (as
// CheckField returns it), without a request: route lint tries constants.
func CheckValue(t reflect.Type, v any) error {
	return assign(reflect.New(t).Elem(), v, "value")
}

// FieldText returns the text of the field at path (Go field names, dotted)
// of the value v points to, as it would be written in XML; ok is false
// when a pointer on the way is nil (the element was absent).
func FieldText(v any, path string) (text string, ok bool) {
	cur := reflect.ValueOf(v)
	for _, name := range strings.Split(path, ".") {
		for cur.Kind() == reflect.Pointer || cur.Kind() == reflect.Interface {
			if cur.IsNil() {
				return "", false
			}
			cur = cur.Elem()
		}
		if cur.Kind() != reflect.Struct {
			return "", false
		}
		sf, found := cur.Type().FieldByName(name)
		if !found || !sf.IsExported() {
			return "", false
		}
		f, err := cur.FieldByIndexErr(sf.Index)
		if err != nil { // through a nil embedded pointer
			return "", false
		}
		cur = f
	}
	for cur.Kind() == reflect.Pointer {
		if cur.IsNil() {
			return "", false
		}
		cur = cur.Elem()
	}
	switch cur.Kind() {
	case reflect.String:
		return cur.String(), true
	case reflect.Slice:
		if cur.Type().Elem().Kind() == reflect.Uint8 {
			return string(cur.Bytes()), true
		}
		return "", cur.Len() > 0
	case reflect.Struct:
		b, err := xml.Marshal(cur.Interface())
		return string(b), err == nil
	}
	return fmt.Sprint(cur.Interface()), true
}
