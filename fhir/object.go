package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// Member is one member of a JSON object, with its value's exact bytes.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Object is a JSON object whose members keep their order and the exact bytes of their values (numbers
// keep their precision, e.g. 1.50 stays 1.50). It is how fhirgate edits a resource without rewriting it.
type Object []Member

// ParseObject parses a JSON object. Duplicate member names and trailing data are errors.
func ParseObject(b []byte) (Object, error) {
	if json.Valid(b) {
		if obj, ok := scanObject(b); ok {
			return obj, nil
		}
	}
	return decodeObject(b)
}

// scanObject splits a valid JSON document's top-level object into members without decoding the values
// (the fast path of ParseObject); ok is false when b is not an object or has duplicate or escaped member
// names, which the slower decoder then handles and reports.
func scanObject(b []byte) (Object, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	obj := make(Object, 0, 16)
	if i < len(b) && b[i] == '}' {
		return obj, skipSpace(b, i+1) == len(b)
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, false
		}
		end := i + 1
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				return nil, false // escaped names: let the decoder unescape them
			}
			end++
		}
		if !utf8.Valid(b[i+1 : end]) {
			return nil, false
		}
		name := string(b[i+1 : end])
		for _, m := range obj {
			if m.Name == name {
				return nil, false
			}
		}
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		start := i
		i = skipValue(b, i)
		obj = append(obj, Member{Name: name, Value: json.RawMessage(b[start:i])})
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return obj, skipSpace(b, i+1) == len(b)
		}
		return nil, false
	}
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the (valid) JSON value starting at i.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i
			}
		case ',':
			if depth == 0 {
				return i
			}
		case ' ', '\n', '\t', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// decodeObject is ParseObject's careful path: it reports where and why a document is not an object.
func decodeObject(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(b, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("expected a JSON object")
	}
	var obj Object
	seen := make(map[string]bool, 16)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(b, dec, err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(b, dec, err)
		}
		obj = append(obj, Member{Name: name, Value: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(b, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON object at offset %d", dec.InputOffset())
	}
	return obj, nil
}

func syntaxError(b []byte, dec *json.Decoder, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("unexpected end of JSON input")
	}
	var se *json.SyntaxError
	if ok := asSyntax(err, &se); ok {
		line, col := lineCol(b, se.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, se.Error())
	}
	return fmt.Errorf("invalid JSON at offset %d: %v", dec.InputOffset(), err)
}

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Get returns the value of the named member.
func (o Object) Get(name string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// GetString returns the named member when it is a JSON string.
func (o Object) GetString(name string) (string, bool) {
	raw, ok := o.Get(name)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// Set returns the object with the named member's value replaced, or the member inserted after the
// member named after (at the end when after is empty or absent). The receiver is not modified.
func (o Object) Set(name string, value json.RawMessage, after string) Object {
	out := make(Object, 0, len(o)+1)
	for i := range o {
		if o[i].Name == name {
			out = append(out, o...)
			out[i].Value = value
			return out
		}
	}
	m := Member{Name: name, Value: value}
	inserted := false
	for _, x := range o {
		out = append(out, x)
		if !inserted && after != "" && x.Name == after {
			out = append(out, m)
			inserted = true
		}
	}
	if !inserted {
		out = append(out, m)
	}
	return out
}

// Delete returns the object without the named member. The receiver is not modified.
func (o Object) Delete(name string) Object {
	out := make(Object, 0, len(o))
	for _, m := range o {
		if m.Name != name {
			out = append(out, m)
		}
	}
	return out
}

// AppendJSON appends the object as compact JSON.
func (o Object) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, m := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, m.Name)
		dst = append(dst, ':')
		dst = appendCompact(dst, m.Value)
	}
	return append(dst, '}')
}

// Bytes returns the object as compact JSON.
func (o Object) Bytes() []byte {
	size := 2
	for _, m := range o {
		size += len(m.Name) + len(m.Value) + 4
	}
	return o.AppendJSON(make([]byte, 0, size))
}

// MarshalJSON implements json.Marshaler.
func (o Object) MarshalJSON() ([]byte, error) { return o.Bytes(), nil }

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaped exactly as encoding/json escapes it with HTML
// escaping off (MustJSON): quote and backslash, the short escapes \b \f \n \r \t, other control bytes as
// \u00XX, invalid UTF-8 as \ufffd, and U+2028 and U+2029 as \u2028 and \u2029.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendCompact appends a JSON value without insignificant whitespace; values that have none (all
// those this package produces) are copied as they are.
func appendCompact(dst []byte, v json.RawMessage) []byte {
	if isCompact(v) {
		return append(dst, v...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return append(dst, v...)
	}
	return append(dst, buf.Bytes()...)
}

// isCompact reports whether the JSON text v has no whitespace outside its strings.
func isCompact(v []byte) bool {
	inString := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n' || c == '\r' || c == '\t'):
			return false
		}
	}
	return true
}

// MustJSON marshals v, which must be marshalable (a bug otherwise). HTML characters are not escaped
// (URLs keep their "&").
func MustJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fhir: marshal %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
