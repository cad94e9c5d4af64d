package search_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"fhirgate/fhir"
	fhirsearch "fhirgate/fhir/search"
)

// Building, from the element model (fhir.LookupElement), a minimal resource that has the element a
// search parameter's expression selects, for the declared parameters no official example has. The
// resource need not be valid: it is stored directly, with the index entries the indexer gives it.

// pathStep is one step of a search parameter's path: an element name and what the expression says of
// it (a type it is taken as, the type of the resource it refers to, members it must have).
type pathStep struct {
	name    string
	as      string            // .as(T), .ofType(T), "x as T"
	refType string            // .where(resolve() is T)
	where   map[string]string // .where(member='value')
}

// buildResource returns a resource of type typ, with id id, that has a value at the path p's
// expression selects, or why none can be built.
func buildResource(typ string, p *fhirsearch.Param, id string) (map[string]any, string) {
	root := map[string]any{"resourceType": typ, "id": id}
	if !p.Indexed { // _id and _lastUpdated: every stored resource has them
		return root, ""
	}
	branch := branchFor(p.Expression, typ)
	if branch == "" {
		return nil, "the expression has no path for the type"
	}
	steps, ok := parsePath(branch, true)
	if !ok {
		return nil, "the expression is not a path (" + branch + ")"
	}
	if p.Type != fhirsearch.Composite {
		if len(steps) == 0 {
			return nil, "the expression is not a path (" + branch + ")"
		}
		if why := setPath(root, typ, steps, func(el *fhir.Element, t string, st pathStep) (any, string) {
			return leafValue(t, p.Type, targetOf(st, el, p.Targets))
		}); why != "" {
			return nil, why
		}
		return root, ""
	}
	// A composite: the element its expression selects, with each component set under it.
	fill := func(base map[string]any, basePath string) string {
		for _, c := range p.Components {
			cb := branchFor(c.Expression, "")
			obj, objPath := base, basePath
			if rest, ok := strings.CutPrefix(cb, "%resource."); ok { // a component read from the resource
				cb, obj, objPath = rest, root, typ
			}
			csteps, ok := parsePath(cb, false)
			if !ok || len(csteps) == 0 {
				return "a component expression is not a path (" + c.Expression + ")"
			}
			if why := setPath(obj, objPath, csteps, func(el *fhir.Element, t string, st pathStep) (any, string) {
				return leafValue(t, c.Param.Type, targetOf(st, el, c.Param.Targets))
			}); why != "" {
				return why
			}
		}
		return ""
	}
	if len(steps) == 0 {
		if why := fill(root, typ); why != "" {
			return nil, why
		}
		return root, ""
	}
	var why string
	if w := setPath(root, typ, steps, func(el *fhir.Element, t string, st pathStep) (any, string) {
		base := map[string]any{}
		path := el.Path
		if el.Choice {
			path = t
		}
		why = fill(base, path)
		return base, ""
	}); w != "" {
		return nil, w
	}
	if why != "" {
		return nil, why
	}
	return root, ""
}

// targetOf is the resource type a built reference points to.
func targetOf(st pathStep, el *fhir.Element, targets []string) string {
	switch {
	case st.refType != "":
		return st.refType
	case len(targets) > 0:
		return targets[0]
	case el.Targets != "":
		t, _, _ := strings.Cut(el.Targets, "|")
		return t
	}
	return "Basic"
}

// branchFor returns the branch of a union expression that applies to typ (with typ "", the first).
func branchFor(expr, typ string) string {
	for _, b := range splitTop(expr, '|') {
		b = strings.TrimSpace(b)
		if typ == "" {
			return b
		}
		inner := strings.TrimLeft(b, "(")
		head, _, _ := strings.Cut(inner, ".")
		head, _, _ = strings.Cut(head, " ")
		if head == typ || head == "Resource" || head == "DomainResource" {
			return b
		}
	}
	return ""
}

