package fhirpath

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// evalBoth evaluates a compiled expression by its plan, with and without a prepared resource, and by
// the general evaluator, and reports any difference between the results (nodes, their order and
// locations, nil-ness, errors).
func evalBoth(e *Expr, resource any, context Node) (string, bool) {
	root := rootNode(resource)
	slow, serr := e.run(root, context)
	c := evalCtx{root: root, context: context, opts: e.opts}
	fast, ferr := e.plan.run(&c)
	if d, ok := sameResults(fast, ferr, slow, serr); !ok {
		return d, false
	}
	p := Prepare(resource)
	c = evalCtx{root: p.root, context: context, prepared: p, opts: e.opts}
	fast, ferr = e.plan.run(&c)
	if d, ok := sameResults(fast, ferr, slow, serr); !ok {
		return "prepared: " + d, false
	}
	return "", true
}

// sameResults compares a plan's result with the general evaluator's.
func sameResults(fast []Node, ferr error, slow []Node, serr error) (string, bool) {
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		return fmt.Sprintf("error %v, general evaluator %v", ferr, serr), false
	}
	if (fast == nil) != (slow == nil) {
		return fmt.Sprintf("nil result %v, general evaluator %v", fast == nil, slow == nil), false
	}
	if len(fast) != len(slow) {
		return fmt.Sprintf("%d nodes %v, general evaluator %d %v", len(fast), strs(fast), len(slow), strs(slow)), false
	}
	for i := range fast {
		if d := nodeDiff(fast[i], slow[i]); d != "" {
			return fmt.Sprintf("node %d: %s", i, d), false
		}
	}
	return "", true
}

// nodeDiff describes how two nodes differ ("" when they are the same node of the same tree).
func nodeDiff(a, b Node) string {
	switch {
	case !reflect.DeepEqual(a.Value, b.Value):
		return fmt.Sprintf("value %s, general evaluator %s", a, b)
	case a.Type != b.Type || a.Key != b.Key || a.Name != b.Name || a.Index != b.Index:
		return fmt.Sprintf("type/key/name/index %s/%s/%s/%d, general evaluator %s/%s/%s/%d",
			a.Type, a.Key, a.Name, a.Index, b.Type, b.Key, b.Name, b.Index)
	case !sameMap(a.Parent, b.Parent):
		return "another parent"
	case !sameMap(a.ext, b.ext):
		return "another primitive element"
	}
	return ""
}

func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestPlanShapes checks which expressions get a plan.
func TestPlanShapes(t *testing.T) {
	for src, want := range map[string]bool{
		"Observation.subject":    true,
		"Resource.meta.security": true,
		"(Observation.value as Quantity) | (Observation.value as SampledData)":  true,
		"Observation.subject.where(resolve() is Patient) | Group.member.entity": true,
		"(Observation.value as CodeableConcept).text":                           true,
		"value.as(Quantity) | value.as(Range)":                                  true,
		"code":                                                                  true,
		"Observation | Observation.component":                                   true,
		"Condition.abatement.ofType(Age)":                                       true,
		"Observation.code | (Observation.component.code | Observation.value)":   false,
		"Observation.where(status = 'final')":                                   false,
		"Bundle.entry[0].resource":                                              false,
		"Patient.deceased.exists() and Patient.deceased != false":               false,
		"Observation.subject.where(resolve() is Patient).first()":               false,
		"Observation.subject.where(resolve().is(Patient))":                      false,
		"$this.subject":     false,
		"%resource.subject": false,
		"{}":                false,
	} {
		if got := MustCompile(src).plan != nil; got != want {
			t.Errorf("%q: plan %v, want %v", src, got, want)
		}
	}
}

