package validation

import (
	"fhirgate/fhir"
	"fhirgate/fhir/invariant"
	"fhirgate/fhir/narrative"
)

// r4Stages are the rules of R4 beyond the structure that every Validator checks, before the stages of its
// Config: the narrative's XHTML (txt-1, txt-2: package narrative, an allow-list) and the FHIRPath
// invariants of the core definitions (package invariant).
var r4Stages = []Stage{StageFunc(narrativeStage), StageFunc(invariantStage)}

// narrativeStage checks the div of every Narrative against the XHTML R4 allows. A Narrative without a div
// is the structural walk's to report (div is required).
func narrativeStage(_ map[string]any, nodes []Node) []fhir.Issue {
	var out []fhir.Issue
	for _, n := range nodes {
		if n.Type != "Narrative" {
			continue
		}
		obj, _ := n.Value.(map[string]any)
		div, ok := obj["div"].(string)
		if !ok {
			continue
		}
		at := n.Path + ".div"
		for _, p := range narrative.Check(div) {
			out = append(out, fhir.Issue{Severity: "error", Code: "invariant", Expression: at,
				Details: at + ": " + p.String()})
		}
	}
	return out
}

// invariantStage evaluates the invariants of R4 on the resource and everything in it.
func invariantStage(root map[string]any, _ []Node) []fhir.Issue {
	if root == nil {
		return nil
	}
	return invariant.Check(root)
}
