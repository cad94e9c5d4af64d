package validation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"fhirgate/fhir"
)

// walker walks one decoded body, collecting issues.
type walker struct {
	// all asks for warnings and information too (Check); Validate needs errors only.
	all bool
	// path is the concrete FHIRPath of the current element, grown and cut back as the walk goes.
	path   []byte
	issues []fhir.Issue
	// collect asks for the nodes, for the stages.
	collect bool
	nodes   []Node
}

func (w *walker) add(severity, code, details, diagnostics string) {
	w.issues = append(w.issues, fhir.Issue{Severity: severity, Code: code, Details: details,
		Diagnostics: diagnostics, Expression: string(w.path)})
}

func (w *walker) errorf(code, format string, args ...any) {
	w.add("error", code, fmt.Sprintf(format, args...), "")
}

func (w *walker) node(typ string, v any) {
	if w.collect {
		w.nodes = append(w.nodes, Node{Path: string(w.path), Type: typ, Value: v})
	}
}

// resource walks a resource: the top-level one (top, whose type starts the path) or one held by an element
// of type Resource (contained, Bundle.entry.resource, Parameters.parameter.resource).
func (w *walker) resource(v any, top bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		w.errorf("structure", "a resource must be a JSON object%s", found(v))
		return
	}
	rtv, present := obj["resourceType"]
	rt, _ := rtv.(string)
	var ti *typeInfo
	switch {
	case !present:
		w.errorf("required", "the resource has no resourceType")
		return
	case rt == "":
		w.errorf("structure", "resourceType must be the name of a resource type%s", found(rtv))
		return
	default:
		ti = types()[rt]
		if ti == nil || !ti.resource {
			w.add("error", "structure", "unknown resource type: resourceType must be an R4 resource type",
				fmt.Sprintf("%q is not an R4 resource type", rt))
			return
		}
	}
	if top {
		w.path = append(w.path, rt...)
	}
	w.node(rt, obj)
	w.object(obj, ti)
}

// object walks the members of an object whose definition is ti.
func (w *walker) object(obj map[string]any, ti *typeInfo) {
	if len(obj) == 0 {
		w.errorf("invariant", "ele-1: an element must have a value or children: an empty object is not allowed")
		return
	}
	var choices map[string]string // choice base -> the member name seen
	for k, val := range obj {
		if k == "resourceType" && ti.resource {
			continue
		}
		if len(k) > 1 && k[0] == '_' {
			f := ti.fields[k[1:]]
			if f == nil || !f.primitive {
				w.unknown(ti, k)
				continue
			}
			w.primitiveSibling(obj, f, val)
			continue
		}
		f := ti.fields[k]
		if f == nil {
			w.unknown(ti, k)
			continue
		}
		if f.choice != "" {
			if choices == nil {
				choices = map[string]string{}
			}
			if other, seen := choices[f.choice]; seen {
				a, b := other, k
				if b < a {
					a, b = b, a
				}
				n := len(w.path)
				w.appendName(f.choice + "[x]")
				w.errorf("structure", "a choice element has exactly one form: %s and %s are both present", a, b)
				w.path = w.path[:n]
			}
			choices[f.choice] = k
		}
		w.member(obj, f, val)
	}
	for _, f := range ti.required {
		if present(obj, ti, f) {
			continue
		}
		n := len(w.path)
		name := f.name
		if f.choice != "" {
			name = f.choice + "[x]"
		}
		w.appendName(name)
		w.errorf("required", "missing required element: %s has a minimum cardinality of %d", name, f.el.Min)
		w.path = w.path[:n]
	}
}

// present reports whether the required element f is in obj (any form of a choice, or a primitive given
// only by its "_name" sibling).
func present(obj map[string]any, ti *typeInfo, f *field) bool {
	if f.choice == "" {
		if _, ok := obj[f.name]; ok {
			return true
		}
		_, ok := obj["_"+f.name]
		return ok && f.primitive
	}
	for k := range obj {
		name := strings.TrimPrefix(k, "_")
		if g := ti.fields[name]; g != nil && g.choice == f.choice {
			return true
		}
	}
	return false
}

func (w *walker) appendName(name string) {
	if len(w.path) > 0 {
		w.path = append(w.path, '.')
	}
	w.path = append(w.path, name...)
}

// appendField appends the path segment of member f: its name, or for a choice value.ofType(Quantity).
func (w *walker) appendField(f *field) {
	if f.choice == "" {
		w.appendName(f.name)
		return
	}
	w.appendName(f.choice)
	w.path = append(w.path, ".ofType("...)
	w.path = append(w.path, f.typ...)
	w.path = append(w.path, ')')
}

func (w *walker) appendIndex(i int) {
	w.path = append(w.path, '[')
	w.path = strconv.AppendInt(w.path, int64(i), 10)
	w.path = append(w.path, ']')
}

func (w *walker) unknown(ti *typeInfo, k string) {
	n := len(w.path)
	w.appendName(k)
	defer func() { w.path = w.path[:n] }()
	owner := ti.name
	if ti.resource || isComplexType(ti.name) {
		owner = "the type " + ti.name
	}
	for base, el := range ti.choiceBases {
		if len(k) > len(base) && strings.HasPrefix(k, base) && k[len(base)] >= 'A' && k[len(base)] <= 'Z' {
			w.add("error", "structure", fmt.Sprintf("unknown type for the choice element %s[x]: %s is not one of its forms", base, k),
				"the types allowed are "+strings.ReplaceAll(el.Types, "|", ", "))
			return
		}
	}
	w.add("error", "structure", fmt.Sprintf("unknown element: %s is not an element of %s in R4", k, owner), "")
}

