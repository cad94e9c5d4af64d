package invariant

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"fhirgate/fhir/fhirpath"
)

// TestUnevaluatedPinned holds the list of the invariants Check does not evaluate, with the reason, in
// testdata/unevaluated.tsv: an invariant that stops being evaluated fails the test; one the FHIRPath
// engine learns to compile shows up as a change to review (go test -run TestUnevaluatedPinned -update).
func TestUnevaluatedPinned(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("# The invariants Check does not evaluate, and why.\n# id\treason\n")
	for _, u := range Unevaluateds() {
		fmt.Fprintf(&b, "%s\t%s\n", u.ID(), u.Reason)
	}
	const pinned = "testdata/unevaluated.tsv"
	if *update {
		if err := os.WriteFile(pinned, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("the unevaluated invariants changed; review and run with -update:\n%s", got)
	}
}

// TestAdaptationsApply holds that each adapted expression was written from the official one in the
// table, so that a regenerated table with another expression is noticed.
func TestAdaptationsApply(t *testing.T) {
	t.Parallel()
	for id, a := range adaptations {
		found := false
		for i := range definitions {
			d := &definitions[i]
			if d.ID() == id {
				found = true
				if d.Expression != a.from {
					t.Errorf("%s: the official expression is now %q, the adaptation was written from %q", id, d.Expression, a.from)
				}
			}
		}
		if !found {
			t.Errorf("%s: adapted, not in the table", id)
		}
	}
}

// TestTable checks the generated table: the counts of R4 and that every invariant of the base
// definitions has what Check needs.
func TestTable(t *testing.T) {
	t.Parallel()
	defs := Definitions()
	if len(defs) != 239 {
		t.Errorf("%d invariants, want the 239 of the R4 base definitions", len(defs))
	}
	seen := map[string]bool{}
	for _, d := range defs {
		if d.Key == "" || d.Expression == "" || d.Human == "" || (d.Severity != "error" && d.Severity != "warning") {
			t.Errorf("%s: incomplete %+v", d.ID(), d)
		}
		if seen[d.ID()] {
			t.Errorf("%s: twice", d.ID())
		}
		seen[d.ID()] = true
	}
	for _, id := range []string{"Element/ele-1", "Extension/ext-1", "DomainResource/dom-2", "DomainResource/dom-6",
		"Narrative/txt-1", "Narrative/txt-2", "Observation/obs-6", "Observation/obs-7", "Patient/pat-1", "Period/per-1"} {
		if !seen[id] {
			t.Errorf("%s missing", id)
		}
	}
}

// TestGuardsAgree holds that wherever a guard says an invariant holds, its expression says so too, on
// the official examples.
func TestGuardsAgree(t *testing.T) {
	checked := 0
	for _, s := range corpus(t) {
		if !strings.HasPrefix(s.name, "examples/") {
			continue
		}
		check(s.resource, func(c *compiled, node fhirpath.Node, holds bool, err error) {
			g := guards[c.def.ID()]
			m, ok := node.Value.(map[string]any)
			if g == nil || !ok || !g(m) {
				return
			}
			checked++
			if !holds || err != nil {
				t.Errorf("%s: %s: the guard says it holds, the expression %v (%v)", s.name, c.def.ID(), holds, err)
			}
		})
	}
	if checked == 0 {
		t.Error("no guard was exercised")
	}
}

// TestNativesAgree holds that each invariant computed in Go agrees with its expression on the official
// examples and the handwritten cases.
func TestNativesAgree(t *testing.T) {
	checked := 0
	var rs []sample
	for _, s := range corpus(t) {
		if strings.HasPrefix(s.name, "examples/") {
			rs = append(rs, s)
		}
	}
	for _, h := range handwritten {
		r, err := decodeBytes([]byte(h.json))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, sample{name: h.name, resource: r})
	}
	for _, s := range rs {
		check(s.resource, func(c *compiled, node fhirpath.Node, holds bool, err error) {
			m, ok := node.Value.(map[string]any)
			if c.native == nil || !ok {
				return
			}
			checked++
			byExpr, xerr := eval(c.expr, s.resource, node)
			if xerr != nil || byExpr != holds {
				t.Errorf("%s: %s: natively %v, by the expression %v (%v)", s.name, c.def.ID(), holds, byExpr, xerr)
			}
			_ = m
		})
	}
	if checked == 0 {
		t.Error("no native invariant was exercised")
	}
}
