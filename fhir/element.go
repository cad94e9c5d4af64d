package fhir

import (
	"strings"
	"sync"
)

// Element describes one element of a resource or data type, from its R4 StructureDefinition.
type Element struct {
	// Path is the element path without the choice suffix, e.g. "Observation.value", "HumanName.given".
	Path string
	// Types are the type codes, separated by "|" (several for choice elements, e.g. "Quantity|string|...").
	Types string
	// Min and Max are the cardinality; Max is -1 for "*".
	Min, Max int
	// Targets are the resource types a Reference or canonical may point to, separated by "|".
	Targets string
	// ContentRef is the path whose definition this element reuses (e.g. Questionnaire.item.item ->
	// Questionnaire.item).
	ContentRef string
	// Summary marks elements that are part of the summary view (_summary=true).
	Summary bool
	// Modifier marks modifier elements.
	Modifier bool
	// Choice marks a choice element (value[x]); its JSON name carries the type as a suffix.
	Choice bool
}

// IsArray reports whether the element repeats.
func (e *Element) IsArray() bool { return e.Max != 1 && e.Max != 0 }

// TypeList returns the element's type codes.
func (e *Element) TypeList() []string {
	if e.Types == "" {
		return nil
	}
	return strings.Split(e.Types, "|")
}

var (
	elementIndexOnce sync.Once
	elementIndex     map[string]*Element
	childIndex       map[string][]*Element
	resourceTypeSet  map[string]bool
)

func buildIndexes() {
	elementIndex = make(map[string]*Element, len(elementTable))
	childIndex = make(map[string][]*Element)
	for i := range elementTable {
		e := &elementTable[i]
		elementIndex[e.Path] = e
		if dot := strings.LastIndexByte(e.Path, '.'); dot > 0 {
			parent := e.Path[:dot]
			childIndex[parent] = append(childIndex[parent], e)
		}
	}
	resourceTypeSet = make(map[string]bool, len(resourceTypes))
	for _, t := range resourceTypes {
		resourceTypeSet[t] = true
	}
}

func indexes() {
	elementIndexOnce.Do(buildIndexes)
}

// IsResourceType reports whether name is a concrete R4 resource type (case-sensitive).
func IsResourceType(name string) bool {
	indexes()
	return resourceTypeSet[name]
}

// ResourceTypes returns the concrete R4 resource types, sorted.
func ResourceTypes() []string {
	out := make([]string, len(resourceTypes))
	copy(out, resourceTypes[:])
	return out
}

// LookupElement returns the definition of the element at path, e.g. "Patient.name",
// "Patient.name.given" (following into the element's data type), "Questionnaire.item.item.text"
// (following content references), or "Observation.value" (a choice element).
func LookupElement(path string) (*Element, bool) {
	indexes()
	if e, ok := elementIndex[path]; ok {
		if e.ContentRef != "" {
			return e, true
		}
		return e, true
	}
	// Walk segment by segment, switching to the data type or the referenced content when needed.
	segs := strings.Split(path, ".")
	if len(segs) < 2 {
		return nil, false
	}
	cur := segs[0]
	var el *Element
	for _, s := range segs[1:] {
		next := cur + "." + s
		e, ok := elementIndex[next]
		if !ok {
			return nil, false
		}
		el = e
		switch {
		case e.ContentRef != "":
			cur = e.ContentRef
		case hasChildren(next):
			cur = next
		default:
			// A data type: continue in the type's own definitions.
			types := e.TypeList()
			if len(types) != 1 {
				cur = next
			} else {
				cur = types[0]
			}
		}
	}
	return el, el != nil
}

func hasChildren(path string) bool {
	return len(childIndex[path]) > 0
}

// Children returns the direct child elements defined under path (a resource type, a backbone element
// or a data type), sorted by path. Content references and single data types are followed.
func Children(path string) []*Element {
	indexes()
	if kids := childIndex[path]; len(kids) > 0 {
		return kids
	}
	e, ok := LookupElement(path)
	if !ok {
		return nil
	}
	if e.ContentRef != "" {
		return childIndex[e.ContentRef]
	}
	if types := e.TypeList(); len(types) == 1 {
		return childIndex[types[0]]
	}
	return nil
}

// ChoiceTypeSuffix returns the type code matching a JSON member name of a choice element, e.g.
// ("Observation.value", "valueQuantity") -> "Quantity"; ok is false when name is not a form of the element.
func ChoiceTypeSuffix(el *Element, name string) (string, bool) {
	base := el.Path[strings.LastIndexByte(el.Path, '.')+1:]
	if !el.Choice || !strings.HasPrefix(name, base) || len(name) == len(base) {
		return "", false
	}
	suffix := name[len(base):]
	for _, t := range el.TypeList() {
		if strings.EqualFold(t, suffix) && strings.ToUpper(t[:1])+t[1:] == suffix {
			return t, true
		}
	}
	return "", false
}