// splitTop splits s on sep outside parentheses and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parsePath parses a branch of a search parameter expression ("(Observation.value as Quantity)",
// "Account.subject.where(resolve() is Patient)", "relatedArtifact.where(type='composed-of').resource",
// "Bundle.entry[0].resource") into steps; withType drops the leading type name.
func parsePath(b string, withType bool) ([]pathStep, bool) {
	b = strings.TrimSpace(b)
	for strings.HasPrefix(b, "(") && strings.HasSuffix(b, ")") && len(splitTop(b[1:len(b)-1], ')')) == 1 {
		b = strings.TrimSpace(b[1 : len(b)-1])
	}
	as := ""
	if i := strings.LastIndex(b, " as "); i > 0 && len(splitTop(b[i:], '(')) == 1 {
		b, as = b[:i], strings.TrimSpace(b[i+4:])
	}
	if strings.ContainsAny(b, " ") && !strings.Contains(b, "resolve() is ") {
		return nil, false
	}
	segs := splitTop(b, '.')
	if withType {
		segs = segs[1:]
	}
	var steps []pathStep
	for _, s := range segs {
		s = strings.TrimSuffix(s, "[0]")
		switch {
		case strings.HasPrefix(s, "as(") || strings.HasPrefix(s, "ofType("):
			if len(steps) == 0 {
				return nil, false
			}
			_, t, _ := strings.Cut(strings.TrimSuffix(s, ")"), "(")
			steps[len(steps)-1].as = t
		case strings.HasPrefix(s, "where(resolve() is "):
			if len(steps) == 0 {
				return nil, false
			}
			steps[len(steps)-1].refType = strings.TrimSuffix(strings.TrimPrefix(s, "where(resolve() is "), ")")
		case strings.HasPrefix(s, "where("):
			member, value, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(s, "where("), ")"), "=")
			if !ok || len(steps) == 0 || !strings.HasPrefix(value, "'") {
				return nil, false
			}
			st := &steps[len(steps)-1]
			if st.where == nil {
				st.where = map[string]string{}
			}
			st.where[member] = strings.Trim(value, "'")
		case s != "" && !strings.ContainsAny(s, "()' "):
			steps = append(steps, pathStep{name: s})
		default:
			return nil, false
		}
	}
	if as != "" {
		if len(steps) == 0 {
			return nil, false
		}
		steps[len(steps)-1].as = as
	}
	return steps, true
}

// setPath sets, in obj (the element at elemPath), the path steps, the last one to what leaf makes of
// its element and chosen type.
func setPath(obj map[string]any, elemPath string, steps []pathStep, leaf func(el *fhir.Element, typ string, st pathStep) (any, string)) string {
	st := steps[0]
	el, ok := fhir.LookupElement(elemPath + "." + st.name)
	if !ok {
		return fmt.Sprintf("the element model has no %s.%s", elemPath, st.name)
	}
	types := el.TypeList()
	typ := ""
	switch {
	case st.as != "":
		for _, t := range types {
			if strings.EqualFold(t, st.as) {
				typ = t
			}
		}
		if typ == "" {
			return fmt.Sprintf("%s is never a %s", el.Path, st.as)
		}
	case len(types) == 1:
		typ = types[0]
	case el.ContentRef != "" && len(steps) > 1: // an element defined like another (ConceptMap...target.product)
	case len(steps) == 1:
		typ = "" // the leaf picks one
	default:
		return fmt.Sprintf("%s has several types and the path does not say which", el.Path)
	}
	var val any
	if len(steps) == 1 {
		candidates := types
		if typ != "" {
			candidates = []string{typ}
		}
		why := "no type of " + el.Path + " (" + el.Types + ") can hold a value of the parameter's type"
		for _, t := range candidates {
			v, w := leaf(el, t, st)
			if v != nil {
				val, typ, why = v, t, ""
				break
			}
			if w != "" {
				why = w
			}
		}
		if val == nil {
			return why
		}
	} else {
		child := map[string]any{}
		next := el.Path
		if el.Choice {
			next = typ
		} else if el.ContentRef == "" && len(fhir.Children(el.Path)) == 0 {
			next = typ
		}
		if why := setPath(child, next, steps[1:], leaf); why != "" {
			return why
		}
		val = child
	}
	if len(st.where) > 0 {
		m, ok := val.(map[string]any)
		if !ok {
			return "a where() on a primitive element"
		}
		for k, v := range st.where {
			m[k] = v
		}
	}
	key := st.name
	if el.Choice {
		key += strings.ToUpper(typ[:1]) + typ[1:]
	}
	if el.IsArray() {
		obj[key] = []any{val}
	} else {
		obj[key] = val
	}
	return ""
}

