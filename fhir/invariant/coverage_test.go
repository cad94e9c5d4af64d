package invariant

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"fhirgate/fhir/fhirpath"
)

// witnesses are a passing and a failing resource of an invariant, described.
type witnesses struct {
	pass, fail string
}

// evaluatedIDs returns the IDs of the invariants Check evaluates.
func evaluatedIDs() map[string]bool {
	ids := map[string]bool{}
	for _, cs := range load().byContext {
		for _, c := range cs {
			ids[c.def.ID()] = true
		}
	}
	return ids
}

// TestCoverage finds, for every invariant Check evaluates, a resource on which it holds and one on which
// it fails: in the corpus, among the handwritten cases, or by mutating a corpus resource where its
// context exists. testdata/coverage.tsv pins the result: the test fails when an invariant loses a case.
func TestCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("the coverage search walks the whole corpus")
	}
	samples := corpus(t)
	ids := evaluatedIDs()
	cov := map[string]*witnesses{}
	for id := range ids {
		cov[id] = &witnesses{}
	}
	where := map[string][]int{} // id -> samples where its context exists
	observe := func(name string, i int) observer {
		return func(c *compiled, _ fhirpath.Node, holds bool, err error) {
			id := c.def.ID()
			w := cov[id]
			switch {
			case err != nil:
			case holds && w.pass == "":
				w.pass = name
			case !holds && w.fail == "":
				w.fail = name
			}
			if i >= 0 {
				if ws := where[id]; len(ws) < 200 && (len(ws) == 0 || ws[len(ws)-1] != i) {
					where[id] = append(ws, i)
				}
			}
		}
	}
	for i, s := range samples {
		idx := i
		if strings.HasPrefix(s.name, "synthea/") && !strings.Contains(s.name, "#") {
			idx = -1 // a whole bundle is too large to mutate
		}
		check(s.resource, observe(s.name, idx))
	}
	for _, h := range append(handwritten, handwrittenMore...) {
		r, err := decodeBytes([]byte(h.json))
		if err != nil {
			t.Fatalf("handwritten %s: %v", h.name, err)
		}
		check(r, observe("handwritten: "+h.name, -1))
	}
	for id, w := range cov {
		if w.fail != "" {
			continue
		}
		cands := where[id]
		sort.SliceStable(cands, func(a, b int) bool { return size(samples[cands[a]].resource) < size(samples[cands[b]].resource) })
		for _, i := range cands[:min(len(cands), 3)] {
			if what, ok := breakByMutation(samples[i].resource, id); ok {
				w.fail = "mutated " + samples[i].name + ": " + what
				break
			}
		}
	}
	passing, failing := 0, 0
	for _, w := range cov {
		if w.pass != "" {
			passing++
		}
		if w.fail != "" {
			failing++
		}
	}
	total := len(definitions)
	t.Logf("%d invariants, %d evaluated; a passing case for %d, a failing case for %d", total, len(ids), passing, failing)
	const pinned = "testdata/coverage.tsv"
	if *update {
		writeCoverage(t, pinned, cov)
		return
	}
	want := readCoverage(t, pinned)
	for id, w := range want {
		got, ok := cov[id]
		switch {
		case !ok:
			t.Errorf("%s: pinned in %s, no longer evaluated", id, pinned)
		case w.pass != "-" && got.pass == "":
			t.Errorf("%s: lost its passing case (was %s)", id, w.pass)
		case w.fail != "-" && got.fail == "":
			t.Errorf("%s: lost its failing case (was %s)", id, w.fail)
		}
	}
	for id := range cov {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: evaluated, not pinned in %s (run with -update)", id, pinned)
		}
	}
}

func size(r map[string]any) int {
	b, err := json.Marshal(r)
	if err != nil {
		return 1 << 30
	}
	return len(b)
}

func writeCoverage(tb testing.TB, path string, cov map[string]*witnesses) {
	tb.Helper()
	ids := make([]string, 0, len(cov))
	for id := range cov {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("# Every invariant Check evaluates, with a resource where it holds and one where it fails (- for none).\n")
	b.WriteString("# id\tpassing\tfailing\n")
	for _, id := range ids {
		w := cov[id]
		fmt.Fprintf(&b, "%s\t%s\t%s\n", id, orDash(w.pass), orDash(strings.ReplaceAll(w.fail, "\t", " ")))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func readCoverage(tb testing.TB, path string) map[string]witnesses {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]witnesses{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			tb.Fatalf("%s: malformed line %q", path, line)
		}
		out[f[0]] = witnesses{pass: f[1], fail: f[2]}
	}
	return out
}
