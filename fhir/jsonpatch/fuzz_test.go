package jsonpatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzApply checks that Apply never panics, that its errors are *Error, that it never modifies its
// inputs, and that a successful result is valid compact JSON that re-encodes to itself. It also checks
// that the document parser accepts exactly what encoding/json accepts.
func FuzzApply(f *testing.F) {
	seeds := [][2]string{
		{`{"foo": "bar"}`, `[{ "op": "add", "path": "/baz", "value": "qux" }]`},
		{`{"foo": [ "bar", "baz" ]}`, `[{ "op": "add", "path": "/foo/1", "value": "qux" }]`},
		{`{"baz": "qux", "foo": "bar"}`, `[{ "op": "remove", "path": "/baz" }]`},
		{`{"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}`, `[{ "op": "move", "from": "/foo/waldo", "path": "/qux/thud" }]`},
		{`{"foo": [ "all", "grass", "cows", "eat" ]}`, `[{ "op": "move", "from": "/foo/1", "path": "/foo/3" }]`},
		{`{"baz": "qux", "foo": [ "a", 2, "c" ]}`, `[{ "op": "test", "path": "/baz", "value": "qux" }, { "op": "test", "path": "/foo/1", "value": 2 }]`},
		{`{"/": 9, "~1": 10}`, `[{"op": "test", "path": "/~01", "value": 10}]`},
		{`{ "foo": ["bar"] }`, `[{ "op": "add", "path": "/foo/-", "value": ["abc", "def"] }]`},
		{`{"a": {"x": [1]}}`, `[{"op": "copy", "from": "/a", "path": "/b"}, {"op": "replace", "path": "", "value": 1e400}]`},
		{`{"n": 1.0}`, `[{"op": "test", "path": "/n", "value": 1e-99999999999999}]`},
		{`"\ud800\u00e9"`, `[{"op": "add", "path": "", "value": "\u2028"}]`},
		{`[[[[]]]]`, `[{"op": "move", "from": "/0/0", "path": "/0/0/0"}]`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		docCopy := append([]byte(nil), doc...)
		patchCopy := append([]byte(nil), patch...)
		out, err := Apply(doc, patch)
		if !bytes.Equal(doc, docCopy) || !bytes.Equal(patch, patchCopy) {
			t.Fatal("Apply modified its input")
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
			}
			if out != nil {
				t.Fatal("output returned with an error")
			}
		} else {
			if !json.Valid(out) {
				t.Fatalf("output is not valid JSON: %q", out)
			}
			again, err := Compact(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("output does not re-encode to itself: %q vs %q (%v)", out, again, err)
			}
		}
		_, cerr := Compact(doc)
		if (cerr == nil) != json.Valid(doc) {
			t.Fatalf("Compact error %v but json.Valid = %v for %q", cerr, json.Valid(doc), doc)
		}
	})
}
