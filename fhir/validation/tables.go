package validation

// strength is the strength of a binding.
type strength uint8

// The binding strengths the validator checks (example bindings are not kept).
const (
	required strength = iota + 1
	extensible
	preferred
)

// binding is an element's binding to a value set.
type binding struct {
	strength strength
	valueSet string
}

// codeGroup is the part of an expansion in one code system: the codes, sorted, separated by newlines.
type codeGroup struct {
	system string
	codes  string
}