// TestPlanInline compares the plan with the general evaluator on the inline resource and on odd
// inputs: duplicates in unions, primitives with only extensions, nested arrays, contained and typed
// references, several choice keys, mismatched leading types, no resource at all.
func TestPlanInline(t *testing.T) {
	docs := []any{
		decodeJSON(t, []byte(inlineResource)),
		decodeJSON(t, []byte(`{"resourceType": "Observation", "contained": [{"resourceType": "Group", "id": "g"}, "x"],
			"subject": {"reference": "#"}, "performer": [{"reference": "#g"}, {"reference": "#nope"}, "Patient/1", 3, null,
			{"type": "http://hl7.org/fhir/StructureDefinition/Patient"}, {"reference": "Patient/1|2", "type": "Group"}],
			"focus": [[{"reference": "Patient/2"}], [[{"reference": "Patient/3"}]]],
			"valueQuantity": {"value": 1}, "valueString": "s", "valueFoo": {"x": 1}, "valueBoolean": {"x": 1},
			"effectiveDateTime": "2020", "effectiveTime": "10:00", "_effectiveInstant": {"id": "i"}, "Quantity": {"value": 3},
			"note": [{"text": "a"}, {"text": "a"}, {"text": 1.0}, {"text": 1.00}, {"text": true}, {"text": true}],
			"_status": {"id": "s1"}, "identifier": [{"_value": [null, {"id": "v"}]}],
			"category": [{"coding": [{"code": "a"}]}, {"coding": [{"code": "a"}]}],
			"component": [{"valueQuantity": {"value": 2}}, {"valueQuantity": {"value": 2}}, {"valueRange": {"low": {"value": 1}}}]}`)),
		decodeJSON(t, []byte(`{"resourceType": "Patient", "link": [{"other": {"reference": "Patient/x"}}]}`)),
		decodeJSON(t, []byte(`[1, 2]`)),
		decodeJSON(t, []byte(`"Observation"`)),
		nil,
	}
	exprs := []string{
		"Observation.subject", "Observation.performer", "Observation.focus", "Observation.value",
		"(Observation.value as Quantity) | (Observation.value as SampledData)",
		"Observation.value.as(string) | Observation.value.ofType(Quantity).value",
		"Observation.subject.where(resolve() is Patient)", "Observation.performer.where(resolve() is Group)",
		"Observation.performer.where(resolve() is Resource) | Observation.subject.where(resolve() is DomainResource)",
		"Observation.focus.where(resolve() is Patient)", "Observation.status", "Observation.status.id",
		"Observation.identifier.value", "Observation.identifier.value.id", "Observation.issued.extension",
		"Observation.note.text", "Observation.note.text | Observation.note.text", "Observation.note | Observation.note",
		"Observation.category | Observation.category.coding", "Observation.category.coding.code | Observation.code.coding.code",
		"Observation.component.value | Observation.component.value", "Observation.component.value.as(Quantity)",
		"Patient.link.other | Observation.subject", "Resource.id | DomainResource.contained.id",
		"Resource | Observation", "Observation | Observation.component", "Patient.link.other.where(resolve() is Patient)",
		"code", "value.as(Quantity) | value.as(Range)", "subject | subject", "Observation.nothing | Observation.nothing",
		"Observation.subject | Observation.nothing", "Observation.nothing | Observation.subject",
		"Observation.effective", "Observation.effectiveDate", "Observation.effective.as(time)",
	}
	for _, src := range exprs {
		e := MustCompile(src)
		if e.plan == nil {
			t.Errorf("%q has no plan", src)
			continue
		}
		for i, doc := range docs {
			root := rootNode(doc)
			if d, ok := evalBoth(e, doc, root); !ok {
				t.Errorf("%q on document %d: %s", src, i, d)
			}
			all, _ := MustCompile("Observation.component | Observation.note | Observation.status").run(root, root)
			for _, n := range append(all, Node{}) {
				if d, ok := evalBoth(e, doc, n); !ok {
					t.Errorf("%q on document %d, context %s: %s", src, i, n, d)
				}
			}
		}
	}
}

// TestPlanNodeLimit checks that the plan counts produced nodes like the general evaluator and fails
// at the same place.
func TestPlanNodeLimit(t *testing.T) {
	many := make([]any, MaxNodes/2+1)
	for i := range many {
		many[i] = "Patient/p" + strconv.Itoa(i)
	}
	refs := []any{map[string]any{"reference": "Patient/1"}, map[string]any{"reference": "Group/1"}, map[string]any{"reference": "Patient/1"}}
	doc := map[string]any{"resourceType": "Basic", "a": many, "b": refs}
	// Each fails in a different place: the second member, the union, resolve().
	for _, src := range []string{"Basic.a | Basic.a", "Basic.b | Basic.a", "Basic.a.where(resolve() is Patient)"} {
		e := MustCompile(src)
		if d, ok := evalBoth(e, doc, rootNode(doc)); !ok {
			t.Errorf("%q: %s", src, d)
		}
		if _, err := e.Evaluate(doc); !errors.Is(err, errTooManyNodes) {
			t.Errorf("%q: error %v, want too many nodes", src, err)
		}
	}
}

