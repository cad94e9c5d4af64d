// Package fhirpathpatch applies FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters
// resource whose "operation" parameters add, insert, delete, replace or move elements of a resource
// located with FHIRPath (package fhirpath).
//
// Resources are values decoded from JSON with json.Decoder.UseNumber (map[string]any, []any,
// json.Number, string, bool, nil). Apply never modifies its arguments: it patches a deep copy and
// returns it, or returns an error and no resource (all-or-nothing). Empty objects and arrays left by
// the operations (FHIR JSON allows none) are removed from the result.
//
// The package has no FHIR model. Whether an element repeats (so that add must create a JSON array)
// and whether it is a choice element (so that add names it deceasedBoolean rather than deceased) come
// from Options.Element when set. Without it, a small list of element names that repeat everywhere in
// R4 (extension, coding, given, telecom, ...) is used, and a name ending in "[x]" (e.g. "deceased[x]")
// marks a choice element.
package fhirpathpatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"fhirgate/fhir/fhirpath"
)

// Kind classifies an *Error.
type Kind int

const (
	// InvalidPatch means the Parameters resource is not a well-formed FHIRPath Patch (missing or
	// unknown parts, unknown operation type, a path that does not compile, a negative index).
	InvalidPatch Kind = iota + 1
	// Unprocessable means a well-formed operation cannot be applied to this resource (the path
	// matches no or several elements, an index is out of range, the element already exists, ...).
	Unprocessable
)

func (k Kind) String() string {
	switch k {
	case InvalidPatch:
		return "invalid patch"
	case Unprocessable:
		return "unprocessable"
	}
	return "unknown"
}

// Error describes why a patch was rejected.
type Error struct {
	Kind   Kind
	Index  int    // index of the operation in Parameters.parameter (0-based), or -1
	Type   string // the operation type (add, insert, delete, replace, move), when known
	Path   string // the operation's FHIRPath path, when known
	Reason string // lower-case reason
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return e.Kind.String() + ": " + e.Reason
	}
	if what := strings.TrimSpace(e.Type + " " + e.Path); what != "" {
		return fmt.Sprintf("operation %d (%s): %s", e.Index, what, e.Reason)
	}
	return fmt.Sprintf("operation %d: %s", e.Index, e.Reason)
}

// ElementInfo describes an element of the FHIR model.
type ElementInfo struct {
	Repeating bool // the element has max cardinality > 1 (a JSON array)
	Choice    bool // the element is a choice (value[x]); its JSON name carries the type suffix
}

// Options supplies model knowledge the package does not have.
type Options struct {
	// Element describes the element at an element path: the resource type followed by element names
	// without choice suffixes, e.g. "Patient.contact.telecom", "Observation.value",
	// "Observation.component.value". It returns false for unknown paths. When nil, defaults apply
	// (see the package documentation).
	Element func(path string) (ElementInfo, bool)
}

// defaultRepeating lists element names that repeat wherever they occur in R4.
var defaultRepeating = map[string]bool{
	"extension": true, "modifierExtension": true, "contained": true, "coding": true, "given": true,
	"prefix": true, "suffix": true, "line": true, "telecom": true, "note": true, "tag": true,
	"useContext": true, "relatedArtifact": true, "interpretation": true, "reaction": true,
}

// Apply applies the FHIRPath Patch params to a copy of resource and returns the patched copy.
func Apply(resource, params map[string]any) (map[string]any, error) {
	return ApplyWithOptions(resource, params, Options{})
}

// ApplyWithOptions is Apply with model knowledge from opts.
func ApplyWithOptions(resource, params map[string]any, opts Options) (map[string]any, error) {
	ops, err := parse(params)
	if err != nil {
		return nil, err
	}
	if resource == nil {
		return nil, &Error{Kind: Unprocessable, Index: -1, Reason: "no resource to patch"}
	}
	out := deepCopy(resource).(map[string]any)
	p := &patcher{root: out, opts: opts}
	for i := range ops {
		if err := p.apply(&ops[i]); err != nil {
			return nil, err
		}
	}
	prune(out)
	return out, nil
}

