package fhirpath

import (
	"sort"
	"strings"
	"testing"
)

// TestSearchParametersCompile compiles the expression (and component expressions) of every R4 search
// parameter.
func TestSearchParametersCompile(t *testing.T) {
	params := loadSearchParams(t)
	if len(params) != 1375 {
		t.Errorf("got %d search parameters, want 1375", len(params))
	}
	compiled := 0
	for _, sp := range params {
		exprs := append([]string{sp.Expression}, sp.Components...)
		for _, src := range exprs {
			if src == "" {
				continue
			}
			if _, err := compileSearch(src); err != nil {
				t.Errorf("%s: %q: %v", sp.ID, src, err)
				continue
			}
			compiled++
		}
	}
	t.Logf("compiled %d expressions", compiled)
}

// noExpression lists the search parameters that have no FHIRPath expression at all (their
// values are not in the resource content).
var noExpression = map[string]string{
	"DomainResource-text": "_text searches the narrative; special full-text search, no expression",
	"Resource-content":    "_content is a full-text search over the whole resource, no expression",
	"Resource-query":      "_query names a custom named query, no expression",
}

// notMeaningful lists the search parameter expressions that compile and evaluate without error but
// whose result, evaluated by this package alone, is not (or not always) what the search needs.
var notMeaningful = map[string]string{
	// resolve() cannot fetch anything: "where(resolve() is X)" is decided from the reference text
	// (Type/id, absolute URL, contained #id) or from Reference.type. References made only of an
	// identifier, and urn:uuid: references without Reference.type, are dropped although the target
	// may be of the right type. Every parameter with "X.where(resolve() is T)" is affected the same
	// way; they are listed once under this key (TestSearchParametersNotMeaningful counts them).
	"*.where(resolve() is T)": "resolve() decides the target type from the reference text or Reference.type only; identifier-only and untyped urn:uuid: references are dropped",
	// The following evaluate correctly, but the result is not an element the search parameter type
	// can index directly; the indexer must special-case them.
	"Bundle-composition": "reference parameter whose expression yields a resource (the first entry's Composition), not a Reference: the indexer must build the reference from its resourceType/id",
	"Bundle-message":     "reference parameter whose expression yields a resource (the first entry's MessageHeader), not a Reference: the indexer must build the reference from its resourceType/id",
	"Patient-deceased":   "token parameter whose expression yields a computed boolean (deceased[x] exists and is not false), not an element: the result has no location",
	"Location-near":      "special parameter: the expression yields Location.position; the distance computation belongs to the search",
}

// TestSearchParametersNotMeaningful checks the lists above against the real definitions and that no
// expression uses memberOf() (which is not supported).
func TestSearchParametersNotMeaningful(t *testing.T) {
	params := loadSearchParams(t)
	byID := map[string]searchParam{}
	resolveWhere, resolveWhereExprs := 0, 0
	for _, sp := range params {
		byID[sp.ID] = sp
		if strings.Contains(sp.Expression, "memberOf") {
			t.Errorf("%s uses memberOf(), which cannot be evaluated: %s", sp.ID, sp.Expression)
		}
		if n := strings.Count(sp.Expression, ".where(resolve() is "); n > 0 {
			resolveWhere++
			resolveWhereExprs += n
		}
		if sp.Expression == "" {
			if _, ok := noExpression[sp.ID]; !ok {
				t.Errorf("%s has no expression but is not listed in noExpression", sp.ID)
			}
		}
	}
	for id, reason := range noExpression {
		if sp, ok := byID[id]; !ok || sp.Expression != "" {
			t.Errorf("noExpression lists %s (%s), which has an expression or does not exist", id, reason)
		}
	}
	for id := range notMeaningful {
		if strings.HasPrefix(id, "*") {
			continue
		}
		sp, ok := byID[id]
		if !ok {
			t.Errorf("notMeaningful lists %s, which does not exist", id)
			continue
		}
		if _, err := compileSearch(sp.Expression); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if resolveWhere == 0 {
		t.Errorf("no expression uses where(resolve() is T)")
	}
	t.Logf("%d search parameters use where(resolve() is T), in %d sub-expressions", resolveWhere, resolveWhereExprs)
}

// TestSearchParametersEvaluate evaluates every search parameter expression on every example of each of
// its base types (Resource and DomainResource bases on all examples), and the component expressions of
// composite parameters on each result, requiring no error and no panic.
func TestSearchParametersEvaluate(t *testing.T) {
	params := loadSearchParams(t)
	examples := examplesByType(t)
	var all []string
	for _, files := range examples {
		all = append(all, files...)
	}
	sort.Strings(all)

	docs := map[string]map[string]any{}
	load := func(name string) map[string]any {
		if d, ok := docs[name]; ok {
			return d
		}
		d := loadExample(t, name)
		docs[name] = d
		return d
	}

	evaluations, withValues := 0, 0
	neverMatched := map[string]bool{}
	for _, sp := range params {
		if sp.Expression == "" {
			continue
		}
		expr, err := compileSearch(sp.Expression)
		if err != nil {
			t.Errorf("%s: %v", sp.ID, err)
			continue
		}
		var comps []*Expr
		for _, c := range sp.Components {
			ce, err := compileSearch(c)
			if err != nil {
				t.Errorf("%s component %q: %v", sp.ID, c, err)
				continue
			}
			comps = append(comps, ce)
		}
		var files []string
		for _, base := range sp.Base {
			if base == "Resource" || base == "DomainResource" {
				files = all
				break
			}
			files = append(files, examples[base]...)
		}
		found := false
		for _, f := range files {
			doc := load(f)
			res, err := expr.Evaluate(doc)
			evaluations++
			if err != nil {
				t.Errorf("%s on %s: %q: %v", sp.ID, f, sp.Expression, err)
				continue
			}
			if len(res) > 0 {
				found = true
				withValues++
			}
			for _, n := range res {
				for i, ce := range comps {
					if _, err := ce.EvaluateNode(doc, n); err != nil {
						t.Errorf("%s component %q on %s: %v", sp.ID, sp.Components[i], f, err)
					}
				}
			}
		}
		if len(files) > 0 && !found {
			neverMatched[sp.ID] = true
		}
	}
	t.Logf("%d evaluations, %d with a non-empty result; %d parameters found nothing in any example of their base",
		evaluations, withValues, len(neverMatched))
}
