package validation

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"fhirgate/fhir"
)

// defaultMaxDepth bounds the JSON nesting of a resource when Config.Limits.MaxDepth is zero (the bound the
// server has always had).
const defaultMaxDepth = 64

// Config configures a Validator.
type Config struct {
	// Limits bound the shape of a body (fhir.JSONLimits: depth and number of values), checked before
	// anything else: a body beyond them is refused as fhir.KindTooCostly naming the limit. A zero MaxDepth
	// means 64 (the depth writes have always been held to); a zero MaxValues, no bound on values.
	Limits fhir.JSONLimits
	// Stages are further checks run on every resource after the structural walk and R4's own narrative
	// and invariant checks (which every Validator runs): see Stage.
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
	limits fhir.JSONLimits
	stages []Stage
}

// New returns a Validator.
func New(cfg Config) (*Validator, error) {
	if cfg.Limits.MaxDepth < 0 || cfg.Limits.MaxValues < 0 {
		return nil, errors.New("validation: the JSON limits must not be negative")
	}
	if cfg.Limits.MaxDepth == 0 {
		cfg.Limits.MaxDepth = defaultMaxDepth
	}
	v := &Validator{limits: cfg.Limits, stages: append(append([]Stage(nil), r4Stages...), cfg.Stages...)}
	types() // build the tables now rather than on the first request
	return v, nil
}

// Validate checks body, a resource in FHIR JSON. It returns nil, a *fhir.Error of KindTooCostly for a body
// beyond Config.Limits, or a *fhir.Error of KindInvalid (400) holding every error issue: the first (in path order) in the Error's fields, the others in More. Each
// issue names the element (Expression, e.g. Patient.name[0].family) and the rule it breaks (Details).
// Warnings and information are not reported here: see Check.
func (v *Validator) Validate(body []byte) error {
	if err := v.checkLimits(body); err != nil {
		return err
	}
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
	if first.Code == "too-costly" {
		return &fhir.Error{Kind: fhir.KindTooCostly, Code: "too-costly", Limit: "max-json-depth", Details: first.Details}
	}
	return &fhir.Error{Kind: fhir.KindInvalid, Code: first.Code, MessageID: first.MessageID,
		Expression: first.Expression, Details: first.Details, Diagnostics: first.Diagnostics, More: errs[1:]}
}

// Check checks body like Validate and returns every issue, errors first, then warnings and information
// (codes outside an extensible or preferred binding), for $validate. No issue means the resource is valid.
func (v *Validator) Check(body []byte) []fhir.Issue {
	return v.run(body, true)
}

func (v *Validator) run(body []byte, all bool) []fhir.Issue {
	if err := v.checkLimits(body); err != nil {
		fe := fhir.AsError(err)
		return []fhir.Issue{{Severity: "error", Code: fe.IssueCode(), Details: fe.Details}}
	}
	root, err := decode(body, v.limits.MaxDepth)
	if err != nil {
		if d, deep := err.(*depthError); deep {
			return []fhir.Issue{{Severity: "error", Code: "too-costly",
				Details: fmt.Sprintf("the JSON body nests deeper than %d levels (--max-json-depth)", d.max)}}
		}
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

// checkLimits refuses a body with more values than the limits allow. The decoder bounds the depth itself,
// so the scan ahead of it is needed only when values are counted.
func (v *Validator) checkLimits(body []byte) error {
	if v.limits.MaxValues > 0 {
		return v.limits.Check(body)
	}
	return nil
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