// prune removes the empty objects and arrays that operations can leave behind (deleting the last
// extension of a primitive leaves "_name": {}), since FHIR JSON does not allow them. Emptied items of
// a "_name" array become null, and arrays holding only nulls are removed.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			prune(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			primitiveExt := strings.HasPrefix(k, "_")
			kept := x[:0]
			for _, item := range x {
				switch it := item.(type) {
				case map[string]any:
					prune(it)
					if len(it) == 0 {
						if primitiveExt {
							kept = append(kept, nil) // keep the alignment with the values
						}
						continue
					}
				case []any:
					if len(it) == 0 {
						continue
					}
				}
				kept = append(kept, item)
			}
			clear(x[len(kept):])
			allNull := true
			for _, item := range kept {
				if item != nil {
					allNull = false
					break
				}
			}
			if allNull {
				delete(m, k)
			} else {
				m[k] = kept
			}
		}
	}
}

// operation is one parsed "operation" parameter.
type operation struct {
	index       int
	typ         string
	pathSrc     string
	path        *fhirpath.Expr
	name        string
	value       map[string]any // the "value" part (value[x], resource or nested parts)
	hasIndex    bool
	idx         int
	source      int
	destination int
	hasSource   bool
	hasDest     bool
}

func (o *operation) fail(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Index: o.index, Type: o.typ, Path: o.pathSrc, Reason: fmt.Sprintf(format, args...)}
}

