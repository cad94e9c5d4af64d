package invariant

import "strings"

// A guard reports, from the context node alone, that an invariant holds there, so that the expression
// need not be evaluated. The invariants that every resource or every Reference carries, and that cost
// the most, have one (a test holds that the expression agrees wherever the guard answers).
type guard func(node map[string]any) bool

var guards = map[string]guard{
	// dom-2..dom-5 are all about contained resources: "contained.….empty()" and the like.
	"DomainResource/dom-2": noContained,
	"DomainResource/dom-3": noContained,
	"DomainResource/dom-4": noContained,
	"DomainResource/dom-5": noContained,
	// ref-1: "reference.startsWith('#').not() or ...": only a local reference needs the resource.
	"Reference/ref-1": func(node map[string]any) bool {
		ref, ok := node["reference"].(string)
		return !ok || !strings.HasPrefix(ref, "#")
	},
}

func noContained(node map[string]any) bool {
	_, ok := node["contained"]
	return !ok
}

// natives are invariants computed in Go instead of by their expression, because the expression costs
// too much on large resources: dom-3 computes the descendants of the whole resource once for each
// contained resource, and compares them by their JSON form. A test holds that each agrees with the
// (adapted) expression on the official examples.
var natives = map[string]func(node map[string]any) bool{
	"DomainResource/dom-3": containedReferred,
}

// containedReferred is dom-3 as adapted: each contained resource is referred to by '#id' from a string
// anywhere in the resource, or refers to its container with '#'.
func containedReferred(node map[string]any) bool {
	contained, _ := node["contained"].([]any)
	if len(contained) == 0 {
		return true
	}
	refs := map[string]bool{}
	collectStrings(node, refs, 0)
	for _, c := range contained {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		if refs["#"+id] {
			continue
		}
		own := map[string]bool{}
		collectStrings(m, own, 0)
		if !own["#"] {
			return false
		}
	}
	return true
}

// collectStrings adds the strings that start with '#' found under v (member values, not names).
func collectStrings(v any, into map[string]bool, depth int) {
	if depth > maxDepth {
		return
	}
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "#") {
			into[x] = true
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(e, into, depth+1)
		}
	case []any:
		for _, e := range x {
			collectStrings(e, into, depth+1)
		}
	}
}
