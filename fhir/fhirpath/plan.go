package fhirpath

import "sync"

// A plan evaluates the expressions that search parameters mostly use, without building the general
// evaluator's intermediate collections: a union ("|") of paths, each made of
//
//   - a leading type name (Observation) or element name, then element names (.subject.reference);
//   - type filters: "x as T", x.as(T), x.ofType(T);
//   - x.where(resolve() is T).
//
// It yields exactly what the general evaluator yields (the same nodes in the same order, the same
// union de-duplication, the same node counting against MaxNodes). Expressions of any other shape have
// no plan and are evaluated by the general evaluator.
type plan struct {
	branches [][]step // the union's operands, left to right
	unions   []*ast   // unions[i] adds branches[i+1] to the result so far
}

type stepKind uint8

const (
	stepTypeName       stepKind = iota // keep the input nodes of type name (a leading upper-case name)
	stepChild                          // the children called name
	stepOfType                         // keep the nodes of type typ
	stepWhereResolveIs                 // keep the nodes whose resolve() is of type typ
)

// A step is one operation of a path, applied to the collection the previous one produced.
type step struct {
	kind stepKind
	name string
	typ  typeSpec
	a    *ast // the sub-expression that counts the produced nodes (member or resolve()), for errors
	as   bool // a stepOfType that is "as", which fails on more than one item unless LenientAs
}

// compilePlan returns the plan of an expression, or nil when its shape has none.
func compilePlan(root *ast) *plan {
	p := &plan{}
	if !p.addUnion(root) {
		return nil
	}
	return p
}

// addUnion adds the operands of a left-nested union (a | b | c) as branches.
func (p *plan) addUnion(a *ast) bool {
	if a.kind != aBinary || a.name != "|" {
		steps, ok := compileSteps(a)
		p.branches = append(p.branches, steps)
		return ok
	}
	if !p.addUnion(a.left) {
		return false
	}
	steps, ok := compileSteps(a.right)
	p.branches = append(p.branches, steps)
	p.unions = append(p.unions, a)
	return ok
}

// compileSteps turns a path into the steps that compute it from $this.
func compileSteps(a *ast) ([]step, bool) {
	var steps []step
	if a.left != nil {
		var ok bool
		if steps, ok = compileSteps(a.left); !ok {
			return nil, false
		}
	}
	switch a.kind {
	case aMember:
		if a.left == nil && isUpperStart(a.name) {
			return append(steps, step{kind: stepTypeName, name: a.name, a: a}), true
		}
		return append(steps, step{kind: stepChild, name: a.name, a: a}), true
	case aAs:
		return append(steps, step{kind: stepOfType, typ: a.typ, a: a, as: true}), true
	case aFunc:
		switch a.name {
		case "as", "ofType":
			return append(steps, step{kind: stepOfType, typ: a.typ, a: a, as: a.name == "as"}), true
		case "where":
			if resolve, typ, ok := resolveIsCriterion(a.args[0]); ok {
				return append(steps, step{kind: stepWhereResolveIs, typ: typ, a: resolve}), true
			}
		}
	}
	return nil, false
}

// resolveIsCriterion recognises the criterion "resolve() is T", returning the resolve() call and T.
func resolveIsCriterion(a *ast) (resolve *ast, typ typeSpec, ok bool) {
	if a.kind != aIs || a.left == nil {
		return nil, typeSpec{}, false
	}
	r := a.left
	if r.kind != aFunc || r.name != "resolve" || r.left != nil || len(r.args) != 0 {
		return nil, typeSpec{}, false
	}
	return r, a.typ, true
}

// planBuffers are the reusable collections of a plan evaluation.
type planBuffers struct {
	cur, next, acc []Node
	keys           keySet // de-duplication keys of acc, once the union has de-duplicated it
	used           int    // the most nodes any of cur, next and acc has held: what release clears
}

// keySet is a set of strings: a list while small, a map beyond.
type keySet struct {
	list []string
	m    map[string]struct{}
}

// smallKeySet is the size up to which a keySet searches its list rather than a map.
const smallKeySet = 16

// add adds k, reporting whether it was not there already.
func (s *keySet) add(k string) bool {
	if s.m != nil {
		if _, dup := s.m[k]; dup {
			return false
		}
		s.m[k] = struct{}{}
		return true
	}
	for _, x := range s.list {
		if x == k {
			return false
		}
	}
	s.list = append(s.list, k)
	if len(s.list) > smallKeySet {
		s.m = make(map[string]struct{}, 2*len(s.list))
		for _, x := range s.list {
			s.m[x] = struct{}{}
		}
	}
	return true
}

// reset empties the set, dropping its map (a large map is not worth keeping).
func (s *keySet) reset() {
	clear(s.list[:cap(s.list)])
	s.list, s.m = s.list[:0], nil
}

var planBufferPool = sync.Pool{New: func() any { return new(planBuffers) }}