func parse(params map[string]any) ([]operation, error) {
	bad := func(format string, args ...any) error {
		return &Error{Kind: InvalidPatch, Index: -1, Reason: fmt.Sprintf(format, args...)}
	}
	if params == nil {
		return nil, bad("no Parameters resource")
	}
	if rt, _ := params["resourceType"].(string); rt != "Parameters" {
		return nil, bad("the patch is not a Parameters resource")
	}
	raw, ok := params["parameter"]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, bad("Parameters.parameter is not an array")
	}
	ops := make([]operation, 0, len(list))
	for i, item := range list {
		op, err := parseOperation(i, item)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func parseOperation(i int, item any) (operation, error) {
	o := operation{index: i}
	p, ok := item.(map[string]any)
	if !ok {
		return o, o.fail(InvalidPatch, "parameter is not an object")
	}
	if name, _ := p["name"].(string); name != "operation" {
		return o, o.fail(InvalidPatch, "parameter is named %q, expected \"operation\"", name)
	}
	parts, ok := p["part"].([]any)
	if !ok {
		return o, o.fail(InvalidPatch, "operation has no parts")
	}
	seen := map[string]bool{}
	var pathSet, nameSet bool
	for _, raw := range parts {
		part, ok := raw.(map[string]any)
		if !ok {
			return o, o.fail(InvalidPatch, "part is not an object")
		}
		pname, _ := part["name"].(string)
		if seen[pname] {
			return o, o.fail(InvalidPatch, "part %q is repeated", pname)
		}
		seen[pname] = true
		switch pname {
		case "type", "path", "name":
			s, err := stringPart(part)
			if err != nil {
				return o, o.fail(InvalidPatch, "part %q: %v", pname, err)
			}
			switch pname {
			case "type":
				o.typ = s
			case "path":
				o.pathSrc, pathSet = s, true
			case "name":
				o.name, nameSet = s, true
			}
		case "value":
			o.value = part
		case "index", "source", "destination":
			n, err := intPart(part)
			if err != nil {
				return o, o.fail(InvalidPatch, "part %q: %v", pname, err)
			}
			switch pname {
			case "index":
				o.idx, o.hasIndex = n, true
			case "source":
				o.source, o.hasSource = n, true
			case "destination":
				o.destination, o.hasDest = n, true
			}
		case "":
			return o, o.fail(InvalidPatch, "part has no name")
		default:
			return o, o.fail(InvalidPatch, "unknown part %q", pname)
		}
	}
	switch o.typ {
	case "add", "insert", "delete", "replace", "move":
	case "":
		return o, o.fail(InvalidPatch, "missing part \"type\"")
	default:
		return o, o.fail(InvalidPatch, "unknown operation type %q", o.typ)
	}
	if !pathSet || o.pathSrc == "" {
		return o, o.fail(InvalidPatch, "missing part \"path\"")
	}
	expr, err := fhirpath.Compile(o.pathSrc)
	if err != nil {
		var se *fhirpath.SyntaxError
		if errors.As(err, &se) {
			return o, o.fail(InvalidPatch, "invalid path: %s at offset %d", se.Msg, se.Pos)
		}
		return o, o.fail(InvalidPatch, "invalid path: %v", err)
	}
	o.path = expr
	need := func(ok bool, part string) error {
		if !ok {
			return o.fail(InvalidPatch, "missing part %q", part)
		}
		return nil
	}
	var errs []error
	switch o.typ {
	case "add":
		errs = append(errs, need(nameSet && o.name != "", "name"), need(o.value != nil, "value"))
	case "insert":
		errs = append(errs, need(o.value != nil, "value"), need(o.hasIndex, "index"))
	case "replace":
		errs = append(errs, need(o.value != nil, "value"))
	case "move":
		errs = append(errs, need(o.hasSource, "source"), need(o.hasDest, "destination"))
	}
	for _, e := range errs {
		if e != nil {
			return o, e
		}
	}
	if o.typ == "insert" || o.typ == "move" {
		if _, _, ok := o.path.SplitLast(); !ok {
			return o, o.fail(InvalidPatch, "the path of %s must end with the name of the list element", o.typ)
		}
	}
	if o.typ == "add" && !validName(strings.TrimSuffix(o.name, "[x]")) {
		return o, o.fail(InvalidPatch, "invalid element name %q", o.name)
	}
	if o.value != nil && (o.typ == "add" || o.typ == "insert" || o.typ == "replace") {
		// check the value's shape now, so that a malformed value is reported as such even when
		// the path would fail first; it is built again, with model knowledge, when applied
		if _, _, err := (&patcher{}).buildValue(&o, o.value, ""); err != nil {
			return o, err
		}
	}
	return o, nil
}

// validName reports whether s is a plausible JSON element name (letters, digits, '_').
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// valueKey returns the value[x] member of a part ("valueString"), if any.
func valueKey(part map[string]any) (string, int) {
	key, n := "", 0
	for k := range part {
		if len(k) > 5 && strings.HasPrefix(k, "value") && k[5] >= 'A' && k[5] <= 'Z' {
			if n == 0 || k < key {
				key = k
			}
			n++
		}
	}
	return key, n
}

func stringPart(part map[string]any) (string, error) {
	key, n := valueKey(part)
	if n != 1 {
		return "", fmt.Errorf("expected one value[x], found %d", n)
	}
	s, ok := part[key].(string)
	if !ok {
		return "", fmt.Errorf("%s is not a string", key)
	}
	return s, nil
}

func intPart(part map[string]any) (int, error) {
	key, n := valueKey(part)
	if n != 1 {
		return 0, fmt.Errorf("expected one value[x], found %d", n)
	}
	var text string
	switch v := part[key].(type) {
	case json.Number:
		text = string(v)
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1e9 {
			return 0, fmt.Errorf("%s is not an integer", key)
		}
		text = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return 0, fmt.Errorf("%s is not an integer", key)
	}
	i, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", key)
	}
	if i < 0 {
		return 0, fmt.Errorf("%s is negative", key)
	}
	return i, nil
}

// patcher applies operations to one resource.
type patcher struct {
	root map[string]any
	opts Options
}

func (p *patcher) apply(o *operation) error {
	switch o.typ {
	case "add":
		return p.add(o)
	case "insert":
		return p.insert(o)
	case "delete":
		return p.delete(o)
	case "replace":
		return p.replace(o)
	case "move":
		return p.move(o)
	}
	return o.fail(InvalidPatch, "unknown operation type %q", o.typ)
}

