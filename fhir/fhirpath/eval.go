package fhirpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotSupported is wrapped by evaluation errors for functions that compile but that this evaluator
// cannot compute (memberOf, which needs a terminology service).
var ErrNotSupported = errors.New("not supported")

// MaxNodes bounds the number of nodes a single evaluation may produce, so that expressions such as
// descendants().descendants() cannot exhaust memory or time.
const MaxNodes = 1 << 19

// EvalError reports why an expression could not be evaluated.
type EvalError struct {
	Pos int    // byte offset of the failing sub-expression
	Msg string // lower-case reason
	Err error  // underlying error such as ErrNotSupported, or nil
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("fhirpath: evaluation error at offset %d: %s", e.Pos, e.Msg)
}

func (e *EvalError) Unwrap() error { return e.Err }

func evalErr(a *ast, format string, args ...any) error {
	return &EvalError{Pos: a.pos, Msg: fmt.Sprintf(format, args...)}
}

var errTooManyNodes = errors.New("evaluation produced too many nodes")

type evalCtx struct {
	root     Node // %resource
	context  Node // %context
	produced int
	prepared *Prepared // the prepared resource (plans only), or nil
	opts     *Options  // never nil when evaluating an Expr
	now      time.Time // the time now(), today() and timeOfDay() give, read once per evaluation
}

// clock returns the evaluation's time, the same for every call of now(), today() and timeOfDay().
func (c *evalCtx) clock() time.Time {
	if c.now.IsZero() {
		c.now = time.Now()
	}
	return c.now
}

type scope struct {
	this     []Node
	index    int
	total    []Node // $total in aggregate()
	hasTotal bool
	root     bool // the expression's own scope ($this is the context), not a function argument's
}

// Evaluate evaluates the expression with the resource as both %resource and %context (and the
// initial $this). resource is a value decoded from JSON (normally a map[string]any); nil yields an
// empty result.
func (e *Expr) Evaluate(resource any) ([]Node, error) {
	root := rootNode(resource)
	return e.eval(root, root)
}

// EvaluateNode evaluates the expression with context (a node returned by an earlier evaluation, e.g.
// of a composite search parameter) as %context and $this, and resource as %resource (used by
// %resource and to resolve contained references).
func (e *Expr) EvaluateNode(resource any, context Node) ([]Node, error) {
	return e.eval(rootNode(resource), context)
}

// eval evaluates the expression by its plan when it has one, or else by the general evaluator.
func (e *Expr) eval(root, context Node) ([]Node, error) {
	if e.plan != nil {
		c := evalCtx{root: root, context: context, opts: e.opts}
		return e.plan.run(&c)
	}
	return e.run(root, context)
}

func rootNode(v any) Node { return Node{Value: v, Type: shapeType(v), Index: -1} }

// run evaluates the expression with the general evaluator.
func (e *Expr) run(root, context Node) ([]Node, error) {
	c := &evalCtx{root: root, context: context, opts: e.opts}
	var this []Node
	if context.Value != nil || context.ext != nil {
		this = []Node{context}
	}
	out, err := c.eval(e.root, &scope{this: this, root: true})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *evalCtx) count(n int, a *ast) error {
	c.produced += n
	if c.produced > MaxNodes {
		return &EvalError{Pos: a.pos, Msg: fmt.Sprintf("more than %d nodes produced", MaxNodes), Err: errTooManyNodes}
	}
	return nil
}

