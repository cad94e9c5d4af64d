package fhirpath

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"fhirgate/internal/sharedtest"
)

// checkAppendJSON fails when appendJSON accepts v but writes anything else than json.Marshal.
func checkAppendJSON(t *testing.T, v any) (accepted bool) {
	t.Helper()
	got, ok := appendJSON(nil, v)
	if !ok {
		return false
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Errorf("appendJSON accepted %#v, which json.Marshal rejects: %v", v, err)
	} else if !bytes.Equal(got, want) {
		t.Errorf("appendJSON(%#v) = %s, json.Marshal %s", v, got, want)
	}
	return true
}

func TestAppendJSON(t *testing.T) {
	var nilMap map[string]any
	var nilSlice []any
	for _, tc := range []struct {
		v      any
		accept bool
	}{
		{nil, true}, {true, true}, {false, true}, {"", true}, {"a b", true}, {nilMap, true}, {nilSlice, true},
		{map[string]any{}, true}, {[]any{}, true}, {json.Number("0"), true}, {json.Number("-1.5e+3"), true},
		{map[string]any{"b": []any{"x", json.Number("1"), nil, map[string]any{"z": true, "a": false}}, "a": nilMap}, true},
		{"a<b", false}, {"é", false}, {"a\"", false}, {"a\\", false}, {"\n", false}, {"\x7f", false},
		{json.Number(""), false}, {json.Number("01"), false}, {json.Number("1."), false}, {json.Number("+1"), false},
		{json.Number("1e"), false}, {json.Number(".5"), false}, {json.Number("NaN"), false},
		{map[string]any{"&": "x"}, false}, {[]any{"x", 1.5}, false}, {map[string]string{}, false}, {3, false},
	} {
		if got := checkAppendJSON(t, tc.v); got != tc.accept {
			t.Errorf("appendJSON(%#v): accepted %v, want %v", tc.v, got, tc.accept)
		}
	}
}

// TestAppendJSONExamples compares appendJSON with json.Marshal on every object and array of the R4
// examples.
func TestAppendJSONExamples(t *testing.T) {
	accepted := 0
	var walk func(v any)
	walk = func(v any) {
		if checkAppendJSON(t, v) {
			accepted++
		}
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, files := range examplesByType(t) {
		for _, f := range files {
			data, err := os.ReadFile(sharedtest.Path(t, "examples", f))
			if err != nil {
				t.Fatal(err)
			}
			walk(decodeJSON(t, data))
		}
	}
	if accepted == 0 {
		t.Error("appendJSON accepted nothing")
	}
	t.Logf("appendJSON wrote %d values as json.Marshal does", accepted)
}

// FuzzAppendJSON compares appendJSON with json.Marshal on arbitrary JSON decoded as the server does.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null,true,{"b":-0.5e3}]}`, `"<"`, `{"\u00e9":1}`, `[[],{}]`, `1E+2`, `"\t"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		checkAppendJSON(t, v)
	})
}