func (p *patcher) eval(o *operation, e *fhirpath.Expr) ([]fhirpath.Node, error) {
	nodes, err := e.Evaluate(p.root)
	if err != nil {
		var ee *fhirpath.EvalError
		if errors.As(err, &ee) {
			return nil, o.fail(Unprocessable, "cannot evaluate the path: %s", ee.Msg)
		}
		return nil, o.fail(Unprocessable, "cannot evaluate the path: %v", err)
	}
	return nodes, nil
}

// single evaluates e and requires exactly one element located in the resource.
func (p *patcher) single(o *operation, e *fhirpath.Expr, what string) (fhirpath.Node, error) {
	nodes, err := p.eval(o, e)
	if err != nil {
		return fhirpath.Node{}, err
	}
	switch len(nodes) {
	case 0:
		return fhirpath.Node{}, o.fail(Unprocessable, "%s matches no element", what)
	case 1:
		return nodes[0], nil
	}
	return fhirpath.Node{}, o.fail(Unprocessable, "%s matches %d elements, expected one", what, len(nodes))
}

func (p *patcher) add(o *operation) error {
	target, err := p.single(o, o.path, "path")
	if err != nil {
		return err
	}
	if !p.inTree(target) {
		return o.fail(Unprocessable, "path does not refer to an element inside the resource")
	}
	base := strings.TrimSuffix(o.name, "[x]")
	elemPath, _ := p.elementPath(target)
	info, known := p.element(joinPath(elemPath, base))
	choice := strings.HasSuffix(o.name, "[x]") || (known && info.Choice)
	repeating := known && info.Repeating || !known && defaultRepeating[base]

	obj, ok := target.Value.(map[string]any)
	if !ok {
		// a primitive: its children (id, extension) live in the "_name" sibling object
		if obj, err = primitiveElement(o, target); err != nil {
			return err
		}
	}
	v, typ, err := p.buildValue(o, o.value, joinPath(elemPath, base))
	if err != nil {
		return err
	}
	key := base
	if choice {
		if typ == "" {
			return o.fail(Unprocessable, "the type of choice element %q cannot be told from a part list", base)
		}
		suffix, ok := fhirpath.ChoiceSuffix(typ)
		if !ok {
			return o.fail(Unprocessable, "type %q is not allowed for choice element %q", typ, base)
		}
		for k := range obj {
			if n, _, ok := fhirpath.ChoiceType(k); ok && n == base {
				return o.fail(Unprocessable, "element %q already exists (as %q)", base, k)
			}
		}
		key = base + suffix
	}
	existing, exists := obj[key]
	switch {
	case exists && isArray(existing):
		obj[key] = append(existing.([]any), v)
		alignAppend(obj, key)
	case exists:
		return o.fail(Unprocessable, "element %q already exists", key)
	case repeating:
		obj[key] = []any{v}
	default:
		obj[key] = v
	}
	return nil
}

func (p *patcher) insert(o *operation) error {
	obj, name, list, err := p.list(o, true)
	if err != nil {
		return err
	}
	if o.idx > len(list) {
		return o.fail(Unprocessable, "index %d out of range (the list has %d elements)", o.idx, len(list))
	}
	elemPath, _ := p.elementPathOf(obj)
	v, _, err := p.buildValue(o, o.value, joinPath(elemPath, name))
	if err != nil {
		return err
	}
	obj[name] = slices.Insert(list, o.idx, v)
	alignInsert(obj, name, o.idx)
	return nil
}

func (p *patcher) move(o *operation) error {
	obj, name, list, err := p.list(o, false)
	if err != nil {
		return err
	}
	if o.source >= len(list) {
		return o.fail(Unprocessable, "source %d out of range (the list has %d elements)", o.source, len(list))
	}
	if o.destination >= len(list) {
		return o.fail(Unprocessable, "destination %d out of range (the list has %d elements)", o.destination, len(list))
	}
	obj[name] = moveItem(list, o.source, o.destination)
	if ext, ok := obj["_"+name].([]any); ok && len(ext) == len(list) {
		obj["_"+name] = moveItem(ext, o.source, o.destination)
	}
	return nil
}

