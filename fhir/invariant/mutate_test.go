package invariant

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
)

// A mutation changes one object of a resource in place and can undo it.
type mutation struct {
	what string
	do   func()
	undo func()
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// set returns a mutation that sets m[k] to v (nil: deletes it).
func set(m map[string]any, k string, v any, what string) mutation {
	old, had := m[k]
	return mutation{
		what: what,
		do: func() {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		},
		undo: func() {
			if had {
				m[k] = old
			} else {
				delete(m, k)
			}
		},
	}
}

// primitiveSamples are values tried for a primitive of a type.
func primitiveSamples(typ string) []any {
	switch typ {
	case "boolean", "System.Boolean":
		return []any{true, false}
	case "integer", "positiveInt", "unsignedInt", "System.Integer":
		return []any{json.Number("0"), json.Number("1"), json.Number("-1"), json.Number("2")}
	case "decimal", "System.Decimal":
		return []any{json.Number("0"), json.Number("1.5"), json.Number("-1"), json.Number("100")}
	case "date", "dateTime", "instant", "System.Date", "System.DateTime":
		return []any{"2000-01-01", "2100-01-01T00:00:00Z", "2000"}
	case "time", "System.Time":
		return []any{"10:00:00"}
	}
	return []any{"x", "#x", "", "http://example.org/x", "x y", "*", "a.b", "1"}
}

// sampleValue returns values for an element of the type, by the type's first primitive children.
func sampleValues(typ string) []any {
	switch typ {
	case "Quantity", "Age", "Duration", "Distance", "Count", "Money":
		return []any{
			map[string]any{"value": json.Number("1"), "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
			map[string]any{"value": json.Number("-1"), "code": "a"},
		}
	case "Reference":
		return []any{map[string]any{"reference": "#x"}, map[string]any{"display": "x"}}
	case "Period":
		return []any{map[string]any{"start": "2001-01-01", "end": "2000-01-01"}, map[string]any{"start": "2000-01-01"}}
	case "Range":
		return []any{map[string]any{"low": map[string]any{"value": json.Number("2")}, "high": map[string]any{"value": json.Number("1")}}}
	case "Extension":
		return []any{map[string]any{"url": "http://example.org/x"}, map[string]any{"url": "http://example.org/x", "valueString": "x"}}
	}
	if isPrimitive(typ) {
		return primitiveSamples(typ)
	}
	var out []any
	for _, e := range fhir.Children(typ) {
		name := e.Path[strings.LastIndexByte(e.Path, '.')+1:]
		if name == "id" || name == "extension" || name == "modifierExtension" || e.Choice {
			continue
		}
		ts := e.TypeList()
		if len(ts) != 1 || !isPrimitive(ts[0]) {
			continue
		}
		for _, v := range primitiveSamples(ts[0])[:1] {
			if e.IsArray() {
				v = []any{v}
			}
			out = append(out, map[string]any{name: v})
		}
		if len(out) >= 2 {
			break
		}
	}
	if len(out) == 0 {
		out = append(out, map[string]any{"extension": []any{map[string]any{"url": "http://example.org/x", "valueString": "x"}}})
	}
	return out
}

// mutations returns the changes tried on an object defined under defPath: each present member
// deleted, changed (primitives) or repeated (arrays), and each absent element added; and the same one
// level down.
func mutations(m map[string]any, defPath string, depth int, literals []any) []mutation {
	var out []mutation
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "resourceType" {
			continue
		}
		v := m[k]
		out = append(out, set(m, k, nil, "delete "+k))
		c, _ := lookupChild(defPath, k)
		switch x := v.(type) {
		case []any:
			if len(x) > 0 {
				dup := append(append([]any{}, x...), deepCopy(x[0]))
				out = append(out, set(m, k, dup, "repeat "+k))
				if len(x) > 1 {
					out = append(out, set(m, k, x[:1], "keep one "+k))
				}
				if o, ok := x[0].(map[string]any); ok && depth > 0 && c != nil && c.defPath != "" {
					out = append(out, mutations(o, c.defPath, depth-1, literals)...)
				}
			}
		case map[string]any:
			if depth > 0 && c != nil && c.defPath != "" {
				out = append(out, mutations(x, c.defPath, depth-1, literals)...)
			}
		default:
			typ := "string"
			if c != nil {
				typ = c.typ
			}
			for _, s := range append(literals, primitiveSamples(typ)...) {
				out = append(out, set(m, k, s, fmt.Sprintf("set %s to %v", k, s)))
			}
		}
	}
	for _, e := range fhir.Children(defPath) {
		name := e.Path[strings.LastIndexByte(e.Path, '.')+1:]
		if name == "id" || name == "modifierExtension" {
			continue
		}
		for _, typ := range e.TypeList() {
			key := name
			if e.Choice {
				key = name + strings.ToUpper(typ[:1]) + typ[1:]
			}
			if _, ok := m[key]; ok {
				continue
			}
			if e.Choice && hasChoice(m, name) {
				continue
			}
			vals := sampleValues(typ)
			if typ == "BackboneElement" || typ == "Element" || e.ContentRef != "" {
				p := e.Path
				if e.ContentRef != "" {
					p = e.ContentRef
				}
				vals = []any{map[string]any{}}
				vals = append(vals, sampleValuesUnder(p)...)
			}
			for _, v := range vals {
				if e.IsArray() {
					v = []any{v}
				}
				out = append(out, set(m, key, v, fmt.Sprintf("add %s %v", key, v)))
			}
		}
	}
	return out
}

// sampleValuesUnder returns objects with one primitive member of the backbone element at path.
func sampleValuesUnder(path string) []any {
	var out []any
	for _, e := range fhir.Children(path) {
		name := e.Path[strings.LastIndexByte(e.Path, '.')+1:]
		ts := e.TypeList()
		if name == "id" || e.Choice || len(ts) != 1 {
			continue
		}
		for _, v := range sampleValues(ts[0])[:1] {
			if e.IsArray() {
				v = []any{v}
			}
			out = append(out, map[string]any{name: v})
		}
	}
	return out
}

func hasChoice(m map[string]any, name string) bool {
	for k := range m {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			return true
		}
	}
	return false
}