func isComplexType(name string) bool { return !strings.Contains(name, ".") }

// member walks the value of member f of obj.
func (w *walker) member(obj map[string]any, f *field, val any) {
	n := len(w.path)
	w.appendField(f)
	defer func() { w.path = w.path[:n] }()
	if !f.array {
		if _, isArray := val.([]any); isArray {
			w.errorf("structure", "%s is a single value (max 1), not an array", f.name)
			return
		}
		if val == nil {
			w.errorf("structure", "null is not a value: leave the element out instead (json.html)")
			return
		}
		w.value(f, val)
		return
	}
	arr, ok := val.([]any)
	if !ok {
		w.errorf("structure", "%s repeats (max %s): its value must be an array%s", f.name, maxText(f.el.Max), found(val))
		return
	}
	if len(arr) == 0 {
		w.errorf("structure", "an array SHALL NOT be empty (json.html): leave the element out instead")
		return
	}
	if f.el.Max > 1 && len(arr) > f.el.Max {
		w.errorf("structure", "too many values: %s allows at most %d, found %d", f.name, f.el.Max, len(arr))
	}
	var sibling []any
	if f.primitive {
		sibling, _ = obj["_"+f.name].([]any)
	}
	m := len(w.path)
	for i, item := range arr {
		w.appendIndex(i)
		switch {
		case item != nil:
			w.value(f, item)
		case f.primitive && i < len(sibling) && sibling[i] != nil:
			// null padding: the value is in _name[i] alone (json.html)
		default:
			w.errorf("structure", "null is not a value: null may only pad an array of primitives whose _%s has an entry at the same index (json.html)", f.name)
		}
		w.path = w.path[:m]
	}
}

func maxText(n int) string {
	if n < 0 {
		return "*"
	}
	return strconv.Itoa(n)
}

// value walks one value of member f (an array's item or a single value), which is not null.
func (w *walker) value(f *field, v any) {
	switch {
	case f.primitive:
		if reason := checkPrimitive(f.typ, v); reason != "" {
			w.errorf("value", "%s", reason)
			return
		}
		w.node(f.typ, v)
		if f.binding != nil && f.typ == "code" {
			w.checkBinding(f, v.(string))
		}
	case f.typ == "Resource":
		w.resource(v, false)
	default:
		obj, ok := v.(map[string]any)
		if !ok {
			w.errorf("structure", "a %s must be a JSON object%s", typeName(f), found(v))
			return
		}
		w.node(f.typ, obj)
		w.object(obj, f.def)
		switch f.typ {
		case "Reference":
			if f.targets != nil {
				w.checkTarget(f, obj)
			}
		case "Coding":
			if f.binding != nil {
				w.checkCoding(f, obj)
			}
		case "CodeableConcept":
			if f.binding != nil {
				w.checkConcept(f, obj)
			}
		}
	}
}

func typeName(f *field) string {
	if f.typ == "BackboneElement" {
		return "backbone element"
	}
	return f.typ
}

// primitiveSibling walks the "_name" sibling of primitive member f: an Element (id and extension) or, for
// a repeating element, an array of them padded with null, as long as the values' array.
func (w *walker) primitiveSibling(obj map[string]any, f *field, val any) {
	n := len(w.path)
	w.appendField(f)
	defer func() { w.path = w.path[:n] }()
	elem := types()["Element"]
	if !f.array {
		o, ok := val.(map[string]any)
		if !ok {
			w.errorf("structure", "_%s holds the id and extensions of %s: it must be a JSON object%s", f.name, f.name, found(val))
			return
		}
		w.node("Element", o)
		w.object(o, elem)
		return
	}
	arr, ok := val.([]any)
	if !ok {
		w.errorf("structure", "_%s must be an array like %s (json.html)%s", f.name, f.name, found(val))
		return
	}
	if len(arr) == 0 {
		w.errorf("structure", "an array SHALL NOT be empty (json.html): _%s must be left out instead", f.name)
		return
	}
	values, hasValues := obj[f.name].([]any)
	if hasValues && len(values) != len(arr) {
		w.errorf("structure", "_%s must have as many entries as %s (json.html): %d and %d", f.name, f.name, len(arr), len(values))
	}
	m := len(w.path)
	for i, item := range arr {
		w.appendIndex(i)
		if item == nil {
			// Where the values have a null too, or are fewer, the values' walk or the length check says so.
			if !hasValues {
				w.errorf("structure", "null is not a value: _%s[%d] may be null only where %s[%d] has a value (json.html)", f.name, i, f.name, i)
			}
		} else if o, ok := item.(map[string]any); ok {
			w.node("Element", o)
			w.object(o, elem)
		} else {
			w.errorf("structure", "_%s holds the ids and extensions of %s: its entries must be JSON objects or null%s", f.name, f.name, found(item))
		}
		w.path = w.path[:m]
	}
}

// checkTarget checks the type of a relative reference ("Patient/123") against the types the element allows.
func (w *walker) checkTarget(f *field, obj map[string]any) {
	ref, _ := obj["reference"].(string)
	if ref == "" || ref[0] == '#' || strings.Contains(ref, ":") {
		return
	}
	typ, _, ok := strings.Cut(ref, "/")
	if !ok || !fhir.IsResourceType(typ) || f.targets[typ] {
		return
	}
	allowed := make([]string, 0, len(f.targets))
	for t := range f.targets {
		allowed = append(allowed, t)
	}
	sort.Strings(allowed)
	w.add("error", "value", fmt.Sprintf("the reference's target type %s is not allowed here: the element refers to %s",
		typ, strings.Join(allowed, ", ")), fmt.Sprintf("reference %q", ref))
}
