package fhirpath

import "strings"

// fnResolve implements resolve(). Without access to a server it resolves:
//   - "#id" against the contained resources of %resource ("#" alone is %resource itself), returning
//     the contained resource located in the tree;
//   - "Type/id", ".../Type/id" and ".../Type/id/_history/v" to a synthetic resource node
//     {"resourceType": Type, "id": id} with no location, so that resolve() is Patient works;
//   - otherwise (e.g. urn:uuid: references) to a synthetic node of the type named by Reference.type,
//     when it has one.
//
// Strings (canonical and uri values) are resolved like Reference.reference.
func fnResolve(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	for _, n := range in {
		var ref, refType string
		switch v := n.Value.(type) {
		case map[string]any:
			ref, _ = v["reference"].(string)
			refType, _ = v["type"].(string)
		case string:
			ref = v
		default:
			continue
		}
		if r, ok := c.resolveRef(ref, refType); ok {
			out = append(out, r)
		}
	}
	return out, c.count(len(out), a)
}

func (c *evalCtx) resolveRef(ref, refType string) (Node, bool) {
	if strings.HasPrefix(ref, "#") {
		root, ok := c.root.Value.(map[string]any)
		if !ok {
			return Node{}, false
		}
		id := ref[1:]
		if id == "" {
			return c.root, true
		}
		contained, _ := root["contained"].([]any)
		for i, r := range contained {
			if m, ok := r.(map[string]any); ok {
				if mid, _ := m["id"].(string); mid == id {
					return Node{Value: m, Type: shapeType(m), Parent: root, Key: "contained", Name: "contained", Index: i}, true
				}
			}
		}
		return Node{}, false
	}
	typ, id := ParseReference(ref)
	if typ == "" {
		typ = typeFromURI(refType)
		if typ == "" {
			return Node{}, false
		}
	}
	v := map[string]any{"resourceType": typ}
	if id != "" {
		v["id"] = id
	}
	return Node{Value: v, Type: typ, Index: -1}, true
}

// ParseReference extracts the resource type and id from a literal reference: "Patient/123",
// "http://example.org/fhir/Patient/123" or either with "/_history/2". A canonical version suffix
// ("|4.0.1") is ignored. It returns empty strings when ref does not end in a known R4 resource type
// followed by a valid id.
func ParseReference(ref string) (typ, id string) {
	if i := strings.IndexByte(ref, '|'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	segs := strings.Split(ref, "/")
	if n := len(segs); n >= 4 && segs[n-2] == "_history" {
		segs = segs[:n-2]
	}
	n := len(segs)
	if n < 2 || !IsResourceType(segs[n-2]) || !validID(segs[n-1]) {
		return "", ""
	}
	return segs[n-2], segs[n-1]
}

// validID reports whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - and '.'.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// typeFromURI returns the resource type named by Reference.type: a bare type name or a core
// StructureDefinition URL.
func typeFromURI(t string) string {
	t = strings.TrimPrefix(t, "http://hl7.org/fhir/StructureDefinition/")
	if IsResourceType(t) {
		return t
	}
	return ""
}