// contextPath returns where the members of an invariant's context node are defined.
func contextPath(c *compiled, node fhirpath.Node) string {
	if c.def.Context == c.def.Type {
		return node.Type
	}
	return c.def.Context
}

// breakByMutation looks for a change to a copy of the resource that makes the invariant id fail while
// no other invariant of severity error does; it returns what it changed.
func breakByMutation(resource map[string]any, id string) (string, bool) {
	r := deepCopy(resource).(map[string]any)
	type target struct {
		obj     map[string]any
		defPath string
	}
	var targets []target
	check(r, func(c *compiled, node fhirpath.Node, _ bool, _ error) {
		if c.def.ID() != id || len(targets) >= 3 {
			return
		}
		if m, ok := node.Value.(map[string]any); ok {
			targets = append(targets, target{m, contextPath(c, node)})
		}
	})
	key := id[strings.IndexByte(id, '/')+1:]
	fallback := ""
	for _, tg := range targets {
		for _, mu := range mutations(tg.obj, tg.defPath, 1, literalsOf(id)) {
			mu.do()
			failed := false
			issues := check(r, func(c *compiled, _ fhirpath.Node, holds bool, err error) {
				if c.def.ID() == id && !holds && err == nil {
					failed = true
				}
			})
			mu.undo()
			if !failed {
				continue
			}
			plausible := true
			for _, is := range issues {
				if is.Severity == "error" && keyOf(is.Details) != key {
					plausible = false
				}
			}
			if plausible {
				return mu.what, true
			}
			if fallback == "" {
				fallback = mu.what + " (breaking other invariants too)"
			}
		}
	}
	return fallback, fallback != ""
}

// literalsOf returns the string and number literals of an invariant's expression, tried as values.
func literalsOf(id string) []any {
	var out []any
	for i := range definitions {
		d := &definitions[i]
		if d.ID() != id {
			continue
		}
		for _, m := range literalRE.FindAllStringSubmatch(d.Expression, -1) {
			if m[1] != "" {
				out = append(out, m[1])
			} else {
				out = append(out, json.Number(m[2]))
			}
		}
	}
	return out
}

var literalRE = regexp.MustCompile(`'([^']*)'|\b(\d+(?:\.\d+)?)\b`)