func moveItem(list []any, from, to int) []any {
	v := list[from]
	list = slices.Delete(list, from, from+1)
	return slices.Insert(list, to, v)
}

// list resolves the path of insert and move: the parent must match exactly one object; its member
// named by the last path step is the list (absent is an empty list when allowAbsent).
func (p *patcher) list(o *operation, allowAbsent bool) (map[string]any, string, []any, error) {
	parentExpr, name, _ := o.path.SplitLast() // checked by parseOperation
	parent, err := p.single(o, parentExpr, "the parent of the path")
	if err != nil {
		return nil, "", nil, err
	}
	obj, ok := parent.Value.(map[string]any)
	if ok && !p.inTree(parent) {
		return nil, "", nil, o.fail(Unprocessable, "path does not refer to an element inside the resource")
	}
	if !ok {
		return nil, "", nil, o.fail(Unprocessable, "the parent of the path is not an object")
	}
	raw, exists := obj[name]
	switch {
	case !exists && allowAbsent:
		return obj, name, nil, nil
	case !exists:
		return nil, "", nil, o.fail(Unprocessable, "path matches no element")
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, "", nil, o.fail(Unprocessable, "%q is not a list", name)
	}
	return obj, name, list, nil
}

func (p *patcher) delete(o *operation) error {
	nodes, err := p.eval(o, o.path)
	if err != nil {
		return err
	}
	switch len(nodes) {
	case 0:
		return nil // deleting nothing is not an error
	case 1:
	default:
		return o.fail(Unprocessable, "path matches %d elements; only one element can be deleted", len(nodes))
	}
	n := nodes[0]
	if !n.Located() {
		return o.fail(Unprocessable, "path does not refer to an element inside the resource")
	}
	obj, key := n.Parent, n.Key
	if n.Index < 0 {
		delete(obj, key)
		delete(obj, "_"+key)
		return nil
	}
	// an item of a list; for primitives, the "_key" array holds the items' ids and extensions and
	// may be longer than the value array (trailing items with extensions only)
	list, hasList := obj[key].([]any)
	ext, hasExt := obj["_"+key].([]any)
	if n.Index >= len(list) && n.Index >= len(ext) {
		return o.fail(Unprocessable, "inconsistent arrays %q and %q", key, "_"+key)
	}
	if hasList && n.Index < len(list) {
		setOrDelete(obj, key, slices.Delete(list, n.Index, n.Index+1))
	}
	if hasExt && n.Index < len(ext) {
		setOrDelete(obj, "_"+key, slices.Delete(ext, n.Index, n.Index+1))
	}
	return nil
}

// setOrDelete stores a list, or removes the member when the list is empty or only holds nulls (FHIR
// JSON has no empty arrays).
func setOrDelete(obj map[string]any, key string, list []any) {
	for _, v := range list {
		if v != nil {
			obj[key] = list
			return
		}
	}
	delete(obj, key)
}

func (p *patcher) replace(o *operation) error {
	n, err := p.single(o, o.path, "path")
	if err != nil {
		return err
	}
	if !n.Located() {
		return o.fail(Unprocessable, "path does not refer to an element inside the resource")
	}
	elemPath, _ := p.elementPathOf(n.Parent)
	v, typ, err := p.buildValue(o, o.value, joinPath(elemPath, n.Name))
	if err != nil {
		return err
	}
	obj, key := n.Parent, n.Key
	if n.Name != n.Key && typ != "" && typ != n.Type && n.Index < 0 {
		// a choice element changing type: valueQuantity -> valueString
		suffix, ok := fhirpath.ChoiceSuffix(typ)
		if !ok {
			return o.fail(Unprocessable, "type %q is not allowed for choice element %q", typ, n.Name)
		}
		delete(obj, key)
		delete(obj, "_"+key)
		obj[n.Name+suffix] = v
		return nil
	}
	if n.Index < 0 {
		obj[key] = v
		return nil
	}
	list, _ := obj[key].([]any)
	if n.Index >= len(list) {
		// the item had only an id or extensions ("_key" longer than "key", or no "key" at all)
		ext, _ := obj["_"+key].([]any)
		if n.Index >= len(ext) {
			return o.fail(Unprocessable, "inconsistent arrays %q and %q", key, "_"+key)
		}
		list = append(list, make([]any, n.Index+1-len(list))...)
	}
	list[n.Index] = v
	obj[key] = list
	return nil
}

