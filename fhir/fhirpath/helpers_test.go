package fhirpath

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"fhirgate/internal/sharedtest"
)

// decodeJSON decodes JSON the way the server does (UseNumber).
func decodeJSON(tb testing.TB, data []byte) any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return v
}

// loadExample reads one of the shared R4 examples (skips when the shared data is absent).
func loadExample(tb testing.TB, name string) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(sharedtest.Path(tb, "examples", name))
	if err != nil {
		tb.Fatal(err)
	}
	m, ok := decodeJSON(tb, data).(map[string]any)
	if !ok {
		tb.Fatalf("%s: not a JSON object", name)
	}
	return m
}

type searchParam struct {
	ID         string
	Code       string
	Type       string
	Base       []string
	Expression string
	Components []string // component expressions of composite parameters
}

var (
	spOnce   sync.Once
	spCache  []searchParam
	spErr    error
	exOnce   sync.Once
	exByType map[string][]string // resourceType -> example file names
	exErr    error
)

// loadSearchParams reads the R4 search parameter Bundle.
func loadSearchParams(tb testing.TB) []searchParam {
	tb.Helper()
	path := sharedtest.Path(tb, "definitions", "search-parameters.json")
	spOnce.Do(func() {
		data, err := os.ReadFile(path)
		if err != nil {
			spErr = err
			return
		}
		var bundle struct {
			Entry []struct {
				Resource struct {
					ID         string   `json:"id"`
					Code       string   `json:"code"`
					Type       string   `json:"type"`
					Base       []string `json:"base"`
					Expression string   `json:"expression"`
					Component  []struct {
						Expression string `json:"expression"`
					} `json:"component"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if spErr = json.Unmarshal(data, &bundle); spErr != nil {
			return
		}
		for _, e := range bundle.Entry {
			r := e.Resource
			sp := searchParam{ID: r.ID, Code: r.Code, Type: r.Type, Base: r.Base, Expression: r.Expression}
			for _, c := range r.Component {
				sp.Components = append(sp.Components, c.Expression)
			}
			spCache = append(spCache, sp)
		}
	})
	if spErr != nil {
		tb.Fatal(spErr)
	}
	return spCache
}

// examplesByType lists the shared example files per resource type (from the file names,
// <resourceType>-<id>.json).
func examplesByType(tb testing.TB) map[string][]string {
	tb.Helper()
	dir := sharedtest.Path(tb, "examples")
	exOnce.Do(func() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			exErr = err
			return
		}
		exByType = map[string][]string{}
		for _, e := range entries {
			name := e.Name()
			if filepath.Ext(name) != ".json" {
				continue
			}
			typ, _, ok := strings.Cut(name, "-")
			if !ok {
				continue
			}
			exByType[typ] = append(exByType[typ], name)
		}
		for _, v := range exByType {
			sort.Strings(v)
		}
	})
	if exErr != nil {
		tb.Fatal(exErr)
	}
	return exByType
}

// strs renders a result collection as strings for comparison.
func strs(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.String()
	}
	return out
}

func types(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Type
	}
	return out
}

// compileSearch compiles an expression as the search indexer does (LenientAs).
func compileSearch(src string) (*Expr, error) { return CompileWith(src, Options{LenientAs: true}) }

func mustCompileSearch(src string) *Expr {
	e, err := compileSearch(src)
	if err != nil {
		panic(err)
	}
	return e
}
