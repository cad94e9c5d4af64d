package fhir

import (
	"strings"
	"sync"
)

// PathModel returns the R4 model for FHIRPath evaluation (it implements fhirpath.Model: set it as
// fhirpath.Options.Model), built over the generated element tables: the type of every element,
// choice elements, content references and the R4 type hierarchy. Package fhir does not import
// package fhirpath: the model's methods use only predeclared types.
func PathModel() *PathTypeModel {
	fpModelOnce.Do(func() { fpModel = newPathModel() })
	return fpModel
}

var (
	fpModelOnce sync.Once
	fpModel     *PathTypeModel
)

// PathTypeModel is the R4 model for FHIRPath evaluation; see PathModel.
type PathTypeModel struct {
	types map[string]bool // every type with elements, every resource and primitive
}

// r4Primitives are the R4 primitive types.
var r4Primitives = []string{"base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal",
	"id", "instant", "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri",
	"url", "uuid", "xhtml"}

// r4PrimitiveBases are the primitives that specialise another one (all others specialise Element).
var r4PrimitiveBases = map[string]string{
	"code": "string", "id": "string", "markdown": "string",
	"canonical": "uri", "oid": "uri", "url": "uri", "uuid": "uri",
	"positiveInt": "integer", "unsignedInt": "integer",
}

// r4TypeBases are the complex types whose base is not Element.
var r4TypeBases = map[string]string{
	"Age": "Quantity", "Count": "Quantity", "Distance": "Quantity", "Duration": "Quantity",
	"MoneyQuantity": "Quantity", "SimpleQuantity": "Quantity",
	"Dosage": "BackboneElement", "ElementDefinition": "BackboneElement", "Timing": "BackboneElement",
	"MarketingStatus": "BackboneElement", "Population": "BackboneElement", "ProdCharacteristic": "BackboneElement",
	"ProductShelfLife": "BackboneElement", "SubstanceAmount": "BackboneElement",
	"BackboneElement": "Element", "Element": "",
	"Resource": "", "DomainResource": "Resource", "Bundle": "Resource", "Binary": "Resource", "Parameters": "Resource",
}

func newPathModel() *PathTypeModel {
	indexes()
	m := &PathTypeModel{types: map[string]bool{"Element": true, "BackboneElement": true, "Resource": true, "DomainResource": true}}
	for parent := range childIndex {
		if !strings.Contains(parent, ".") {
			m.types[parent] = true
		}
	}
	for _, t := range resourceTypes {
		m.types[t] = true
	}
	for _, p := range r4Primitives {
		m.types[p] = true
	}
	for t := range r4TypeBases {
		m.types[t] = true
	}
	return m
}

// ChildElement implements fhirpath.Model: the types of the element called name of parent (a type or
// a backbone element path), whether it is a choice element, and where a backbone element's children
// are defined.
func (m *PathTypeModel) ChildElement(parent, name string) (types []string, choice bool, path string, ok bool) {
	for p, n := parent, 0; p != "" && n < 8; p, n = m.BaseType(typeOfPath(p)), n+1 {
		e, found := elementIndex[p+"."+name]
		if !found && strings.Contains(p, ".") {
			e, found = elementIndex["BackboneElement."+name]
		}
		if found {
			types, path = m.def(e, name)
			return types, e.Choice, path, true
		}
	}
	return nil, false, "", false
}

// typeOfPath returns the type name of a definition path (a backbone path is a BackboneElement).
func typeOfPath(p string) string {
	if strings.Contains(p, ".") {
		return "BackboneElement"
	}
	return p
}

// def returns the FHIR types of an element and, for a backbone element, where its children are.
func (m *PathTypeModel) def(e *Element, name string) (types []string, path string) {
	types = e.TypeList()
	for i, t := range types {
		if t != "System.String" {
			continue
		}
		// the FHIR type the R4 definitions give in an extension
		root := e.Path[:strings.IndexByte(e.Path, '.')]
		switch {
		case strings.HasSuffix(e.Path, "Extension.url"):
			types[i] = "uri"
		case name == "id" && strings.Count(e.Path, ".") == 1 && (IsResourceType(root) || root == "Resource" || root == "DomainResource"):
			types[i] = "id"
		default:
			types[i] = "string"
		}
	}
	switch {
	case e.ContentRef != "":
		path = strings.TrimPrefix(e.ContentRef, "#")
		if len(types) == 0 {
			if target, ok := elementIndex[path]; ok {
				types = target.TypeList()
			}
		}
	case len(types) == 1 && (types[0] == "BackboneElement" || types[0] == "Element") && len(childIndex[e.Path]) > 0:
		path = e.Path
	}
	return types, path
}

// BaseType implements fhirpath.Model.
func (m *PathTypeModel) BaseType(typ string) string {
	if b, ok := r4TypeBases[typ]; ok {
		return b
	}
	if b, ok := r4PrimitiveBases[typ]; ok {
		return b
	}
	if IsResourceType(typ) {
		return "DomainResource"
	}
	if m.types[typ] {
		return "Element"
	}
	return ""
}

// IsType implements fhirpath.Model.
func (m *PathTypeModel) IsType(name string) bool { return m.types[name] }
