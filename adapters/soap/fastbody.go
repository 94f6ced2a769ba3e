package soap

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"reflect"
	"strconv"
)

// minCut is the shortest text run decodeBody takes out of encoding/xml's
// hands (a variable for the fuzz test).
var minCut = 1024

// decodeBody decodes the body's operation element, which starts at off in
// r.data with start, into a value from newV, and returns it.
//
// encoding/xml reads character data a byte at a time (≈ 60 MB/s): a
// sendEdoc's base64 packet of tens of kilobytes was a quarter of the
// node's CPU per call. So the element is first scanned with a byte
// scanner; each long run of plain base64 text (only A–Z a–z 0–9 + / = and
// blanks, no entity, no carriage return: text encoding/xml would copy as
// it is) that is the whole content of an element is replaced by a short
// unique placeholder, the rest is decoded by encoding/xml as before, and
// each placeholder found as the whole value of a string or []byte field
// is replaced by its run. When the scan finds anything it does not
// handle, or a placeholder does not come back exactly once as a whole
// field (another type, a custom unmarshaller, mixed content), the element
// is decoded by encoding/xml alone, as before: the result is always what
// encoding/xml gives, errors included (FuzzDecodeBodyMatchesDecoder).
func (r *reader) decodeBody(newV func() any, start xml.StartElement, off int64) (any, error) {
	el := r.data[off:]
	end, runs, ok := scanElement(el)
	if ok && len(runs) > 0 {
		if v, ok := decodeCut(newV, r.scope, start, el[:end], runs); ok {
			return v, nil
		}
	}
	// encoding/xml alone, from where the envelope's reading stopped: its
	// errors name their place in the message.
	v := newV()
	return v, r.dec.DecodeElement(v, &start)
}

// decodeCut decodes el with its runs replaced by placeholders and puts the
// runs back; false when that does not give encoding/xml's result.
func decodeCut(newV func() any, sc scope, start xml.StartElement, el []byte, runs [][2]int) (any, bool) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	tag := "lgspcut" + hex.EncodeToString(nonce[:])
	if bytes.Contains(el, []byte(tag)) {
		return nil, false
	}
	cuts := make(map[string][]byte, len(runs))
	cut := 0
	for _, run := range runs {
		cut += run[1] - run[0]
	}
	var b bytes.Buffer
	b.Grow(len(el) - cut + (len(tag)+8)*len(runs))
	last := 0
	for i, run := range runs {
		ph := tag + "x" + strconv.Itoa(i)
		b.Write(el[last:run[0]])
		b.WriteString(ph)
		cuts[ph] = el[run[0]:run[1]]
		last = run[1]
	}
	b.Write(el[last:])
	v := newV()
	if err := decodeStandalone(v, sc.standalone(b.Bytes(), start)); err != nil {
		return nil, false
	}
	seen := make(map[string]int, len(cuts))
	if !putBack(reflect.ValueOf(v), tag, cuts, seen) || len(seen) != len(cuts) {
		return nil, false
	}
	for _, n := range seen {
		if n != 1 {
			return nil, false
		}
	}
	return v, true
}

// putBack replaces, in the value v points into, every string or []byte
// that is a placeholder by its run, counting them in seen; false when a
// placeholder appears anywhere else (part of a longer value, a map key).
func putBack(v reflect.Value, tag string, cuts map[string][]byte, seen map[string]int) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		return putBack(v.Elem(), tag, cuts, seen)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if !putBack(v.Field(i), tag, cuts, seen) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Array {
				return true // encoding/xml writes no text into a byte array
			}
			if run, ok := cuts[string(v.Bytes())]; ok && v.CanSet() {
				seen[string(v.Bytes())]++
				v.SetBytes(append([]byte(nil), run...))
				return true
			}
			return !bytes.Contains(v.Bytes(), []byte(tag))
		}
		for i := range v.Len() {
			if !putBack(v.Index(i), tag, cuts, seen) {
				return false
			}
		}
		return true
	case reflect.String:
		if run, ok := cuts[v.String()]; ok && v.CanSet() {
			seen[v.String()]++
			v.SetString(string(run))
			return true
		}
		return !bytes.Contains([]byte(v.String()), []byte(tag))
	case reflect.Map:
		return false
	}
	return true
}

// decodeStandalone decodes the standalone XML of one element into v.
func decodeStandalone(v any, el []byte) error {
	d := xml.NewDecoder(bytes.NewReader(el))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return d.DecodeElement(v, &se)
		}
	}
}

// scanElement scans el, which starts with an element's start tag, to that
// element's end, and returns where it ends and the runs of plain base64
// text, at least minCut long, that are the whole content of an element
// inside it. ok is false when it meets what it does not handle (CDATA,
// directives, a tag it cannot read): then nothing is cut.
func scanElement(el []byte) (end int, runs [][2]int, ok bool) {
	depth, i := 0, 0
	afterStart := false // the last markup was a start tag (not self-closed)
	for i < len(el) {
		if el[i] != '<' {
			j := bytes.IndexByte(el[i:], '<')
			if j < 0 {
				return 0, nil, false
			}
			if depth > 0 && afterStart && j >= minCut && i+j+1 < len(el) && el[i+j+1] == '/' && plainBase64(el[i:i+j]) {
				runs = append(runs, [2]int{i, i + j})
			}
			i += j
			afterStart = false
			continue
		}
		rest := el[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				return 0, nil, false
			}
			i += 4 + k + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			k := bytes.Index(rest[2:], []byte("?>"))
			if k < 0 {
				return 0, nil, false
			}
			i += 2 + k + 2
		case bytes.HasPrefix(rest, []byte("<!")):
			return 0, nil, false // CDATA or a declaration
		case bytes.HasPrefix(rest, []byte("</")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 || depth == 0 {
				return 0, nil, false
			}
			depth--
			i += k + 1
			if depth == 0 {
				return i, runs, true
			}
		default:
			k, closed := tagEnd(rest)
			if k < 0 {
				return 0, nil, false
			}
			i += k + 1
			if !closed {
				depth++
			} else if depth == 0 {
				return i, nil, true // the element is empty
			}
			afterStart = !closed
			continue
		}
		afterStart = false
	}
	return 0, nil, false
}

// tagEnd returns the index of the '>' that ends the start tag t begins
// with (quotes respected) and whether the tag closes itself; -1 if none.
func tagEnd(t []byte) (int, bool) {
	var quote byte
	for k := 1; k < len(t); k++ {
		c := t[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			return -1, false
		case c == '>':
			return k, t[k-1] == '/'
		}
	}
	return -1, false
}

// plainBase64 reports whether text holds only base64 characters and
// blanks other than a carriage return: encoding/xml copies such text as it
// is.
func plainBase64(text []byte) bool {
	for _, c := range text {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=', c == ' ', c == '\t', c == '\n':
		default:
			return false
		}
	}
	return true
}
