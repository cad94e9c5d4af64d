package fhirpath

import "reflect"

// Prepared is a resource prepared for the evaluation of many expressions, such as every search
// parameter of its type: it indexes once the choice elements (valueQuantity, effectiveDateTime) of the
// resource's top-level object, which each evaluation that looks for a missing element would otherwise
// find by going through all of the object's members. Results are the same as those of Evaluate and
// EvaluateNode. The resource must not be modified while the Prepared is in use; a Prepared may be used
// by several goroutines at once.
type Prepared struct {
	root    Node
	obj     map[string]any // the top-level object, or nil
	choices choiceIndex    // the choice index of obj
}

// Prepare prepares a resource decoded from JSON (see Evaluate) for the evaluation of many expressions.
func Prepare(resource any) *Prepared {
	p := &Prepared{root: rootNode(resource)}
	if obj, ok := resource.(map[string]any); ok {
		p.obj, p.choices = obj, indexChoices(obj)
	}
	return p
}

// EvaluatePrepared is Evaluate on a prepared resource.
func (e *Expr) EvaluatePrepared(r *Prepared) ([]Node, error) {
	return e.evalPrepared(r, r.root)
}

// EvaluateNodePrepared is EvaluateNode on a prepared resource.
func (e *Expr) EvaluateNodePrepared(r *Prepared, context Node) ([]Node, error) {
	return e.evalPrepared(r, context)
}

func (e *Expr) evalPrepared(r *Prepared, context Node) ([]Node, error) {
	if e.plan == nil {
		return e.run(r.root, context)
	}
	c := evalCtx{root: r.root, context: context, prepared: r, opts: e.opts}
	return e.plan.run(&c)
}

// choicesOf returns the choice index of n's object when it is known (the prepared resource's
// top-level object), or nil.
func (r *Prepared) choicesOf(n Node) choiceIndex {
	if r == nil || r.obj == nil {
		return nil
	}
	obj, ok := n.Value.(map[string]any)
	if !ok || !sameObject(obj, r.obj) {
		return nil
	}
	return r.choices
}

// sameObject reports whether a and b are the same map (not merely equal ones).
func sameObject(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
