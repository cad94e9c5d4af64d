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
		ref, refType, ok := referenceOf(n)
		if !ok {
			continue
		}
		if r, ok := c.resolveRef(ref, refType); ok {
			out = append(out, r)
		}
	}
	return out, c.count(len(out), a)
}

// referenceOf returns the reference text and Reference.type of a node resolve() can resolve: a
// Reference, or a string (canonical, uri).
func referenceOf(n Node) (ref, refType string, ok bool) {
	switch v := n.Value.(type) {
	case map[string]any:
		ref, _ = v["reference"].(string)
		refType, _ = v["type"].(string)
		return ref, refType, true
	case string:
		return v, "", true
	}
	return "", "", false
}

func (c *evalCtx) resolveRef(ref, refType string) (Node, bool) {
	if local, n, ok := c.resolveLocal(ref); local {
		return n, ok
	}
	typ, id := resolveExternal(ref, refType)
	if typ == "" {
		return Node{}, false
	}
	v := map[string]any{"resourceType": typ}
	if id != "" {
		v["id"] = id
	}
	return Node{Value: v, Type: typ, Index: -1}, true
}

// resolvedType returns the type of the node resolve() finds for n, without building it.
func (c *evalCtx) resolvedType(n Node) (string, bool) {
	ref, refType, ok := referenceOf(n)
	if !ok {
		return "", false
	}
	if local, r, ok := c.resolveLocal(ref); local {
		return r.Type, ok
	}
	typ, _ := resolveExternal(ref, refType)
	return typ, typ != ""
}

// resolveLocal resolves a "#id" reference (local) against the contained resources of %resource ("#"
// alone is %resource itself).
func (c *evalCtx) resolveLocal(ref string) (local bool, n Node, ok bool) {
	if !strings.HasPrefix(ref, "#") {
		return false, Node{}, false
	}
	root, isMap := c.root.Value.(map[string]any)
	if !isMap {
		return true, Node{}, false
	}
	id := ref[1:]
	if id == "" {
		return true, c.root, true
	}
	contained, _ := root["contained"].([]any)
	for i, r := range contained {
		if m, isMap := r.(map[string]any); isMap {
			if mid, _ := m["id"].(string); mid == id {
				return true, Node{Value: m, Type: shapeType(m), Parent: root, Key: "contained", Name: "contained", Index: i}, true
			}
		}
	}
	return true, Node{}, false
}

// resolveExternal returns the type and id a non-local reference names: from its text, or else the type
// of Reference.type (with no id). The type is "" when neither names one.
func resolveExternal(ref, refType string) (typ, id string) {
	typ, id = ParseReference(ref)
	if typ == "" {
		typ = typeFromURI(refType)
	}
	return typ, id
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
	rest, id, ok := cutLastSegment(ref)
	if !ok {
		return "", ""
	}
	// ".../Type/id/_history/v": at least four segments, the last but one "_history"
	if before, seg, ok := cutLastSegment(rest); ok && seg == "_history" && strings.Contains(before, "/") {
		rest, id, _ = cutLastSegment(before)
	}
	_, typ, _ = cutLastSegment(rest)
	if !IsResourceType(typ) || !validID(id) {
		return "", ""
	}
	return typ, id
}

// cutLastSegment splits a path at its last "/": the path before it and the last segment. Without a
// "/", the segment is the whole path and ok is false.
func cutLastSegment(path string) (before, last string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path, false
	}
	return path[:i], path[i+1:], true
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