func (c *evalCtx) eval(a *ast, sc *scope) ([]Node, error) {
	switch a.kind {
	case aLiteral:
		return []Node{a.lit}, nil
	case aEmpty:
		return nil, nil
	case aThis:
		return sc.this, nil
	case aIndexVar:
		return []Node{intNode(sc.index)}, nil
	case aTotalVar:
		if !sc.hasTotal {
			return nil, evalErr(a, "$total outside aggregate()")
		}
		return sc.total, nil
	case aVar:
		switch a.name {
		case "resource", "rootResource":
			if c.root.Value == nil {
				return nil, nil
			}
			return []Node{c.root}, nil
		case "context":
			if c.context.Value == nil && c.context.ext == nil {
				return nil, nil
			}
			return []Node{c.context}, nil
		case "ucum":
			return []Node{stringNode("http://unitsofmeasure.org")}, nil
		case "sct":
			return []Node{stringNode("http://snomed.info/sct")}, nil
		case "loinc":
			return []Node{stringNode("http://loinc.org")}, nil
		}
		if vs, ok := strings.CutPrefix(a.name, "vs-"); ok {
			return []Node{stringNode("http://hl7.org/fhir/ValueSet/" + vs)}, nil
		}
		if ext, ok := strings.CutPrefix(a.name, "ext-"); ok {
			return []Node{stringNode("http://hl7.org/fhir/StructureDefinition/" + ext)}, nil
		}
		return nil, evalErr(a, "unknown variable %%%s", a.name)
	case aMember:
		if a.left == nil {
			return c.member(sc.this, a, true, sc.root)
		}
		in, err := c.eval(a.left, sc)
		if err != nil {
			return nil, err
		}
		if err := c.checkAfterAs(a); err != nil {
			return nil, err
		}
		typed := a.left.kind == aMember || a.left.kind == aIndex
		return c.member(in, a, false, typed)
	case aFunc:
		in := sc.this
		if a.left != nil {
			var err error
			if in, err = c.eval(a.left, sc); err != nil {
				return nil, err
			}
		}
		return a.fn.impl(c, sc, in, a)
	case aIndex:
		in, err := c.eval(a.left, sc)
		if err != nil {
			return nil, err
		}
		idx, err := c.eval(a.right, sc)
		if err != nil {
			return nil, err
		}
		i, ok, err := singleInt(idx, a)
		if err != nil || !ok {
			return nil, err
		}
		if i < 0 || i >= len(in) {
			return nil, nil
		}
		return []Node{in[i]}, nil
	case aIs:
		in, err := c.eval(a.left, sc)
		if err != nil {
			return nil, err
		}
		switch len(in) {
		case 0:
			return nil, nil
		case 1:
			return []Node{boolNode(c.isType(in[0].Type, a.typ))}, c.checkType(a)
		}
		return nil, evalErr(a, "'is' needs a single item, got %d", len(in))
	case aAs:
		in, err := c.eval(a.left, sc)
		if err != nil {
			return nil, err
		}
		return c.as(in, a)
	case aUnary:
		in, err := c.eval(a.right, sc)
		if err != nil {
			return nil, err
		}
		return negate(in, a)
	case aBinary:
		return c.binary(a, sc)
	}
	return nil, evalErr(a, "unknown expression kind")
}

// member navigates to the child elements called a.name of every input node. At the start of a path
// (first), an upper-case name is a type name: it selects the input nodes of that type (Patient,
// Resource, DomainResource), so that "Patient.name" yields nothing on an Observation.
//
// With a model, navigating from a path whose items' types are known (typed: a path from the context,
// not from children(), descendants() or a function argument's $this, whose static type is Any) to an
// element none of their types defines is an error.
func (c *evalCtx) member(in []Node, a *ast, first, typed bool) ([]Node, error) {
	var out []Node
	name := a.name
	if first && isUpperStart(name) {
		for _, n := range in {
			if c.typeNameMatches(name, n.Type) {
				out = append(out, n)
			}
		}
		if len(out) == 0 && len(in) > 0 && c.strict() && c.model().IsType(name) {
			return nil, evalErr(a, "the context is not a %s", name)
		}
		return out, c.count(len(out), a)
	}
	unknown := 0 // items whose type, by the model, has no such element
	for _, n := range in {
		var handled bool
		if out, handled = c.modelChild(out, n, name); handled {
			continue
		}
		if !c.knowsChild(n, name) {
			unknown++
			continue
		}
		out = child(out, n, name)
	}
	if typed && unknown > 0 && unknown == len(in) {
		return nil, evalErr(a, "%s has no element %s", defPath(in[0]), name)
	}
	return out, c.count(len(out), a)
}

// checkAfterAs, in strict mode, fails a path step after a type cast to a type that has no such
// element ((Observation.value as Period).unit), even when the cast yields nothing.
func (c *evalCtx) checkAfterAs(a *ast) error {
	l := a.left
	if !c.strict() || l == nil || !(l.kind == aAs || l.kind == aFunc && (l.name == "as" || l.name == "ofType")) {
		return nil
	}
	m := c.model()
	if l.typ.ns == "System" || !m.IsType(l.typ.name) {
		return nil
	}
	if _, ok := childDef(m, l.typ.name, a.name); !ok {
		return evalErr(a, "%s has no element %s", l.typ.name, a.name)
	}
	return nil
}