// leafValue makes a value of FHIR type typ for a parameter of type pt, or nil when typ cannot hold one.
func leafValue(typ string, pt fhirsearch.Type, target string) (any, string) {
	if !slices.Contains(leafTypes[pt], typ) {
		return nil, ""
	}
	quantity := func(v string) map[string]any {
		return map[string]any{"value": json.Number(v), "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
	}
	coding := map[string]any{"system": "http://example.org/probe-codes", "code": "probe-code", "display": "Probe code"}
	switch typ {
	case "CodeableConcept":
		return map[string]any{"coding": []any{coding}, "text": "Probe concept"}, ""
	case "Coding":
		return coding, ""
	case "Identifier":
		return map[string]any{"system": "http://example.org/probe-identifiers", "value": "probe-identifier"}, ""
	case "ContactPoint":
		return map[string]any{"system": "phone", "value": "555-0100"}, ""
	case "boolean":
		return true, ""
	case "code", "id":
		return "probe-code", ""
	case "string", "markdown":
		if pt == fhirsearch.String {
			return "Probe text value", ""
		}
		return "probe-code", ""
	case "uri", "url", "canonical":
		if pt == fhirsearch.Reference {
			return "http://example.org/fhir/" + target + "/probe-target", ""
		}
		return "http://example.org/probe/uri", ""
	case "oid":
		return "urn:oid:1.2.3.4.5", ""
	case "uuid":
		return "urn:uuid:6b4e3a4c-2f6e-4c2a-9d4e-0a6f3c1b2d7e", ""
	case "integer", "positiveInt", "unsignedInt":
		return json.Number("42"), ""
	case "decimal":
		return json.Number("4.25"), ""
	case "date":
		return "2021-03-04", ""
	case "dateTime":
		return "2021-03-04T05:06:07Z", ""
	case "instant":
		return "2021-03-04T05:06:07.089Z", ""
	case "Period":
		return map[string]any{"start": "2021-03-04T05:06:07Z", "end": "2021-03-05T05:06:07Z"}, ""
	case "Timing":
		return map[string]any{"event": []any{"2021-03-04T05:06:07Z"}}, ""
	case "Reference":
		return map[string]any{"reference": target + "/probe-target"}, ""
	case "Resource":
		return map[string]any{"resourceType": target, "id": "probe-target"}, ""
	case "Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity":
		return quantity("5.4"), ""
	case "Money":
		return map[string]any{"value": json.Number("12.5"), "currency": "EUR"}, ""
	case "Range":
		return map[string]any{"low": quantity("1"), "high": quantity("5")}, ""
	case "HumanName":
		return map[string]any{"family": "Probefamily", "given": []any{"Probegiven"}}, ""
	case "Address":
		return map[string]any{"line": []any{"1 Probe Street"}, "city": "Probeville", "postalCode": "99999", "country": "Probeland"}, ""
	case "BackboneElement": // Location.position, for near
		return map[string]any{"latitude": json.Number("45.5"), "longitude": json.Number("-73.6")}, ""
	}
	return nil, ""
}

// leafTypes are the FHIR types a built value of each parameter type may have, in order of preference.
var leafTypes = map[fhirsearch.Type][]string{
	fhirsearch.Token: {"CodeableConcept", "Coding", "Identifier", "ContactPoint", "code", "boolean", "string", "id", "uri",
		"url", "canonical", "oid", "uuid"},
	fhirsearch.String:    {"string", "markdown", "HumanName", "Address"},
	fhirsearch.Date:      {"dateTime", "date", "instant", "Period", "Timing"},
	fhirsearch.Reference: {"Reference", "canonical", "uri", "url", "Resource"},
	fhirsearch.URI:       {"uri", "url", "canonical", "oid", "uuid"},
	fhirsearch.Number:    {"decimal", "integer", "positiveInt", "unsignedInt"},
	fhirsearch.Quantity: {"Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity", "Money",
		"Range"},
	fhirsearch.Special: {"BackboneElement"},
}
