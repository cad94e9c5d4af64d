package jsonpatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"fhirgate/fhir"
)

// The document is held as an ordered tree: *object, *array, json.Number (the number's exact text),
// string, bool and nil.

// object is a JSON object that remembers the order of its members.
type object struct {
	keys []string
	vals map[string]any
	dup  bool // the decoded text repeated a member name (the last value won)
}

type array struct {
	items []any
}

func newObject(n int) *object {
	return &object{keys: make([]string, 0, n), vals: make(map[string]any, n)}
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set replaces the value of an existing member in place, or appends a new member.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) remove(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// maxDepth bounds the nesting of decoded documents (as encoding/json does).
const maxDepth = 10000

// decode parses one JSON value (RFC 8259) with surrounding white space.
func decode(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.errorf("unexpected %s after the top-level value", d.describeHere())
	}
	return v, nil
}

type decoder struct {
	data []byte
	pos  int
}

type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.offset) }

func (d *decoder) errorf(format string, args ...any) error {
	return &syntaxError{offset: d.pos, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) describeHere() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(d.data[d.pos:])
	return strconv.QuoteRune(r)
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("document nested deeper than %d", maxDepth)
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.errorf("unexpected %s", d.describeHere())
}

func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal, expected %s", word)
	}
	d.pos += len(word)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.pos++ // {
	o := newObject(4)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return o, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected a member name, found %s", d.describeHere())
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':', found %s", d.describeHere())
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, seen := o.vals[k]; seen {
			o.dup = true
		}
		o.set(k, v) // a repeated name keeps its first position and its last value
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in an object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return o, nil
		default:
			return nil, d.errorf("expected ',' or '}', found %s", d.describeHere())
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.pos++ // [
	a := &array{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a.items = append(a.items, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of input in an array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return a, nil
		default:
			return nil, d.errorf("expected ',' or ']', found %s", d.describeHere())
		}
	}
}

func (d *decoder) number() (any, error) {
	start := d.pos
	p := d.pos
	data := d.data
	if p < len(data) && data[p] == '-' {
		p++
	}
	switch {
	case p < len(data) && data[p] == '0':
		p++
	case p < len(data) && data[p] >= '1' && data[p] <= '9':
		for p < len(data) && data[p] >= '0' && data[p] <= '9' {
			p++
		}
	default:
		d.pos = p
		return nil, d.errorf("invalid number")
	}
	if p < len(data) && data[p] == '.' {
		p++
		if p >= len(data) || data[p] < '0' || data[p] > '9' {
			d.pos = p
			return nil, d.errorf("invalid number: digits expected after '.'")
		}
		for p < len(data) && data[p] >= '0' && data[p] <= '9' {
			p++
		}
	}
	if p < len(data) && (data[p] == 'e' || data[p] == 'E') {
		p++
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		if p >= len(data) || data[p] < '0' || data[p] > '9' {
			d.pos = p
			return nil, d.errorf("invalid number: digits expected in the exponent")
		}
		for p < len(data) && data[p] >= '0' && data[p] <= '9' {
			p++
		}
	}
	d.pos = p
	return json.Number(data[start:p]), nil
}