// inTree reports whether a node is part of the resource being patched (the root or an element in
// it), rather than a synthetic value such as the result of resolve() on an external reference.
func (p *patcher) inTree(n fhirpath.Node) bool {
	if n.Located() {
		return true
	}
	m, ok := n.Value.(map[string]any)
	return ok && reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(p.root).UnsafePointer()
}

// element asks Options.Element about an element path.
func (p *patcher) element(path string) (ElementInfo, bool) {
	if p.opts.Element == nil || path == "" {
		return ElementInfo{}, false
	}
	return p.opts.Element(path)
}

// buildValue turns the "value" part (or a nested part) into a JSON value: a value[x] member gives the
// value and its FHIR type; a resource member gives a resource; otherwise the nested parts form an
// object whose members are the part names. elemPath is the element path of the value (for
// Options.Element), or "".
func (p *patcher) buildValue(o *operation, part map[string]any, elemPath string) (any, string, error) {
	return p.buildValueDepth(o, part, elemPath, 0)
}

const maxPartDepth = 100

func (p *patcher) buildValueDepth(o *operation, part map[string]any, elemPath string, depth int) (any, string, error) {
	if depth > maxPartDepth {
		return nil, "", o.fail(InvalidPatch, "parts nested deeper than %d", maxPartDepth)
	}
	key, n := valueKey(part)
	_, hasResource := part["resource"]
	_, hasParts := part["part"]
	count := n
	if hasResource {
		count++
	}
	if hasParts {
		count++
	}
	if count != 1 {
		name, _ := part["name"].(string)
		return nil, "", o.fail(InvalidPatch, "part %q must have exactly one of value[x], resource or part", name)
	}
	switch {
	case n == 1:
		_, typ, ok := fhirpath.ChoiceType(key)
		if !ok {
			return nil, "", o.fail(InvalidPatch, "unknown value type %q", key)
		}
		return deepCopy(part[key]), typ, nil
	case hasResource:
		r, ok := part["resource"].(map[string]any)
		if !ok {
			return nil, "", o.fail(InvalidPatch, "resource is not an object")
		}
		rt, _ := r["resourceType"].(string)
		return deepCopy(r), rt, nil
	}
	parts, ok := part["part"].([]any)
	if !ok || len(parts) == 0 {
		return nil, "", o.fail(InvalidPatch, "part list is empty or not an array")
	}
	obj := map[string]any{}
	for _, raw := range parts {
		sub, ok := raw.(map[string]any)
		if !ok {
			return nil, "", o.fail(InvalidPatch, "part is not an object")
		}
		name, _ := sub["name"].(string)
		base := strings.TrimSuffix(name, "[x]")
		if !validName(base) {
			return nil, "", o.fail(InvalidPatch, "invalid part name %q", name)
		}
		childPath := joinPath(elemPath, base)
		v, typ, err := p.buildValueDepth(o, sub, childPath, depth+1)
		if err != nil {
			return nil, "", err
		}
		info, known := p.element(childPath)
		k := base
		if strings.HasSuffix(name, "[x]") || (known && info.Choice) {
			suffix, ok := fhirpath.ChoiceSuffix(typ)
			if !ok {
				return nil, "", o.fail(InvalidPatch, "the type of choice element %q must be given with value[x]", base)
			}
			k = base + suffix
		}
		repeating := known && info.Repeating || !known && defaultRepeating[base]
		switch existing, ok := obj[k]; {
		case ok && isArray(existing):
			obj[k] = append(existing.([]any), v)
		case ok:
			obj[k] = []any{existing, v}
		case repeating:
			obj[k] = []any{v}
		default:
			obj[k] = v
		}
	}
	return obj, "", nil
}

