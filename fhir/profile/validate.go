package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
)

// maxIssues bounds the issues one validation reports (a large resource breaking a profile everywhere).
const maxIssues = 200

// Decode decodes a resource in FHIR JSON as the validator reads it (numbers as json.Number).
func Decode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("a resource is a JSON object")
	}
	return m, nil
}

// Declared returns the profiles a resource's meta.profile names: those of the set, and the URLs of the
// others.
func (s *Set) Declared(resource map[string]any) (known []*Profile, unknown []string) {
	meta, _ := resource["meta"].(map[string]any)
	list, _ := meta["profile"].([]any)
	seen := map[*Profile]bool{}
	for _, v := range list {
		url, ok := v.(string)
		if !ok {
			continue
		}
		if p, ok := s.Lookup(url); ok {
			if !seen[p] {
				seen[p] = true
				known = append(known, p)
			}
			continue
		}
		unknown = append(unknown, url)
	}
	return known, unknown
}

// Validate checks a decoded resource against the profile and returns every issue found (errors,
// warnings, and information about what could not be checked); none when it conforms.
func (p *Profile) Validate(resource map[string]any) []fhir.Issue {
	r := &run{p: p, resource: resource}
	rt, _ := resource["resourceType"].(string)
	if rt != p.Type {
		r.issue("error", "structure", rt, fmt.Sprintf("the profile constrains %s, not %s", p.Type, rt))
		return r.issues
	}
	r.value(p.root, item{v: resource, idx: -1}, rt)
	return r.issues
}

// run is one validation.
type run struct {
	p        *Profile
	resource map[string]any
	issues   []fhir.Issue
	noted    map[string]bool // information issues already given
}

// item is one value of an element: its JSON value, the key it sits under (valueQuantity for value[x])
// and its index when the key holds an array (-1 otherwise).
type item struct {
	v      any
	parent map[string]any
	key    string
	idx    int
}

func (r *run) issue(severity, code, expr, details string) {
	if len(r.issues) >= maxIssues {
		return
	}
	if len(r.issues) == maxIssues-1 {
		severity, code, details = "warning", "too-costly", "too many issues: the rest are not reported"
	}
	r.issues = append(r.issues, fhir.Issue{Severity: severity, Code: code, Expression: expr,
		Details: details + " (profile " + r.p.Label() + ")"})
}

// note gives an information issue once per validation.
func (r *run) note(code, expr, details string) { r.noteAs("information", code, expr, details) }

// noteAs gives an issue of a severity once per validation.
func (r *run) noteAs(severity, code, expr, details string) {
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	if r.noted[details] {
		return
	}
	r.noted[details] = true
	r.issue(severity, code, expr, details)
}

// valuesOf returns the values of an element named name ("category", "value[x]") in a JSON object.
func valuesOf(parent map[string]any, name string) []item {
	var out []item
	add := func(key string, v any) {
		if arr, ok := v.([]any); ok {
			for i, x := range arr {
				out = append(out, item{v: x, parent: parent, key: key, idx: i})
			}
			return
		}
		out = append(out, item{v: v, parent: parent, key: key, idx: -1})
	}
	if prefix, ok := strings.CutSuffix(name, "[x]"); ok {
		for k, v := range parent {
			if len(k) > len(prefix) && strings.HasPrefix(k, prefix) && k[len(prefix)] >= 'A' && k[len(prefix)] <= 'Z' {
				add(k, v)
			}
		}
		return out
	}
	if v, ok := parent[name]; ok && v != nil {
		add(name, v)
	}
	return out
}

func (it item) expr(parentExpr string) string {
	if it.idx >= 0 {
		return parentExpr + "." + it.key + "[" + strconv.Itoa(it.idx) + "]"
	}
	return parentExpr + "." + it.key
}

// element checks an element's values in one parent object: cardinality, each value, slicing.
func (r *run) element(el *element, parent map[string]any, parentExpr string) {
	items := valuesOf(parent, el.name)
	where := parentExpr + "." + strings.TrimSuffix(el.name, "[x]")
	r.cardinality(el, len(items), where, "")
	for _, it := range items {
		r.value(el, it, it.expr(parentExpr))
	}
	if len(el.slices) > 0 && el.slicing != nil {
		r.slice(el, items, parentExpr, where)
	}
}

