package invariant

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
)

// compiled is an invariant ready to evaluate.
type compiled struct {
	def  *Definition
	expr *fhirpath.Expr
	// guard, if not nil, tells from the node that the invariant holds.
	guard guard
	// native, if not nil, computes the invariant instead of the expression.
	native func(node map[string]any) bool
	// container marks an expression that reads %rootResource (and not %resource): it is evaluated with
	// the containing resource as its root, since the engine has one root for both.
	container bool
}

// Unevaluated is an invariant that Check does not evaluate, and why.
type Unevaluated struct {
	Definition
	// Reason says why, e.g. "htmlChecks(): the narrative is checked by package narrative", or the
	// compilation error.
	Reason string
}

// skipped are the invariants left to other checks, by ID.
var skipped = map[string]string{
	"Element/ele-1":   "the structural validator reports elements with neither a value nor children",
	"Narrative/txt-1": "htmlChecks(): the narrative's XHTML is checked by the narrative package",
}

// needs are the functions that depend on what Check does not have, with why. resolve() is not one: the
// engine resolves a reference to a contained resource and finds nothing for another (ctm-1 then holds).
var needs = map[string]string{
	"memberOf(":   "memberOf() needs a terminology service",
	"conformsTo(": "conformsTo() needs the profiles",
	"htmlChecks(": "htmlChecks() is the narrative package's",
}

type table struct {
	byContext   map[string][]compiled // element path (without [x]) -> its invariants
	byType      map[string][]compiled // type -> the invariants of the type and of the types it specializes
	unevaluated []Unevaluated
}

var (
	tableOnce sync.Once
	tab       *table
)

func load() *table {
	tableOnce.Do(func() { tab = build() })
	return tab
}

func build() *table {
	t := &table{byContext: map[string][]compiled{}, byType: map[string][]compiled{}}
	for i := range definitions {
		d := &definitions[i]
		reason := unevaluatedReason(d)
		var expr *fhirpath.Expr
		src := d.Expression
		if a, ok := adaptations[d.ID()]; ok && a.from == src {
			src = a.to
		}
		if reason == "" {
			e, err := fhirpath.CompileWith(src, fhirpath.Options{LenientAs: true})
			if err != nil {
				reason = "does not compile: " + err.Error()
			}
			expr = e
		}
		if reason != "" {
			t.unevaluated = append(t.unevaluated, Unevaluated{Definition: *d, Reason: reason})
			continue
		}
		ctx := strings.ReplaceAll(d.Context, "[x]", "")
		container := strings.Contains(src, "%rootResource") && !strings.Contains(strings.ReplaceAll(src, "%rootResource", ""), "%resource")
		t.byContext[ctx] = append(t.byContext[ctx], compiled{def: d, expr: expr, container: container, guard: guards[d.ID()], native: natives[d.ID()]})
	}
	// A type's invariants are those written for the type itself and for every type it specializes.
	for typ := range baseTypes {
		var all []compiled
		for b := typ; b != ""; b = baseTypes[b] {
			all = append(all, t.byContext[b]...)
		}
		if len(all) > 0 {
			t.byType[typ] = all
		}
	}
	return t
}

func unevaluatedReason(d *Definition) string {
	if r, ok := skipped[d.ID()]; ok {
		return r
	}
	for f, r := range needs {
		if strings.Contains(d.Expression, f) {
			return r
		}
	}
	return ""
}

// Unevaluateds returns the invariants Check does not evaluate, with the reason, sorted by type and key.
func Unevaluateds() []Unevaluated {
	u := load().unevaluated
	out := make([]Unevaluated, len(u))
	copy(out, u)
	return out
}

// Check evaluates the invariants of R4 on a resource decoded from JSON the way package fhirpath expects
// (json.Decoder.UseNumber: map[string]any, []any, json.Number, string, bool, nil) and returns an issue
// for each invariant that does not hold on a node: severity error or warning as the invariant's, code
// "invariant", the node's path as Expression (e.g. "Observation.referenceRange[0]"). A value that is
// not a resource yields no issue. Check never modifies the resource.
func Check(resource map[string]any) []fhir.Issue {
	return check(resource, nil)
}

// observer is told of each evaluation (tests measure coverage with it).
type observer func(c *compiled, node fhirpath.Node, holds bool, err error)

func check(resource map[string]any, observe observer) []fhir.Issue {
	t := load()
	w := walker{t: t, observe: observe}
	rt, _ := resource["resourceType"].(string)
	if !fhir.IsResourceType(rt) {
		return nil
	}
	w.resource(resource, nil, "", -1, &step{name: rt, index: -1}, false)
	if len(w.issues) > 1 {
		sort.SliceStable(w.issues, func(i, j int) bool { return w.issues[i].Expression < w.issues[j].Expression })
	}
	return w.issues
}

// maxDepth bounds the walk, so that a resource nested beyond reason cannot exhaust the stack.
const maxDepth = 64

// step is one step of the path from the root to a node, rendered only for an issue.
type step struct {
	up     *step
	name   string // element name (the FHIRPath name, without a choice suffix)
	ofType string // the type of a choice element, or ""
	index  int    // position in an array, or -1
}

