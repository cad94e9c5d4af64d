package invariant

import (
	"strings"
	"sync"

	"fhirgate/fhir"
)

// child says how to walk one JSON member of an object: which invariants apply to its values and where
// its own members are defined.
type child struct {
	name     string // the FHIRPath name: the JSON name without a choice suffix
	ofType   string // the choice's type, or ""
	path     string // the element's path, whose invariants apply (e.g. "Observation.referenceRange")
	typ      string // the value's type, whose invariants apply (e.g. "Period", "BackboneElement")
	defPath  string // where the value's members are defined (a type or a backbone path), or "" for a primitive
	resource bool   // the value is a resource of its own (contained, Bundle.entry.resource)
}

// children caches lookupChild: childKey -> *child, or nil when there is no such element.
var children sync.Map

type childKey struct{ defPath, name string }

// lookupChild returns how to walk the member name of an object defined under defPath.
func lookupChild(defPath, name string) (*child, bool) {
	k := childKey{defPath, name}
	if c, ok := children.Load(k); ok {
		c := c.(*child)
		return c, c != nil
	}
	c := findChild(defPath, name)
	children.Store(k, c)
	return c, c != nil
}

func findChild(defPath, name string) *child {
	el, ok := fhir.LookupElement(defPath + "." + name)
	typ := ""
	c := &child{name: name}
	if ok && !el.Choice {
		typ = el.Types
	} else {
		el = nil
		for _, e := range fhir.Children(defPath) {
			if t, ok := fhir.ChoiceTypeSuffix(e, name); ok {
				el, typ = e, t
				c.name = e.Path[strings.LastIndexByte(e.Path, '.')+1:]
				c.ofType = t
				break
			}
		}
		if el == nil {
			return nil
		}
	}
	c.path = el.Path
	switch {
	case el.ContentRef != "":
		// An element that reuses another's definition has the invariants R4 gives it when it gives any
		// (TestScript.test.action.assert: tst-6, tst-11, tst-13, the setup's own in other words), else
		// those of the element it reuses (Questionnaire.item.item: que-1..que-13).
		c.typ, c.defPath = "BackboneElement", el.ContentRef
		if !hasOwnInvariants(el.Path) {
			c.path = el.ContentRef
		}
	case typ == "BackboneElement" || typ == "Element":
		c.typ, c.defPath = typ, el.Path
	case typ == "Resource":
		c.resource = true
	case strings.Contains(typ, "|"), typ == "":
		return nil
	case isPrimitive(typ):
		c.typ = typ
	default:
		c.typ, c.defPath = typ, typ
	}
	return c
}

// isPrimitive reports whether a type code is a primitive type (string, dateTime, System.String...).
func isPrimitive(typ string) bool {
	return strings.HasPrefix(typ, "System.") || typ[0] >= 'a' && typ[0] <= 'z'
}

var (
	ownOnce sync.Once
	own     map[string]bool
)

// hasOwnInvariants reports whether R4 defines invariants for the element path (evaluated or not).
func hasOwnInvariants(path string) bool {
	ownOnce.Do(func() {
		own = map[string]bool{}
		for i := range definitions {
			own[strings.ReplaceAll(definitions[i].Context, "[x]", "")] = true
		}
	})
	return own[path]
}