func (c *evalCtx) strict() bool { return c.opts != nil && c.opts.Strict && c.opts.Model != nil }

// as implements the "as" operator and function: the input if it is of the type, or empty; more than
// one item is an error unless LenientAs, which keeps the items of the type.
func (c *evalCtx) as(in []Node, a *ast) ([]Node, error) {
	if len(in) > 1 && !c.lenient() {
		return nil, evalErr(a, "'as' needs a single item, got %d", len(in))
	}
	if err := c.checkType(a); err != nil {
		return nil, err
	}
	return c.filterType(in, a.typ), nil
}

// systemTypeNames are the FHIRPath System types.
var systemTypeNames = makeSet("Any", "Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity")

// checkType fails when there is a model and the type of a type test is neither one of its types nor a
// System type (Patient.gender.as(string1)).
func (c *evalCtx) checkType(a *ast) error {
	m := c.model()
	if m == nil {
		return nil
	}
	_, sys := systemTypeNames[a.typ.name]
	switch a.typ.ns {
	case "System":
		if sys {
			return nil
		}
	case "FHIR":
		if m.IsType(a.typ.name) {
			return nil
		}
	default:
		if sys || m.IsType(a.typ.name) {
			return nil
		}
	}
	return evalErr(a, "unknown type %s", a.typ)
}

// objectOf returns the JSON object whose members are the children of n: the value itself for complex
// values, or the "_name" sibling (id and extensions) for primitives.
func objectOf(n Node) map[string]any {
	if m, ok := n.Value.(map[string]any); ok {
		return m
	}
	return n.ext
}

// child appends the children of n called name, handling choice elements (name + type suffix) and the
// "_name" sibling objects of primitives.
func child(out []Node, n Node, name string) []Node {
	return childIndexed(out, n, name, nil)
}

// childIndexed is child with, when idx is not nil, the choice index of n's object, which spares
// looking through all its members for a choice element.
func childIndexed(out []Node, n Node, name string, idx choiceIndex) []Node {
	obj := objectOf(n)
	if obj == nil {
		return out
	}
	if v, ok := obj[name]; ok {
		return emit(out, obj, name, name, "", v, obj["_"+name])
	}
	if ev, ok := obj["_"+name]; ok {
		return emit(out, obj, name, name, "", nil, ev)
	}
	var keys []string
	if idx != nil {
		keys = idx[name] // sorted
	} else {
		for k := range obj {
			if isChoiceKey(k, name) {
				keys = append(keys, k)
			}
		}
		if len(keys) > 1 {
			sort.Strings(keys)
		}
	}
	for _, k := range keys {
		typ := choiceSuffixes[k[len(name):]]
		if v := obj[k]; shapeFits(v, typ) {
			out = emit(out, obj, k, name, typ, v, obj["_"+k])
		}
	}
	return out
}

// isChoiceKey reports whether the JSON key k is the choice element name with a type suffix.
func isChoiceKey(k, name string) bool {
	if len(k) <= len(name) || k[len(name)] < 'A' || k[len(name)] > 'Z' || !strings.HasPrefix(k, name) {
		return false
	}
	_, ok := choiceSuffixes[k[len(name):]]
	return ok
}

// choiceIndex lists, for each element name, the keys of one JSON object that are that choice element
// with a type suffix, sorted: "value" -> ["valueQuantity"]. A key may be listed under several names
// ("effectiveDateTime" under "effective" and "effectiveDate").
type choiceIndex map[string][]string

// indexChoices returns the choice index of an object (empty, not nil, when it has no choice keys).
func indexChoices(obj map[string]any) choiceIndex {
	idx := choiceIndex{}
	for k := range obj {
		for i := 0; i < len(k); i++ {
			if isChoiceKey(k, k[:i]) {
				idx[k[:i]] = append(idx[k[:i]], k)
			}
		}
	}
	for _, keys := range idx {
		sort.Strings(keys)
	}
	return idx
}