func (s *step) String() string {
	var parts []*step
	for p := s; p != nil; p = p.up {
		parts = append(parts, p)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if i != len(parts)-1 {
			b.WriteByte('.')
		}
		b.WriteString(p.name)
		if p.ofType != "" {
			b.WriteString(".ofType(")
			b.WriteString(p.ofType)
			b.WriteByte(')')
		}
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

type walker struct {
	t       *table
	root    map[string]any // %resource
	top     map[string]any // %rootResource: the resource that contains root, or root itself
	observe observer
	depth   int
	issues  []fhir.Issue
}

// resource walks a resource (the root, a contained resource, a Bundle entry's), which is %resource for
// its own nodes.
func (w *walker) resource(obj map[string]any, parent map[string]any, key string, index int, at *step, contained bool) {
	rt, _ := obj["resourceType"].(string)
	if !fhir.IsResourceType(rt) {
		return
	}
	saved, savedTop := w.root, w.top
	w.root = obj
	if !contained {
		w.top = obj
	}
	defer func() { w.root, w.top = saved, savedTop }()
	w.apply(w.t.byType[rt], fhirpath.Node{Value: obj, Type: rt, Parent: parent, Key: key, Name: at.name, Index: index}, at)
	w.object(obj, rt, at)
}

// object walks the members of an object whose definitions are under defPath (a type, or the path of a
// backbone element).
func (w *walker) object(obj map[string]any, defPath string, at *step) {
	if w.depth >= maxDepth {
		return
	}
	w.depth++
	defer func() { w.depth-- }()
	for k, v := range obj {
		if k == "resourceType" {
			continue
		}
		if strings.HasPrefix(k, "_") {
			// A primitive's id and extensions: an Element.
			w.each(v, func(item any, index int) {
				if m, ok := item.(map[string]any); ok {
					w.object(m, "Element", &step{up: at, name: k[1:], index: index})
				}
			})
			continue
		}
		c, ok := lookupChild(defPath, k)
		if !ok {
			continue // not an element of R4: the structural validator's
		}
		w.each(v, func(item any, index int) {
			w.member(obj, k, c, item, index, at)
		})
	}
}

// each calls f for each item of an array (with its index), or for a single value (index -1).
func (w *walker) each(v any, f func(item any, index int)) {
	if arr, ok := v.([]any); ok {
		for i, item := range arr {
			f(item, i)
		}
		return
	}
	f(v, -1)
}

// member walks one value of an element.
func (w *walker) member(parent map[string]any, key string, c *child, v any, index int, up *step) {
	at := &step{up: up, name: c.name, ofType: c.ofType, index: index}
	if c.resource {
		if m, ok := v.(map[string]any); ok {
			w.resource(m, parent, key, index, at, key == "contained")
		}
		return
	}
	node := fhirpath.Node{Value: v, Type: c.typ, Parent: parent, Key: key, Name: c.name, Index: index}
	w.apply(w.t.byContext[c.path], node, at)
	w.apply(w.t.byType[c.typ], node, at)
	if m, ok := v.(map[string]any); ok && c.defPath != "" {
		w.object(m, c.defPath, at)
	}
}

// apply evaluates invariants on a node.
func (w *walker) apply(invs []compiled, node fhirpath.Node, at *step) {
	for i := range invs {
		w.evaluate(&invs[i], node, at)
	}
}

func (w *walker) evaluate(c *compiled, node fhirpath.Node, at *step) {
	if c.guard != nil && w.observe == nil {
		if m, ok := node.Value.(map[string]any); ok && c.guard(m) {
			return
		}
	}
	root := w.root
	if c.container {
		root = w.top
	}
	var holds bool
	var err error
	if m, ok := node.Value.(map[string]any); ok && c.native != nil {
		holds = c.native(m)
	} else {
		holds, err = eval(c.expr, root, node)
	}
	if w.observe != nil {
		w.observe(c, node, holds, err)
	}
	switch {
	case err != nil:
		path := at.String()
		w.issues = append(w.issues, fhir.Issue{Severity: "warning", Code: "invariant", Expression: path,
			Details:     fmt.Sprintf("%s: %s could not be evaluated (%s)", path, c.def.Key, c.def.Human),
			Diagnostics: err.Error()})
	case !holds:
		path := at.String()
		sev := "error"
		if c.def.Severity == "warning" {
			sev = "warning"
		}
		w.issues = append(w.issues, fhir.Issue{Severity: sev, Code: "invariant", Expression: path,
			Details:     fmt.Sprintf("%s: %s (%s)", path, c.def.Key, c.def.Human),
			Diagnostics: c.def.Expression})
	}
}

var errNotBoolean = errors.New("the result is not a single boolean")

// eval evaluates an invariant's expression on a node. It holds when the result is true or empty.
func eval(expr *fhirpath.Expr, root map[string]any, node fhirpath.Node) (holds bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			holds, err = true, fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	res, err := expr.EvaluateNode(root, node)
	if err != nil {
		return true, err
	}
	switch {
	case len(res) == 0:
		return true, nil
	case len(res) == 1:
		if b, ok := res[0].Value.(bool); ok {
			return b, nil
		}
	}
	return true, errNotBoolean
}
