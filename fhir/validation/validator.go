package validation

import (
	"cmp"
	"errors"
	"slices"

	"fhirgate/fhir"
)

// defaultMaxDepth bounds the JSON nesting of a resource when Config.MaxDepth is zero (the bound the
// server has always had).
const defaultMaxDepth = 64

// Config configures a Validator.
type Config struct {
	// MaxDepth is the deepest JSON nesting accepted (the top-level object is depth 1); zero means 64.
	MaxDepth int
	// Stages are further checks run on every resource after the structural walk (invariants, narrative,
	// profiles...): see Stage.
	Stages []Stage
}

// Validator checks resources in FHIR JSON against the R4 core definitions. It is safe for concurrent use.
//
// It decodes a body once and walks it with the element tables generated from the R4 StructureDefinitions:
// the resource type; unknown elements and unknown choice type suffixes; JSON kinds, primitive formats
// (the regular expression of each type, 32-bit integers, real calendar dates, base64); cardinality and
// arrays against single values; exactly one form of a choice element; the "_name" siblings of primitives
// (id and extension only, null padding of arrays, equal lengths); content references; contained resources
// and the resources of Bundle entries and Parameters, recursively; the target types of relative
// references; empty strings, arrays and objects (json.html and ele-1); and the codes of required bindings
// whose value set the core package enumerates (extensible and preferred ones give warnings in Check).
type Validator struct {
	maxDepth int
	stages   []Stage
}

// New returns a Validator.
func New(cfg Config) (*Validator, error) {
	if cfg.MaxDepth < 0 {
		return nil, errors.New("validation: MaxDepth must not be negative")
	}
	v := &Validator{maxDepth: cfg.MaxDepth, stages: cfg.Stages}
	if v.maxDepth == 0 {
		v.maxDepth = defaultMaxDepth
	}
	types() // build the tables now rather than on the first request
	return v, nil
}

// Validate checks body, a resource in FHIR JSON. It returns nil, or a *fhir.Error of KindInvalid (400)
// holding every error issue: the first (in path order) in the Error's fields, the others in More. Each
// issue names the element (Expression, e.g. Patient.name[0].family) and the rule it breaks (Details).
// Warnings and information are not reported here: see Check.
func (v *Validator) Validate(body []byte) error {
	issues := v.run(body, false)
	var errs []fhir.Issue
	for _, is := range issues {
		if is.Severity == "error" || is.Severity == "fatal" {
			errs = append(errs, is)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	first := errs[0]
	return &fhir.Error{Kind: fhir.KindInvalid, Code: first.Code, MessageID: first.MessageID,
		Expression: first.Expression, Details: first.Details, Diagnostics: first.Diagnostics, More: errs[1:]}
}

// Check checks body like Validate and returns every issue, errors first, then warnings and information
// (codes outside an extensible or preferred binding), for $validate. No issue means the resource is valid.
func (v *Validator) Check(body []byte) []fhir.Issue {
	return v.run(body, true)
}

func (v *Validator) run(body []byte, all bool) []fhir.Issue {
	root, err := decode(body, v.maxDepth)
	if err != nil {
		return []fhir.Issue{{Severity: "error", Code: "structure", MessageID: "MSG_CANT_PARSE_CONTENT",
			Details: "the body is not valid JSON: " + err.Error()}}
	}
	w := walker{all: all, path: make([]byte, 0, 128)}
	if len(v.stages) > 0 {
		w.collect = true
	}
	w.resource(root, true)
	for _, st := range v.stages {
		obj, _ := root.(map[string]any)
		w.issues = append(w.issues, st.Check(obj, w.nodes)...)
	}
	sortIssues(w.issues)
	return w.issues
}

func severityRank(s string) int {
	switch s {
	case "fatal":
		return 0
	case "error":
		return 1
	case "warning":
		return 2
	}
	return 3
}

// sortIssues orders issues by severity, then element path, then text, so that the same body always gives
// the same outcome.
func sortIssues(issues []fhir.Issue) {
	slices.SortStableFunc(issues, func(a, b fhir.Issue) int {
		return cmp.Or(cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Expression, b.Expression), cmp.Compare(a.Details, b.Details))
	})
}
