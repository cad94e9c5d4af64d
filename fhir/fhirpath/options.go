package fhirpath

// Options configure CompileWith. The zero Options follow the specification with types taken from the
// JSON shape and choice suffixes only.
type Options struct {
	// Model types the elements of resources from the FHIR definitions (the type of every child, choice
	// elements, the type hierarchy), for is, as, ofType, type() and children(). Without one, objects
	// are typed only by resourceType and choice suffixes, and primitives by their JSON shape.
	Model Model
	// Functions supplies functions that need the outside world (memberOf, conformsTo, htmlChecks,
	// resolve) or that the caller adds. A function given here takes precedence over the built-in one of
	// the same name and accepts any number of arguments, which are evaluated in the caller's scope
	// (like the arguments of startsWith, not as lambdas) and passed as collections. Expressions
	// compiled with Functions are evaluated by the general evaluator only.
	Functions map[string]Func
	// LenientAs makes "as" (operator and function) keep the items of the type, like ofType, instead of
	// failing on an input of more than one item, and lets a System type name match the FHIR types that
	// convert to it (dateTime is a DateTime). Search indexing relies on it: the R4 search parameters
	// apply "as" to repeating elements and write value.as(DateTime).
	LenientAs bool
	// Strict, with a Model, reports as evaluation errors what the specification's strict mode rejects
	// and a run-time check can see: a leading type name that is not the context's (Encounter.status
	// on a Patient), and a path step after a cast to a type without that element
	// ((Observation.value as Period).unit). Without Strict these yield empty collections.
	Strict bool
}

// Model describes the FHIR types of resources and data types for the evaluator. Package fhir provides
// the R4 model (fhir.PathModel); the evaluator itself knows no definitions.
type Model interface {
	// ChildElement returns the element called name of parent, which is a type name ("Patient",
	// "HumanName") or the path of a backbone element ("Patient.contact"); name is the element name
	// without a choice suffix ("value"). It gives the element's FHIR type codes (several for a choice
	// element; "BackboneElement" or "Element" for a backbone element), whether it is a choice element
	// (value[x], whose JSON name carries its type as a suffix), and, for a backbone element, the path
	// where its children are defined ("Patient.contact", or the target of a content reference; "" for
	// elements of a data type, whose children are the type's). ok is false when parent has no such
	// element. The methods use only predeclared types, so that a model implements Model without
	// importing this package.
	ChildElement(parent, name string) (types []string, choice bool, path string, ok bool)
	// BaseType returns the type typ specialises: "Quantity" for "Age", "DomainResource" for
	// "Patient", "Resource" for "DomainResource", "string" for "code", "Element" for "HumanName",
	// and "" for a type at the root of the hierarchy or an unknown one.
	BaseType(typ string) string
	// IsType reports whether name is a FHIR type the model knows (a resource, data type or primitive).
	IsType(name string) bool
}

// elementDef is the definition of an element, as a Model gives it.
type elementDef struct {
	Types  []string
	Choice bool
	Path   string
}

// childDef asks the model for the element called name of parent.
func childDef(m Model, parent, name string) (elementDef, bool) {
	types, choice, path, ok := m.ChildElement(parent, name)
	return elementDef{Types: types, Choice: choice, Path: path}, ok
}

// Func is a function supplied through Options.Functions. It receives the call and returns the result
// collection; an error fails the evaluation (wrap ErrNotSupported when the function cannot answer).
type Func func(call Call) ([]Node, error)

// Call is one invocation of a Func.
type Call struct {
	Name     string   // the function name
	Input    []Node   // the collection the function is invoked on
	Args     [][]Node // the arguments, each evaluated with the input as $this
	Resource Node     // %resource
	Context  Node     // %context
}

// CompileWith parses a FHIRPath expression for evaluation with the given options. Compile is
// CompileWith with the zero Options.
func CompileWith(expr string, opts Options) (*Expr, error) {
	return compile(expr, &opts)
}