// string decodes a JSON string; invalid UTF-8 and lone surrogates become U+FFFD, as in encoding/json.
func (d *decoder) string() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	data := d.data
	// fast path: no escapes, no control characters, valid UTF-8
	p := start
	simple := true
	for p < len(data) {
		c := data[p]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			simple = false
			break
		}
		p++
	}
	if simple {
		if p >= len(data) {
			d.pos = p
			return "", d.errorf("unterminated string")
		}
		d.pos = p + 1
		return string(data[start:p]), nil
	}
	var b strings.Builder
	b.Write(data[start:p])
	for {
		if p >= len(data) {
			d.pos = p
			return "", d.errorf("unterminated string")
		}
		c := data[p]
		switch {
		case c == '"':
			d.pos = p + 1
			return b.String(), nil
		case c < 0x20:
			d.pos = p
			return "", d.errorf("control character in string")
		case c == '\\':
			if p+1 >= len(data) {
				d.pos = p
				return "", d.errorf("unterminated string")
			}
			e := data[p+1]
			p += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(data, p)
				if !ok {
					d.pos = p - 2
					return "", d.errorf("invalid \\u escape")
				}
				p += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := lowSurrogate(data, p); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							p += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				d.pos = p - 2
				return "", d.errorf("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p++
		default:
			r, size := utf8.DecodeRune(data[p:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.Write(data[p : p+size])
			}
			p += size
		}
	}
}

func hex4(data []byte, p int) (rune, bool) {
	if p+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[p : p+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// lowSurrogate reads a following \uXXXX escape when there is one.
func lowSurrogate(data []byte, p int) (rune, bool) {
	if p+6 > len(data) || data[p] != '\\' || data[p+1] != 'u' {
		return 0, false
	}
	return hex4(data, p+2)
}

// encode appends the compact JSON form of v.
func encode(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		if x {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case json.Number:
		return append(buf, x...)
	case string:
		return fhir.AppendJSONString(buf, x)
	case *array:
		buf = append(buf, '[')
		for i, item := range x.items {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = encode(buf, item)
		}
		return append(buf, ']')
	case *object:
		buf = append(buf, '{')
		for i, k := range x.keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = fhir.AppendJSONString(buf, k)
			buf = append(buf, ':')
			buf = encode(buf, x.vals[k])
		}
		return append(buf, '}')
	}
	panic(fmt.Sprintf("jsonpatch: unexpected value type %T", v)) // unreachable: only decode builds trees
}

// deepCopy copies the mutable parts of a value (objects and arrays).
func deepCopy(v any) any {
	switch x := v.(type) {
	case *object:
		o := &object{keys: append([]string(nil), x.keys...), vals: make(map[string]any, len(x.vals))}
		for k, val := range x.vals {
			o.vals[k] = deepCopy(val)
		}
		return o
	case *array:
		a := &array{items: make([]any, len(x.items))}
		for i, item := range x.items {
			a.items[i] = deepCopy(item)
		}
		return a
	}
	return v
}

// size measures a value for the growth limit: one unit per value plus the length of strings, numbers
// and member names.
func size(v any) int {
	switch x := v.(type) {
	case *object:
		n := 1
		for _, k := range x.keys {
			n += len(k) + size(x.vals[k])
		}
		return n
	case *array:
		n := 1
		for _, item := range x.items {
			n += size(item)
		}
		return n
	case string:
		return 1 + len(x)
	case json.Number:
		return 1 + len(x)
	}
	return 1
}

// equal compares two values as the RFC 6902 test operation does: numbers by value, objects by their
// members regardless of order, arrays item by item.
func equal(a, b any) bool {
	switch x := a.(type) {
	case *object:
		y, ok := b.(*object)
		if !ok || len(x.vals) != len(y.vals) {
			return false
		}
		for k, xv := range x.vals {
			yv, ok := y.vals[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case *array:
		y, ok := b.(*array)
		if !ok || len(x.items) != len(y.items) {
			return false
		}
		for i := range x.items {
			if !equal(x.items[i], y.items[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(string(x), string(y))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// numbersEqual compares two JSON number texts by value without converting them to floating point
// (exact, and safe with huge exponents).
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	na, err1 := normalizeNumber(a)
	nb, err2 := normalizeNumber(b)
	return err1 == nil && err2 == nil && na == nb
}

var errNumber = errors.New("invalid number")

// normalizeNumber returns a canonical form sign|digits|exponent of a JSON number: digits without
// leading or trailing zeros, value = 0.digits × 10^exponent. Zero is "0".
func normalizeNumber(s string) (string, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	var exp int64
	if hasExp {
		eneg := strings.HasPrefix(expText, "-")
		expText = strings.TrimLeft(expText, "+-")
		if expText == "" {
			return "", errNumber
		}
		for _, c := range []byte(expText) {
			if c < '0' || c > '9' {
				return "", errNumber
			}
			if exp < 1<<40 {
				exp = exp*10 + int64(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	digits := intPart + frac
	exp += int64(len(intPart))
	trimmed := strings.TrimLeft(digits, "0")
	exp -= int64(len(digits) - len(trimmed))
	trimmed = strings.TrimRight(trimmed, "0")
	if trimmed == "" {
		return "0", nil
	}
	sign := "+"
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.FormatInt(exp, 10), nil
}