// maxPooledNodes bounds the buffers kept for reuse, so that one huge resource does not pin memory.
const maxPooledNodes = 1 << 10

func (b *planBuffers) release() {
	if cap(b.cur) > maxPooledNodes || cap(b.next) > maxPooledNodes || cap(b.acc) > maxPooledNodes {
		return
	}
	for _, buf := range [...][]Node{b.cur, b.next, b.acc} { // drop the references into the resource
		clear(buf[:min(b.used, cap(buf))])
	}
	b.used = 0
	b.keys.reset()
	planBufferPool.Put(b)
}

// run evaluates the plan with c's %resource and %context, $this being the context.
func (p *plan) run(c *evalCtx) ([]Node, error) {
	b := planBufferPool.Get().(*planBuffers)
	res, err := p.runIn(c, b)
	if err != nil {
		return nil, err // b may hold more than it has recorded: leave it to the collector
	}
	b.release()
	return res, nil
}

// runIn evaluates the plan with the buffers b, recording in b.used how much of them it filled.
func (p *plan) runIn(c *evalCtx, b *planBuffers) ([]Node, error) {
	b.acc = b.acc[:0]
	b.keys.reset()
	deduped := false
	for i, steps := range p.branches {
		var res []Node
		if c.mayMatch(steps) {
			var err error
			if res, err = c.runSteps(b, steps); err != nil {
				return nil, err
			}
		}
		if i == 0 || len(b.acc)+len(res) <= 1 { // as union: no de-duplication, no counting
			b.acc = append(b.acc, res...)
			b.used = max(b.used, len(b.acc))
			continue
		}
		b.used = max(b.used, len(b.acc)+len(res))
		if !deduped {
			b.acc = dedupInto(b.acc[:0], &b.keys, b.acc)
			deduped = true
		}
		b.acc = dedupInto(b.acc, &b.keys, res)
		if err := c.count(len(b.acc), p.unions[i-1]); err != nil {
			return nil, err
		}
	}
	if len(b.acc) == 0 {
		if len(p.branches) > 1 {
			return []Node{}, nil // union returns an empty, non-nil collection
		}
		return nil, nil
	}
	return append([]Node(nil), b.acc...), nil
}

// dedupInto appends to out (whose de-duplication keys are in keys) the nodes of in that are not
// already there, by dedupKey, keeping the first of equal nodes. out may be in[:0].
func dedupInto(out []Node, keys *keySet, in []Node) []Node {
	for _, n := range in {
		if keys.add(dedupKey(n)) {
			out = append(out, n)
		}
	}
	return out
}

// mayMatch reports whether a branch can find anything: false when it starts with a type name that
// the context is not of (Observation.code on a Patient), which yields nothing and counts no node.
func (c *evalCtx) mayMatch(steps []step) bool {
	if len(steps) == 0 || steps[0].kind != stepTypeName {
		return true
	}
	return c.typeNameMatches(steps[0].name, c.context.Type)
}

// typeNameMatches reports whether a node of type typ is selected by a leading type name.
func (c *evalCtx) typeNameMatches(name, typ string) bool {
	return typ == name || ((name == "Resource" || name == "DomainResource") && c.isType(typ, typeSpec{name: name}))
}

// runSteps evaluates one branch from $this; the result is in b.cur, valid until the next call.
func (c *evalCtx) runSteps(b *planBuffers, steps []step) ([]Node, error) {
	b.cur = b.cur[:0]
	if c.context.Value != nil || c.context.ext != nil {
		b.cur = append(b.cur, c.context)
		b.used = max(b.used, 1)
	}
	for _, s := range steps {
		out, err := c.runStep(b.next[:0], b.cur, s)
		if err != nil {
			return nil, err
		}
		b.cur, b.next = out, b.cur
		b.used = max(b.used, len(out))
	}
	return b.cur, nil
}

// runStep appends to out the result of one step on in, as the general evaluator computes it.
func (c *evalCtx) runStep(out, in []Node, s step) ([]Node, error) {
	switch s.kind {
	case stepTypeName:
		for _, n := range in {
			if c.typeNameMatches(s.name, n.Type) {
				out = append(out, n)
			}
		}
		return out, c.count(len(out), s.a)
	case stepChild:
		for _, n := range in {
			out = childIndexed(out, n, s.name, c.prepared.choicesOf(n))
		}
		return out, c.count(len(out), s.a)
	case stepOfType:
		if s.as && len(in) > 1 && !c.lenient() {
			return nil, evalErr(s.a, "'as' needs a single item, got %d", len(in))
		}
		for _, n := range in {
			if c.isType(n.Type, s.typ) {
				out = append(out, n)
			}
		}
		return out, nil
	case stepWhereResolveIs:
		for _, n := range in {
			typ, ok := c.resolvedType(n)
			if !ok {
				continue
			}
			if err := c.count(1, s.a); err != nil { // resolve() produced one node
				return nil, err
			}
			if c.isType(typ, s.typ) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	panic("fhirpath: unknown plan step")
}
