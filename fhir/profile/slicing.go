package profile

import (
	"fmt"
	"strings"

	"fhirgate/fhir/fhirpath"
)

// slice assigns each value of a sliced element to the first slice whose discriminators it matches, then
// checks each slice's cardinality and values, and, for closed slicing, that no value is left out.
func (r *run) slice(el *element, items []item, parentExpr, where string) {
	counts := make([]int, len(el.slices))
	for _, it := range items {
		matched := -1
		for i, sl := range el.slices {
			ok, supported := r.matches(el, sl, it)
			if !supported {
				r.note("not-supported", where, fmt.Sprintf("%s: slice %s: its discriminator cannot be evaluated here; the slice is not checked", el.path, sl.sliceName))
				continue
			}
			if ok {
				matched = i
				break
			}
		}
		expr := it.expr(parentExpr)
		if matched < 0 {
			if el.slicing.closed {
				r.issue("error", "structure", expr, fmt.Sprintf("%s: the value matches no slice, and the slicing is closed", el.path))
			}
			continue
		}
		counts[matched]++
		r.value(el.slices[matched], it, expr)
	}
	for i, sl := range el.slices {
		if _, supported := r.matches(el, sl, item{}); !supported {
			continue
		}
		r.cardinality(sl, counts[i], where, sl.sliceName)
	}
}

// matches reports whether a value belongs to a slice (every discriminator agrees), and whether the
// slice's discriminators can be evaluated at all. A zero item only asks the second question.
func (r *run) matches(base, sl *element, it item) (ok, supported bool) {
	if len(base.slicing.discriminators) == 0 {
		return false, false
	}
	for _, d := range base.slicing.discriminators {
		var m bool
		switch d.typ {
		case "value", "pattern":
			want := expectations(sl, splitPath(d.path))
			if len(want) == 0 {
				return false, false
			}
			if it.v == nil {
				continue
			}
			got, ok := evalPath(it.v, splitPath(d.path))
			if !ok {
				return false, false
			}
			m = anyMatch(want, got)
		case "exists":
			at := descend(sl, splitPath(d.path))
			if len(at) == 0 {
				return false, false
			}
			if it.v == nil {
				continue
			}
			got, ok := evalPath(it.v, splitPath(d.path))
			if !ok {
				return false, false
			}
			m = (len(got) > 0) == (at[0].min > 0)
		case "type":
			if d.path != "$this" || len(sl.types) != 1 {
				return false, false
			}
			if it.v == nil {
				continue
			}
			if prefix, choice := strings.CutSuffix(base.name, "[x]"); choice {
				m = it.key == prefix+upperFirst(sl.types[0].code)
			} else if obj, ok := it.v.(map[string]any); ok {
				m = obj["resourceType"] == sl.types[0].code
			}
		default: // profile: would need the value validated against each candidate profile
			return false, false
		}
		if !m {
			return false, true
		}
	}
	return true, true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// want is a value a discriminator expects: fixed (equal) or a pattern (contained).
type want struct {
	v     any
	fixed bool
}

func anyMatch(wants []want, got []any) bool {
	for _, w := range wants {
		for _, g := range got {
			if (w.fixed && fhirpath.EqualJSON(w.v, g)) || (!w.fixed && contains(w.v, g)) {
				return true
			}
		}
	}
	return false
}

// splitPath splits a discriminator path ("coding.code", "$this", "extension('http://x').value").
func splitPath(p string) []string {
	var segs []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 {
				segs = append(segs, p[start:i])
				start = i + 1
			}
		}
	}
	segs = append(segs, p[start:])
	out := segs[:0]
	for _, s := range segs {
		if s != "$this" && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// extensionURL returns the URL of a path segment extension('url').
func extensionURL(seg string) (string, bool) {
	arg, ok := strings.CutPrefix(seg, "extension(")
	if !ok || !strings.HasSuffix(arg, ")") {
		return "", false
	}
	arg = strings.TrimSuffix(arg, ")")
	if len(arg) < 2 || arg[0] != '\'' || arg[len(arg)-1] != '\'' {
		return "", false
	}
	return arg[1 : len(arg)-1], true
}

// evalPath evaluates a discriminator path on a value: element names (a choice name finds its typed key),
// and extension('url'). Other functions (resolve(), ofType()) are not supported.
func evalPath(v any, segs []string) ([]any, bool) {
	cur := []any{v}
	for _, seg := range segs {
		var next []any
		url, isExt := extensionURL(seg)
		if !isExt && strings.ContainsAny(seg, "()") {
			return nil, false
		}
		for _, c := range cur {
			obj, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if isExt {
				for _, e := range flatten(obj["extension"]) {
					if m, ok := e.(map[string]any); ok && m["url"] == url {
						next = append(next, m)
					}
				}
				continue
			}
			if x, ok := obj[seg]; ok {
				next = append(next, flatten(x)...)
				continue
			}
			for _, it := range valuesOf(obj, seg+"[x]") {
				next = append(next, it.v)
			}
		}
		cur = next
	}
	return cur, true
}

func flatten(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// expectations returns the values a slice expects at a discriminator path: the fixed and pattern values
// of the elements at the path in the slice's definition (through nested slices), those of an element on
// the way whose fixed or pattern value covers the rest of the path, and, for an extension's url, the
// extension's profile.
func expectations(el *element, segs []string) []want {
	var out []want
	for _, fv := range []struct {
		v     any
		fixed bool
	}{{el.fixed, true}, {el.pattern, false}} {
		if fv.v == nil {
			continue
		}
		got, _ := evalPath(fv.v, segs)
		for _, g := range got {
			out = append(out, want{v: g, fixed: fv.fixed})
		}
	}
	if len(segs) == 0 {
		return out
	}
	if len(segs) == 1 && segs[0] == "url" {
		for _, t := range el.types {
			if t.code == "Extension" && len(t.profiles) == 1 {
				out = append(out, want{v: t.profiles[0], fixed: true})
			}
		}
	}
	for _, c := range childrenAt(el, segs[0]) {
		out = append(out, expectations(c, segs[1:])...)
	}
	return out
}

// descend returns the elements at a path below el (through slices).
func descend(el *element, segs []string) []*element {
	if len(segs) == 0 {
		return []*element{el}
	}
	var out []*element
	for _, c := range childrenAt(el, segs[0]) {
		out = append(out, descend(c, segs[1:])...)
	}
	return out
}

// childrenAt returns the children of el named seg, and their slices; extension('url') names the
// extension slices of that url.
func childrenAt(el *element, seg string) []*element {
	url, isExt := extensionURL(seg)
	var out []*element
	for _, c := range el.children {
		switch {
		case isExt && c.name == "extension":
			for _, s := range c.slices {
				for _, t := range s.types {
					if len(t.profiles) == 1 && t.profiles[0] == url {
						out = append(out, s)
					}
				}
			}
		case c.name == seg || c.name == seg+"[x]":
			out = append(out, c)
			out = append(out, c.slices...)
		}
	}
	return out
}

// contains reports whether a value matches a pattern: every element of the pattern is in the value with
// the same value, and every item of a pattern's array is matched by an item of the value's.
func contains(pattern, v any) bool {
	switch p := pattern.(type) {
	case map[string]any:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, pv := range p {
			if !contains(pv, m[k]) {
				return false
			}
		}
		return true
	case []any:
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		for _, pi := range p {
			found := false
			for _, vi := range arr {
				if contains(pi, vi) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return fhirpath.EqualJSON(pattern, v)
}