func (r *run) cardinality(el *element, n int, where, slice string) {
	label := el.label()
	if slice != "" {
		label = el.path + ": slice " + slice
	}
	if n < el.min {
		r.issue("error", "required", where, fmt.Sprintf("%s: minimum %d, found %d", label, el.min, n))
	}
	if el.max >= 0 && n > el.max {
		r.issue("error", "structure", where, fmt.Sprintf("%s: maximum %d, found %d", label, el.max, n))
	}
}

// value checks one value of an element: its fixed or pattern value, its binding, the profile's
// invariants, and its children.
func (r *run) value(el *element, it item, expr string) {
	label := el.label()
	if el.fixed != nil && !fhirpath.EqualJSON(el.fixed, it.v) {
		r.issue("error", "value", expr, fmt.Sprintf("%s: the value must be %s", label, compact(el.fixed)))
	}
	if el.pattern != nil && !contains(el.pattern, it.v) {
		r.issue("error", "value", expr, fmt.Sprintf("%s: the value must match the pattern %s", label, compact(el.pattern)))
	}
	if el.binding != "" {
		r.bound(el, it, expr, label)
	}
	for _, c := range el.constraints {
		r.invariant(el, c, it, expr)
	}
	obj, ok := it.v.(map[string]any)
	if !ok {
		return
	}
	for _, c := range el.children {
		r.element(c, obj, expr)
	}
}

// bound checks a value against the element's required binding.
func (r *run) bound(el *element, it item, expr, label string) {
	vs, ok := r.p.set.valueSets[el.binding]
	if !ok {
		if !r.p.set.baseRequired[el.binding] {
			r.note("informational", expr, fmt.Sprintf("%s: the value set %s cannot be expanded here; the binding is not checked", label, el.binding))
		}
		return
	}
	var codes []string
	switch v := it.v.(type) {
	case string:
		codes = []string{"|" + v}
	case map[string]any:
		if coding, ok := v["coding"].([]any); ok {
			for _, c := range coding {
				if m, ok := c.(map[string]any); ok {
					codes = append(codes, codingKey(m))
				}
			}
		} else if _, ok := v["code"]; ok {
			codes = []string{codingKey(v)}
		} else {
			return // nothing coded (a CodeableConcept with text only, a Quantity without a code)
		}
	default:
		return
	}
	for _, c := range codes {
		if vs[c] {
			return
		}
	}
	r.issue("error", "code-invalid", expr, fmt.Sprintf("%s: the code is not in the value set %s (required binding)", label, el.binding))
}

func codingKey(m map[string]any) string {
	sys, _ := m["system"].(string)
	code, _ := m["code"].(string)
	return sys + "|" + code
}

// invariant evaluates one of the profile's constraints on a value.
func (r *run) invariant(el *element, c *constraint, it item, expr string) {
	if c.err != nil {
		r.noteAs("warning", "processing", expr, fmt.Sprintf("%s: constraint %s does not compile and is not checked", el.label(), c.key))
		return
	}
	node := fhirpath.Node{Value: it.v, Parent: it.parent, Key: it.key, Name: it.key, Index: it.idx, Type: typeOf(el, it)}
	if it.parent == nil {
		node.Index = -1
	}
	if name, typ, ok := fhirpath.ChoiceType(it.key); ok {
		node.Name, node.Type = name, typ
	}
	got, err := c.expr.EvaluateNode(r.resource, node)
	if err != nil {
		r.noteAs("warning", "processing", expr, fmt.Sprintf("%s: constraint %s could not be evaluated and is not checked", el.label(), c.key))
		return
	}
	if len(got) == 1 {
		if b, ok := got[0].Value.(bool); ok && !b {
			sev := "error"
			if c.severity == "warning" {
				sev = "warning"
			}
			r.issue(sev, "invariant", expr, fmt.Sprintf("%s: constraint %s failed: %s", el.label(), c.key, c.human))
		}
	}
}

// label names an element in issues: its path, with the slices it is in ("Observation.category: slice
// VSCat", "Observation.value[x]:valueQuantity.code").
func (el *element) label() string {
	if el.sliceName != "" && strings.HasSuffix(el.id, ":"+el.sliceName) {
		return pathOf(el.id) + ": slice " + el.sliceName
	}
	if strings.Contains(el.id, ":") {
		return el.id
	}
	return el.path
}

// typeOf is the FHIR type of a value, as far as the element tells it.
func typeOf(el *element, it item) string {
	if m, ok := it.v.(map[string]any); ok {
		if rt, ok := m["resourceType"].(string); ok {
			return rt
		}
	}
	if len(el.types) == 1 && !strings.Contains(el.types[0].code, "/") {
		return el.types[0].code
	}
	return ""
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
