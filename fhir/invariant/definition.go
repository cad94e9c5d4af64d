package invariant

// Definition is one invariant of R4: a constraint of an element definition of a resource or data type.
type Definition struct {
	// Type is the resource or data type that defines the invariant, e.g. "Observation", "Period",
	// "DomainResource".
	Type string
	// Context is the element path it applies to, e.g. "Observation.referenceRange"; for a data type or a
	// resource itself, its name.
	Context string
	// Key identifies the invariant within its type, e.g. "obs-3". Keys are not unique across types.
	Key string
	// Severity is "error" (the data is refused) or "warning" (reported only).
	Severity string
	// Human is the description of the rule for people.
	Human string
	// Expression is the FHIRPath expression that must evaluate to true on each node of the context.
	Expression string
}

// ID returns the type and key, e.g. "Observation/obs-6", which identify the definition.
func (d *Definition) ID() string { return d.Type + "/" + d.Key }

// Definitions returns every invariant of the R4 base definitions, sorted by type, context and key.
func Definitions() []Definition {
	out := make([]Definition, len(definitions))
	copy(out, definitions[:])
	return out
}