// emit appends the node(s) for the value v found at parent[key]; arrays are flattened. typ is the FHIR
// type when known from a choice suffix ("" to infer it from the JSON shape); ext is the "_key" sibling.
func emit(out []Node, parent map[string]any, key, name, typ string, v, ext any) []Node {
	switch x := v.(type) {
	case []any:
		extArr, _ := ext.([]any)
		n := max(len(x), len(extArr)) // a longer "_key" array carries primitives with extensions only
		for i := 0; i < n; i++ {
			var el any
			if i < len(x) {
				el = x[i]
			}
			var elExt map[string]any
			if i < len(extArr) {
				elExt, _ = extArr[i].(map[string]any)
			}
			if el == nil && elExt == nil {
				continue
			}
			if inner, ok := el.([]any); ok {
				out = flattenLoose(out, inner, typ)
				continue
			}
			t := typ
			if t == "" {
				t = shapeType(el)
			}
			out = append(out, Node{Value: el, Type: t, Parent: parent, Key: key, Name: name, Index: i, ext: elExt})
		}
	case nil:
		switch e := ext.(type) {
		case map[string]any:
			out = append(out, Node{Type: typ, Parent: parent, Key: key, Name: name, Index: -1, ext: e})
		case []any:
			for i, el := range e {
				if m, ok := el.(map[string]any); ok {
					out = append(out, Node{Type: typ, Parent: parent, Key: key, Name: name, Index: i, ext: m})
				}
			}
		}
	default:
		elExt, _ := ext.(map[string]any)
		t := typ
		if t == "" {
			t = shapeType(v)
		}
		out = append(out, Node{Value: v, Type: t, Parent: parent, Key: key, Name: name, Index: -1, ext: elExt})
	}
	return out
}

// flattenLoose flattens arrays nested in arrays (not valid FHIR JSON); such items have no location.
func flattenLoose(out []Node, arr []any, typ string) []Node {
	for _, el := range arr {
		switch x := el.(type) {
		case nil:
		case []any:
			out = flattenLoose(out, x, typ)
		default:
			t := typ
			if t == "" {
				t = shapeType(x)
			}
			out = append(out, Node{Value: x, Type: t, Index: -1})
		}
	}
	return out
}

// children appends all child nodes of n (FHIRPath children()), in key order.
func children(out []Node, n Node) []Node {
	obj := objectOf(n)
	if len(obj) == 0 {
		return out
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if k == "resourceType" {
			continue
		}
		if strings.HasPrefix(k, "_") {
			if _, hasValue := obj[k[1:]]; hasValue || k == "_" {
				continue
			}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "_") {
			out = emitKey(out, obj, k[1:], nil, obj[k])
			continue
		}
		out = emitKey(out, obj, k, obj[k], obj["_"+k])
	}
	return out
}

func emitKey(out []Node, obj map[string]any, key string, v, ext any) []Node {
	if name, typ, ok := ChoiceType(key); ok && (v == nil || shapeFits(v, typ)) {
		return emit(out, obj, key, name, typ, v, ext)
	}
	return emit(out, obj, key, key, "", v, ext)
}

// toBool converts a collection to a boolean by the FHIRPath singleton rules: empty is unknown
// (known=false), a single boolean is its value, any other single item is true.
func toBool(in []Node, a *ast) (val, known bool, err error) {
	switch len(in) {
	case 0:
		return false, false, nil
	case 1:
		if b, ok := in[0].Value.(bool); ok {
			return b, true, nil
		}
		return true, true, nil
	}
	return false, false, evalErr(a, "expected a single boolean, got %d items", len(in))
}

func singleInt(in []Node, a *ast) (int, bool, error) {
	switch len(in) {
	case 0:
		return 0, false, nil
	case 1:
		if s, ok := numberText(in[0].Value); ok && isIntegerText(s) {
			i, err := strconv.Atoi(s)
			if err == nil {
				return i, true, nil
			}
		}
		return 0, false, evalErr(a, "expected an integer, got %s", describe(in[0]))
	}
	return 0, false, evalErr(a, "expected a single integer, got %d items", len(in))
}

func singleString(in []Node, a *ast, what string) (string, bool, error) {
	switch len(in) {
	case 0:
		return "", false, nil
	case 1:
		if s, ok := in[0].stringValue(); ok {
			return s, true, nil
		}
		return "", false, evalErr(a, "%s must be a string, got %s", what, describe(in[0]))
	}
	return "", false, evalErr(a, "%s must be a single string, got %d items", what, len(in))
}

func describe(n Node) string {
	if n.Type != "" {
		return n.Type
	}
	switch n.Value.(type) {
	case map[string]any:
		return "an object"
	case nil:
		return "a primitive without value"
	}
	return fmt.Sprintf("%T", n.Value)
}