// elementPath returns the FHIR element path of a node ("Patient.contact" for a contact), found by
// walking from the root to the node's parent object.
func (p *patcher) elementPath(n fhirpath.Node) (string, bool) {
	if m, ok := n.Value.(map[string]any); ok {
		if rt, ok := m["resourceType"].(string); ok {
			return rt, true
		}
	}
	if n.Parent == nil {
		return "", false
	}
	parentPath, ok := p.elementPathOf(n.Parent)
	if !ok {
		return "", false
	}
	return joinPath(parentPath, n.Name), true
}

// elementPathOf returns the element path of an object in the resource tree.
func (p *patcher) elementPathOf(target map[string]any) (string, bool) {
	want := reflect.ValueOf(target).UnsafePointer()
	var walk func(v any, path string, depth int) (string, bool)
	walk = func(v any, path string, depth int) (string, bool) {
		if depth > 10000 {
			return "", false
		}
		switch x := v.(type) {
		case map[string]any:
			if rt, ok := x["resourceType"].(string); ok {
				path = rt
			}
			if reflect.ValueOf(x).UnsafePointer() == want {
				return path, true
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if r, ok := walk(x[k], joinPath(path, p.elementName(path, k)), depth+1); ok {
					return r, true
				}
			}
		case []any:
			for _, item := range x {
				if r, ok := walk(item, path, depth+1); ok {
					return r, true
				}
			}
		}
		return "", false
	}
	return walk(p.root, "", 0)
}

// elementName maps a JSON key to its element name: "_birthDate" -> "birthDate", "valueQuantity" ->
// "value" for choice elements.
func (p *patcher) elementName(parentPath, key string) string {
	key = strings.TrimPrefix(key, "_")
	if p.opts.Element != nil {
		if _, ok := p.opts.Element(joinPath(parentPath, key)); ok {
			return key
		}
	}
	if name, _, ok := fhirpath.ChoiceType(key); ok {
		if p.opts.Element == nil {
			return name
		}
		if info, ok := p.opts.Element(joinPath(parentPath, name)); ok && info.Choice {
			return name
		}
	}
	return key
}

func joinPath(parent, name string) string {
	if parent == "" {
		return ""
	}
	return parent + "." + name
}

// primitiveElement returns the "_key" object that holds the id and extensions of a primitive node,
// creating it (and aligning "_key" arrays) when needed.
func primitiveElement(o *operation, n fhirpath.Node) (map[string]any, error) {
	if m := n.PrimitiveElement(); m != nil {
		return m, nil
	}
	if !n.Located() {
		return nil, o.fail(Unprocessable, "path does not refer to an element inside the resource")
	}
	ext := map[string]any{}
	ek := "_" + n.Key
	if n.Index < 0 {
		n.Parent[ek] = ext
		return ext, nil
	}
	values, _ := n.Parent[n.Key].([]any)
	arr, _ := n.Parent[ek].([]any)
	for len(arr) < len(values) || len(arr) <= n.Index {
		arr = append(arr, nil)
	}
	arr[n.Index] = ext
	n.Parent[ek] = arr
	return ext, nil
}

// alignAppend keeps a "_key" array as long as the "key" array after an append.
func alignAppend(obj map[string]any, key string) {
	if ext, ok := obj["_"+key].([]any); ok {
		obj["_"+key] = append(ext, nil)
	}
}

// alignInsert keeps a "_key" array aligned after an insertion at i.
func alignInsert(obj map[string]any, key string, i int) {
	if ext, ok := obj["_"+key].([]any); ok && i <= len(ext) {
		obj["_"+key] = slices.Insert(ext, i, nil)
	}
}

func isArray(v any) bool {
	_, ok := v.([]any)
	return ok
}

// deepCopy copies maps and slices; other JSON values are immutable.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = deepCopy(val)
		}
		return s
	}
	return v
}
