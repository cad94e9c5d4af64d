package fhir

import (
	"strings"
	"sync"

	"fhirgate/fhir/fhirpath"
)

// PathModel returns the R4 model for FHIRPath evaluation (fhirpath.Options.Model), built over the
// generated element tables: the type of every element, choice elements, content references and the
// R4 type hierarchy.
func PathModel() fhirpath.Model {
	fpModelOnce.Do(func() { fpModel = newPathModel() })
	return fpModel
}

var (
	fpModelOnce sync.Once
	fpModel     *fhirpathModel
)

type fhirpathModel struct {
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

func newPathModel() *fhirpathModel {
	indexes()
	m := &fhirpathModel{types: map[string]bool{"Element": true, "BackboneElement": true, "Resource": true, "DomainResource": true}}
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

// Child implements fhirpath.Model.
func (m *fhirpathModel) Child(parent, name string) (fhirpath.ElementDef, bool) {
	for p, n := parent, 0; p != "" && n < 8; p, n = m.BaseType(typeOfPath(p)), n+1 {
		e, ok := elementIndex[p+"."+name]
		if !ok {
			if strings.Contains(p, ".") {
				p = m.pathBase(p)
				if e, ok = elementIndex[p+"."+name]; !ok {
					continue
				}
			} else {
				continue
			}
		}
		return m.def(e, name), true
	}
	return fhirpath.ElementDef{}, false
}

// pathBase returns the type a backbone element path inherits its id, extension and
// modifierExtension from.
func (m *fhirpathModel) pathBase(string) string { return "BackboneElement" }

// typeOfPath returns the type name of a definition path (a backbone path is a BackboneElement).
func typeOfPath(p string) string {
	if strings.Contains(p, ".") {
		return "BackboneElement"
	}
	return p
}

func (m *fhirpathModel) def(e *Element, name string) fhirpath.ElementDef {
	d := fhirpath.ElementDef{Types: e.TypeList(), Choice: e.Choice}
	for i, t := range d.Types {
		if t == "System.String" { // the FHIR type the R4 definitions give in an extension
			switch {
			case strings.HasSuffix(e.Path, "Extension.url"):
				d.Types[i] = "uri"
			case name == "id" && IsResourceType(e.Path[:strings.IndexByte(e.Path, '.')]) && strings.Count(e.Path, ".") == 1,
				name == "id" && (e.Path == "Resource.id" || e.Path == "DomainResource.id"):
				d.Types[i] = "id"
			default:
				d.Types[i] = "string"
			}
		}
	}
	switch {
	case e.ContentRef != "":
		d.Path = strings.TrimPrefix(e.ContentRef, "#")
		if len(d.Types) == 0 {
			if target, ok := elementIndex[d.Path]; ok {
				d.Types = target.TypeList()
			}
		}
	case len(d.Types) == 1 && (d.Types[0] == "BackboneElement" || d.Types[0] == "Element") && len(childIndex[e.Path]) > 0:
		d.Path = e.Path
	}
	return d
}

// BaseType implements fhirpath.Model.
func (m *fhirpathModel) BaseType(typ string) string {
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
func (m *fhirpathModel) IsType(name string) bool { return m.types[name] }
