package fhirpath

import (
	"sort"
	"strings"
)

func isCalendarWord(s string) bool {
	_, ok := calendarWords[s]
	return ok
}

// containsEqual reports whether coll has an item equal to n.
func containsEqual(coll []Node, n Node) bool {
	for _, x := range coll {
		if eq, known := equalItems(n, x); eq && known {
			return true
		}
	}
	return false
}

func (c *evalCtx) argColl(sc *scope, a *ast, i int) ([]Node, error) {
	return c.eval(a.args[i], sc)
}

func fnExclude(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.argColl(sc, a, 0)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range in {
		if !containsEqual(other, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func fnIntersect(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.argColl(sc, a, 0)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range in {
		if containsEqual(other, n) && !containsEqual(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func fnSubsetOf(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.argColl(sc, a, 0)
	if err != nil {
		return nil, err
	}
	sub, super := in, other
	if a.name == "supersetOf" {
		sub, super = other, in
	}
	for _, n := range sub {
		if !containsEqual(super, n) {
			return []Node{boolNode(false)}, nil
		}
	}
	return []Node{boolNode(true)}, nil
}

// fnRepeat applies the projection to the input, then to its results, until no new item appears.
func fnRepeat(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	seen := map[string]struct{}{}
	queue := in
	for len(queue) > 0 {
		var next []Node
		err := c.each(queue, a.args[0], func(_ int, _ Node, res []Node) (bool, error) {
			for _, r := range res {
				k := dedupKey(r)
				if _, dup := seen[k]; dup {
					continue
				}
				seen[k] = struct{}{}
				out = append(out, r)
				next = append(next, r)
			}
			return false, c.count(len(res), a)
		})
		if err != nil {
			return nil, err
		}
		queue = next
	}
	return out, nil
}

func fnAggregate(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	var total []Node
	if len(a.args) == 2 {
		var err error
		if total, err = c.eval(a.args[1], sc); err != nil {
			return nil, err
		}
	}
	for i, n := range in {
		res, err := c.eval(a.args[0], &scope{this: []Node{n}, index: i, total: total, hasTotal: true})
		if err != nil {
			return nil, err
		}
		total = res
	}
	return total, nil
}

// fnSort sorts by the arguments' values (a leading "-" sorts that key in descending order), or by the
// items themselves.
func fnSort(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	type keyed struct {
		n    Node
		keys [][]Node
	}
	items := make([]keyed, len(in))
	exprs := append([]*ast(nil), a.args...)
	desc := make([]bool, len(exprs))
	for i, e := range exprs {
		if e.kind == aUnary && e.name == "-" {
			exprs[i], desc[i] = e.right, true
		}
	}
	for i, n := range in {
		items[i].n = n
		for _, e := range exprs {
			res, err := c.eval(e, &scope{this: []Node{n}, index: i})
			if err != nil {
				return nil, err
			}
			items[i].keys = append(items[i].keys, res)
		}
	}
	var sortErr string
	cmp := func(x, y []Node) int {
		r, _, msg := compareItems(x[0], y[0])
		if msg != "" && sortErr == "" {
			sortErr = msg
		}
		return r
	}
	sort.SliceStable(items, func(i, j int) bool {
		if len(exprs) == 0 {
			return cmp([]Node{items[i].n}, []Node{items[j].n}) < 0
		}
		for k := range exprs {
			x, y := items[i].keys[k], items[j].keys[k]
			var r int
			switch {
			case len(x) == 0 && len(y) == 0:
			case len(x) == 0:
				r = -1 // empty keys first, in either order
			case len(y) == 0:
				r = 1
			default:
				r = cmp(x, y)
				if desc[k] {
					r = -r
				}
			}
			if r != 0 {
				return r < 0
			}
		}
		return false
	})
	if sortErr != "" {
		return nil, evalErr(a, "sort(): %s", sortErr)
	}
	out := make([]Node, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out, nil
}

func fnNow(c *evalCtx, _ *scope, _ []Node, a *ast) ([]Node, error) {
	t := c.clock()
	_, off := t.Zone()
	m := moment{hasDate: true, year: t.Year(), month: int(t.Month()), day: t.Day(), hour: t.Hour(),
		minute: t.Minute(), second: t.Second(), nano: t.Nanosecond() / 1e6 * 1e6, msDigits: 3, tz: true, offset: off / 60}
	switch a.name {
	case "today":
		m.prec, m.tz = precDay, false
		return []Node{momentNode(m, kDate)}, nil
	case "timeOfDay":
		m.prec, m.hasDate, m.tz = precSecond, false, false
		return []Node{momentNode(m, kTime)}, nil
	}
	m.prec = precSecond
	return []Node{momentNode(m, kDateTime)}, nil
}

// fnType implements type(): an object with the namespace and name of the item's type.
func fnType(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	out := make([]Node, 0, len(in))
	for _, n := range in {
		t := n.Type
		if t == "" {
			t = shapeType(n.Value)
		}
		if t == "" {
			continue
		}
		ns := "FHIR"
		if s, ok := strings.CutPrefix(t, "System."); ok {
			ns, t = "System", s
		}
		out = append(out, Node{Value: map[string]any{"namespace": ns, "name": t}, Type: "TypeInfo", Index: -1})
	}
	return out, nil
}

func fnComparable(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.argColl(sc, a, 0)
	if err != nil || len(in) != 1 || len(other) != 1 {
		return nil, err
	}
	qa, ok1 := asQuantity(in[0])
	qb, ok2 := asQuantity(other[0])
	if !ok1 || !ok2 {
		return nil, evalErr(a, "comparable() needs quantities")
	}
	_, _, ok := quantityRats(qa, qb)
	return []Node{boolNode(ok)}, nil
}

// fnNeedsOutside implements the functions that need the outside world when the caller supplied none
// (conformsTo, htmlChecks, memberOf): evaluation fails with ErrNotSupported.
func fnNeedsOutside(_ *evalCtx, _ *scope, _ []Node, a *ast) ([]Node, error) {
	return nil, &EvalError{Pos: a.pos, Msg: a.name + "() is not supported without Options.Functions[\"" + a.name + "\"]", Err: ErrNotSupported}
}

// callSupplied calls a function supplied through Options.Functions.
func callSupplied(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	call := Call{Name: a.name, Input: in, Resource: c.root, Context: c.context}
	for _, arg := range a.args {
		res, err := c.eval(arg, sc)
		if err != nil {
			return nil, err
		}
		call.Args = append(call.Args, res)
	}
	out, err := a.ufn(call)
	if err != nil {
		return nil, &EvalError{Pos: a.pos, Msg: a.name + "(): " + err.Error(), Err: err}
	}
	return out, c.count(len(out), a)
}

// coreProfilePrefix is the canonical URL prefix of the core StructureDefinitions.
const coreProfilePrefix = "http://hl7.org/fhir/StructureDefinition/"

// fnConformsTo implements conformsTo(profile) for the core profiles, which a resource conforms to when
// it is of that type (validation against the definitions is left to the caller); any other profile
// needs Options.Functions["conformsTo"].
func fnConformsTo(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	res, err := c.eval(a.args[0], sc)
	if err != nil {
		return nil, err
	}
	url, ok, err := singleString(res, a.args[0], "conformsTo() profile")
	if err != nil || !ok || len(in) == 0 {
		return nil, err
	}
	if len(in) > 1 {
		return nil, evalErr(a, "conformsTo() on %d items", len(in))
	}
	typ, core := strings.CutPrefix(url, coreProfilePrefix)
	if !core || !(IsResourceType(typ) || typ == "Resource" || typ == "DomainResource") {
		return fnNeedsOutside(c, sc, in, a)
	}
	return []Node{boolNode(c.isType(in[0].Type, typeSpec{ns: "FHIR", name: typ}))}, nil
}
