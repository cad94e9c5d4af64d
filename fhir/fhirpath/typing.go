package fhirpath

import (
	"sort"
	"strings"
)

// baseType returns the type typ specialises, from the model when there is one, or else from the
// built-in knowledge of R4 (quantity profiles, string and integer specialisations, resources).
func (c *evalCtx) baseType(typ string) string {
	if m := c.model(); m != nil {
		return m.BaseType(typ)
	}
	if p := parentTypes[typ]; len(p) > 0 {
		return p[0]
	}
	switch {
	case typ == "DomainResource":
		return "Resource"
	case typ == "Bundle" || typ == "Binary" || typ == "Parameters":
		return "Resource"
	case IsResourceType(typ):
		return "DomainResource"
	}
	return ""
}

func (c *evalCtx) model() Model {
	if c.opts == nil {
		return nil
	}
	return c.opts.Model
}

func (c *evalCtx) lenient() bool { return c.opts == nil || c.opts.LenientAs }

// isType reports whether a node of type typ is an instance of t. Values of System types are instances
// of their System type only; values of FHIR types of their type and the types it specialises. An
// unqualified name denotes a FHIR type when one has that name, or else the System type. With
// LenientAs, a System type name also matches the FHIR types that convert to it (dateTime is a
// DateTime), as the search parameters expect.
func (c *evalCtx) isType(typ string, t typeSpec) bool {
	if typ == "" || typ == "TypeInfo" {
		return false
	}
	if sys, ok := strings.CutPrefix(typ, "System."); ok {
		return t.ns != "FHIR" && t.name == sys
	}
	if t.ns != "System" {
		for x, n := typ, 0; x != "" && n < 16; x, n = c.baseType(x), n+1 {
			if x == t.name {
				return true
			}
		}
		if t.ns == "FHIR" {
			return false
		}
	}
	if c.lenient() {
		if set, ok := systemTypes[t.name]; ok {
			_, in := set[typ]
			return in
		}
	}
	return false
}

// filterType keeps the nodes whose type is ts (or a specialisation of it).
func (c *evalCtx) filterType(in []Node, ts typeSpec) []Node {
	var out []Node
	for _, n := range in {
		if c.isType(n.Type, ts) {
			out = append(out, n)
		}
	}
	return out
}

// defPath returns where the children of n are defined in the model: its backbone path or its type.
func defPath(n Node) string {
	if n.path != "" {
		return n.path
	}
	return n.Type
}

// modelChild appends the children of n called name typed by the model. handled is false when the
// model does not know n's type or the element, leaving the caller to find the children untyped.
func (c *evalCtx) modelChild(out []Node, n Node, name string) (res []Node, handled bool) {
	m := c.model()
	parent := defPath(n)
	if m == nil || parent == "" || isSystem(parent) {
		return out, false
	}
	def, ok := childDef(m, parent, name)
	if !ok || len(def.Types) == 0 {
		return out, false
	}
	obj := objectOf(n)
	if obj == nil {
		return out, true
	}
	if def.Choice {
		for _, t := range def.Types {
			key := name + choiceKeySuffix(t)
			v, hasV := obj[key]
			ev, hasE := obj["_"+key]
			if hasV || hasE {
				out = emit(out, obj, key, name, t, v, ev)
			}
		}
		return out, true
	}
	typ := def.Types[0]
	if typ == "Resource" || typ == "DomainResource" {
		typ = "" // the resource's own type, from resourceType
	}
	v, hasV := obj[name]
	ev, hasE := obj["_"+name]
	if !hasV && !hasE {
		return out, true
	}
	start := len(out)
	out = emit(out, obj, name, name, typ, v, ev)
	if def.Path != "" {
		for i := start; i < len(out); i++ {
			out[i].path = def.Path
		}
	}
	return out, true
}

// choiceKeySuffix returns the JSON suffix of a choice element of type t (Quantity, DateTime).
func choiceKeySuffix(t string) string {
	if t == "" {
		return ""
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// knowsChild reports whether the model defines the element name on n (true without a model or when
// the model does not know n's type).
func (c *evalCtx) knowsChild(n Node, name string) bool {
	m := c.model()
	parent := defPath(n)
	if m == nil || parent == "" || isSystem(parent) || !m.IsType(typeRoot(parent)) {
		return true
	}
	_, ok := childDef(m, parent, name)
	return ok
}

// typeRoot returns the type name a definition path starts with ("Patient" for "Patient.contact").
func typeRoot(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

// modelChildren appends all children of n (children()) typed by the model; handled is false without
// a model that knows n.
func (c *evalCtx) modelChildren(out []Node, n Node) ([]Node, bool) {
	m := c.model()
	parent := defPath(n)
	if m == nil || parent == "" || isSystem(parent) || !m.IsType(typeRoot(parent)) {
		return out, false
	}
	obj := objectOf(n)
	if len(obj) == 0 {
		return out, true
	}
	names := make([]string, 0, len(obj))
	seen := map[string]bool{}
	for k := range obj {
		k = strings.TrimPrefix(k, "_")
		if k == "" || k == "resourceType" {
			continue
		}
		name := k
		if _, ok := childDef(m, parent, k); !ok {
			if base, _, isChoice := ChoiceType(k); isChoice {
				name = base
			}
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var handled bool
		if out, handled = c.modelChild(out, n, name); !handled {
			out = child(out, n, name)
		}
	}
	return out, true
}