// dedupKey returns a string that is equal for equal values (used by union and distinct).
func dedupKey(n Node) string {
	switch v := n.Value.(type) {
	case string:
		return "s" + v
	case bool:
		if v {
			return "b1"
		}
		return "b0"
	case nil:
		b, _ := json.Marshal(n.ext)
		return "z" + string(b)
	}
	if d, ok := asDecimal(n.Value); ok {
		neg := "+"
		if d.neg {
			neg = "-"
		}
		return "n" + neg + d.digits + "e" + strconv.FormatInt(d.exp, 10)
	}
	if b, ok := appendJSON([]byte{'o'}, n.Value); ok {
		return string(b)
	}
	b, err := json.Marshal(n.Value)
	if err != nil {
		return fmt.Sprintf("p%p", &n)
	}
	return "o" + string(b)
}

func union(a *ast, c *evalCtx, colls ...[]Node) ([]Node, error) {
	total := 0
	for _, cl := range colls {
		total += len(cl)
	}
	out := make([]Node, 0, total)
	if total <= 1 {
		for _, cl := range colls {
			out = append(out, cl...)
		}
		return out, nil
	}
	seen := make(map[string]struct{}, total)
	for _, cl := range colls {
		for _, n := range cl {
			k := dedupKey(n)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, n)
		}
	}
	return out, c.count(len(out), a)
}

func (c *evalCtx) binary(a *ast, sc *scope) ([]Node, error) {
	switch a.name {
	case "and", "or", "xor", "implies":
		return c.logic(a, sc)
	}
	l, err := c.eval(a.left, sc)
	if err != nil {
		return nil, err
	}
	r, err := c.eval(a.right, sc)
	if err != nil {
		return nil, err
	}
	switch a.name {
	case "|":
		return union(a, c, l, r)
	case "=", "!=":
		if len(l) == 0 || len(r) == 0 {
			return nil, nil
		}
		eq, known := equalColls(l, r)
		if !known {
			return nil, nil
		}
		return []Node{boolNode(eq == (a.name == "="))}, nil
	case "~", "!~":
		eq := equivalentColls(l, r)
		return []Node{boolNode(eq == (a.name == "~"))}, nil
	case "<", ">", "<=", ">=":
		return compareOp(a, l, r)
	case "in", "contains":
		item, coll := l, r
		if a.name == "contains" {
			item, coll = r, l
		}
		switch len(item) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, evalErr(a, "'%s' needs a single item, got %d", a.name, len(item))
		}
		for _, n := range coll {
			if eq, known := equalItems(item[0], n); eq && known {
				return []Node{boolNode(true)}, nil
			}
		}
		return []Node{boolNode(false)}, nil
	case "+", "-", "*", "/", "div", "mod", "&":
		return arith(a, l, r)
	}
	return nil, evalErr(a, "unknown operator %q", a.name)
}

func (c *evalCtx) logic(a *ast, sc *scope) ([]Node, error) {
	l, err := c.eval(a.left, sc)
	if err != nil {
		return nil, err
	}
	lv, lk, err := toBool(l, a.left)
	if err != nil {
		return nil, err
	}
	// short cuts that do not need the right operand
	switch {
	case a.name == "and" && lk && !lv:
		return []Node{boolNode(false)}, nil
	case a.name == "or" && lk && lv:
		return []Node{boolNode(true)}, nil
	case a.name == "implies" && lk && !lv:
		return []Node{boolNode(true)}, nil
	}
	r, err := c.eval(a.right, sc)
	if err != nil {
		return nil, err
	}
	rv, rk, err := toBool(r, a.right)
	if err != nil {
		return nil, err
	}
	switch a.name {
	case "and":
		if rk && !rv {
			return []Node{boolNode(false)}, nil
		}
		if lk && rk {
			return []Node{boolNode(true)}, nil
		}
	case "or":
		if rk && rv {
			return []Node{boolNode(true)}, nil
		}
		if lk && rk {
			return []Node{boolNode(false)}, nil
		}
	case "xor":
		if lk && rk {
			return []Node{boolNode(lv != rv)}, nil
		}
	case "implies":
		if rk && rv {
			return []Node{boolNode(true)}, nil
		}
		if lk && rk {
			return []Node{boolNode(false)}, nil
		}
	}
	return nil, nil
}

func equalNodes(a, b Node) bool {
	if a.Value == nil || b.Value == nil {
		return a.Value == nil && b.Value == nil && equalValues(mapOrNil(a.ext), mapOrNil(b.ext))
	}
	return equalValues(a.Value, b.Value)
}

func mapOrNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}
