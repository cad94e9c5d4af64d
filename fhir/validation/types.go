package validation

import (
	"strings"
	"sync"

	"fhirgate/fhir"
)

// typeInfo is what the walk knows of one kind of object: a resource type, a complex data type or a
// backbone element (named by its path, e.g. "Patient.contact").
type typeInfo struct {
	name string
	// fields maps each JSON member name to its element: choice elements have one entry per type
	// ("valueQuantity", "valueString"...).
	fields map[string]*field
	// required are the elements with a minimum cardinality of at least one.
	required []*field
	// choiceBases maps a choice element's base name ("value") to its element, to name an unknown type
	// suffix.
	choiceBases map[string]*fhir.Element
	// resource marks a resource type (its objects carry resourceType).
	resource bool
}

// field is one member name of an object.
type field struct {
	name  string // the JSON member name
	el    *fhir.Element
	typ   string // the concrete type: a primitive, a complex type, "Resource" or "BackboneElement"
	array bool
	// def is the definition of the member's objects (complex types and backbone elements).
	def *typeInfo
	// primitive marks primitive types, which may have a "_name" sibling.
	primitive bool
	// choice is the base name of a choice element ("value" for valueQuantity); empty otherwise.
	choice string
	// targets are the resource types a Reference may point to; nil when any.
	targets map[string]bool
	binding *binding
}

var (
	typesOnce sync.Once
	typeIndex map[string]*typeInfo
)

// types returns the index of every resource type, data type and backbone element of R4, built once.
func types() map[string]*typeInfo {
	typesOnce.Do(func() {
		typeIndex = map[string]*typeInfo{}
		for _, rt := range fhir.ResourceTypes() {
			typeInfoOf(rt).resource = true
		}
		typeInfoOf("Element")
		buildValueSets()
	})
	return typeIndex
}

// typeInfoOf returns the definition of the objects at def (a type name or a backbone element's path),
// building it and the definitions it reaches on first use. It runs inside typesOnce only.
func typeInfoOf(def string) *typeInfo {
	if ti, ok := typeIndex[def]; ok {
		return ti
	}
	ti := &typeInfo{name: def, fields: map[string]*field{}}
	typeIndex[def] = ti
	for _, el := range fhir.Children(def) {
		base := el.Path[strings.LastIndexByte(el.Path, '.')+1:]
		if el.Choice {
			if ti.choiceBases == nil {
				ti.choiceBases = map[string]*fhir.Element{}
			}
			ti.choiceBases[base] = el
		}
		var first *field
		for _, t := range el.TypeList() {
			f := &field{name: base, el: el, typ: fieldType(el, t), array: el.IsArray()}
			if el.Choice {
				f.name = base + strings.ToUpper(t[:1]) + t[1:]
				f.choice = base
			}
			f.primitive = isPrimitive(f.typ)
			switch {
			case el.ContentRef != "":
				f.typ = "BackboneElement"
				f.def = typeInfoOf(el.ContentRef)
			case t == "BackboneElement" || (t == "Element" && len(fhir.Children(el.Path)) > 0 && el.Path != "Element"):
				f.typ = "BackboneElement"
				f.def = typeInfoOf(el.Path)
			case f.typ == "Resource" || f.primitive:
			default:
				f.def = typeInfoOf(f.typ)
			}
			if el.Targets != "" && (t == "Reference") {
				f.targets = map[string]bool{}
				for _, tg := range strings.Split(el.Targets, "|") {
					if tg == "Resource" {
						f.targets = nil
						break
					}
					f.targets[tg] = true
				}
			}
			if b, ok := bindingTable[el.Path]; ok {
				f.binding = &b
			}
			ti.fields[f.name] = f
			if first == nil {
				first = f
			}
		}
		if el.ContentRef != "" && first == nil {
			f := &field{name: base, el: el, typ: "BackboneElement", array: el.IsArray(), def: typeInfoOf(el.ContentRef)}
			ti.fields[base] = f
			first = f
		}
		if el.Min > 0 && first != nil {
			ti.required = append(ti.required, first)
		}
	}
	return ti
}

// fieldType is the FHIR type of an element of type code t: the FHIRPath system types R4 gives to ids and
// extension URLs become the FHIR types they stand for.
func fieldType(el *fhir.Element, t string) string {
	if !strings.HasPrefix(t, "System.") {
		return t
	}
	switch {
	case strings.HasSuffix(el.Path, "Extension.url"):
		return "uri"
	case strings.Count(el.Path, ".") == 1 && strings.HasSuffix(el.Path, ".id") && fhir.IsResourceType(el.Path[:len(el.Path)-3]):
		return "id"
	case strings.HasSuffix(el.Path, ".id"):
		return "string"
	}
	return "string"
}

// isPrimitive reports whether t is a primitive type (its name starts with a lower-case letter).
func isPrimitive(t string) bool {
	return t != "" && t[0] >= 'a' && t[0] <= 'z'
}