// TestPlanSearchParameters compares the plan with the general evaluator for every R4 search parameter
// expression that has one, on every example of its base types (Resource and DomainResource bases on
// all examples) and on one example of every other type, and for the component expressions of
// composite parameters on each node the parameter's expression finds.
func TestPlanSearchParameters(t *testing.T) {
	params := loadSearchParams(t)
	examples := examplesByType(t)
	var all, oneOfEach []string
	for _, files := range examples {
		all = append(all, files...)
		oneOfEach = append(oneOfEach, files[0])
	}
	sort.Strings(all)
	docs := map[string]map[string]any{}
	load := func(name string) map[string]any {
		if _, ok := docs[name]; !ok {
			docs[name] = loadExample(t, name)
		}
		return docs[name]
	}
	planned, total, comparisons := 0, 0, 0
	for _, sp := range params {
		if sp.Expression == "" {
			continue
		}
		e := mustCompileSearch(sp.Expression)
		comps := make([]*Expr, len(sp.Components))
		for i, c := range sp.Components {
			comps[i] = mustCompileSearch(c)
		}
		total++
		if e.plan != nil {
			planned++
		}
		files := oneOfEach
		for _, base := range sp.Base {
			if base == "Resource" || base == "DomainResource" {
				files = all
				break
			}
			files = append(files[:len(files):len(files)], examples[base]...)
		}
		for _, f := range files {
			doc := load(f)
			root := rootNode(doc)
			if e.plan != nil {
				comparisons++
				if d, ok := evalBoth(e, doc, root); !ok {
					t.Errorf("%s on %s: %q: %s", sp.ID, f, sp.Expression, d)
				}
			}
			nodes, _ := e.run(root, root)
			for i, ce := range comps {
				if ce.plan == nil {
					continue
				}
				for _, n := range nodes {
					comparisons++
					if d, ok := evalBoth(ce, doc, n); !ok {
						t.Errorf("%s component %q on %s at %s: %s", sp.ID, sp.Components[i], f, n, d)
					}
				}
			}
		}
	}
	t.Logf("%d of %d expressions have a plan; %d comparisons", planned, total, comparisons)
	if planned*10 < total*9 {
		t.Errorf("only %d of %d search parameter expressions have a plan", planned, total)
	}
}

// updateUnplanned rewrites the pinned list of expressions without a plan.
var updateUnplanned = flag.Bool("update-unplanned", false, "rewrite testdata/unplanned.txt from the current planner")

// TestPlanUnplanned pins the search parameter expressions without a plan (evaluated by the general
// evaluator at indexing time): a change of the planner that loses a plan, or gains one, shows here and is
// accepted by rewriting the list (go test -run TestPlanUnplanned ./fhir/fhirpath/ -update-unplanned).
func TestPlanUnplanned(t *testing.T) {
	seen := map[string]bool{}
	for _, sp := range loadSearchParams(t) {
		for _, src := range append([]string{sp.Expression}, sp.Components...) {
			if src != "" && MustCompile(src).plan == nil {
				seen[src] = true
			}
		}
	}
	none := make([]string, 0, len(seen))
	for src := range seen {
		none = append(none, src)
	}
	sort.Strings(none)
	got := strings.Join(none, "\n") + "\n"
	const pinned = "testdata/unplanned.txt"
	if *updateUnplanned {
		if err := os.WriteFile(pinned, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(pinned)
	if err != nil {
		t.Fatalf("%v (write it with -update-unplanned)", err)
	}
	if string(want) != got {
		wantSet := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			wantSet[l] = true
		}
		for _, l := range none {
			if !wantSet[l] {
				t.Errorf("newly without a plan: %s", l)
			}
			delete(wantSet, l)
		}
		for l := range wantSet {
			t.Errorf("now planned (update the list with -update-unplanned): %s", l)
		}
	}
}
