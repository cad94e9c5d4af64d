package invariant

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"fhirgate/internal/sharedtest"
)

var update = flag.Bool("update", false, "rewrite the pinned lists of testdata (review each change)")

// sample is one resource of the shared corpus: an official example, a Synthea bundle or one of its
// entries' resources.
type sample struct {
	name     string // file, or file#entry[i] for an entry of a Synthea bundle
	resource map[string]any
}

var (
	corpusOnce sync.Once
	corpusData []sample
	corpusErr  error
)

// corpus returns the 740 official R4 examples, then the Synthea bundles each followed by its entries'
// resources. Tests must not modify the resources.
func corpus(tb testing.TB) []sample {
	tb.Helper()
	dir := sharedtest.Dir(tb)
	corpusOnce.Do(func() { corpusData, corpusErr = loadCorpus(dir) })
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	return corpusData
}

func loadCorpus(dir string) ([]sample, error) {
	var out []sample
	for _, sub := range []string{"examples", "synthea"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			m, err := decodeBytes(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			name := sub + "/" + filepath.Base(f)
			out = append(out, sample{name: name, resource: m})
			if sub != "synthea" {
				continue
			}
			entries, _ := m["entry"].([]any)
			for i, e := range entries {
				em, _ := e.(map[string]any)
				if r, ok := em["resource"].(map[string]any); ok {
					out = append(out, sample{name: fmt.Sprintf("%s#entry[%d]", name, i), resource: r})
				}
			}
		}
	}
	return out, nil
}

// refusal is one error issue on a corpus resource, pinned with why the resource breaks the invariant.
type refusal struct {
	name, key, expression, why string
}

func (r refusal) id() string { return r.name + "\t" + r.key + "\t" + r.expression }

// keyOf returns the invariant key of an issue's details ("Observation: obs-6 (...)").
func keyOf(details string) string {
	_, rest, _ := strings.Cut(details, ": ")
	k, _, _ := strings.Cut(rest, " ")
	return k
}

func readRefusals(tb testing.TB, path string) map[string]refusal {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	out := map[string]refusal{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			tb.Fatalf("%s: malformed line %q", path, line)
		}
		r := refusal{name: f[0], key: f[1], expression: f[2], why: f[3]}
		out[r.id()] = r
	}
	return out
}

// TestCorpusAccepted checks that the official examples and the Synthea resources raise no error issue,
// except those pinned in testdata/refused.tsv, each with why the resource breaks the invariant.
func TestCorpusAccepted(t *testing.T) {
	samples := corpus(t)
	const pinned = "testdata/refused.tsv"
	want := readRefusals(t, pinned)
	got := map[string]refusal{}
	refused := map[string]bool{}
	resources, warnings, unevaluable := 0, 0, map[string]int{}
	for _, s := range samples {
		resources++
		for _, is := range Check(s.resource) {
			if is.Severity != "error" {
				warnings++
				if strings.Contains(is.Details, "could not be evaluated") {
					unevaluable[keyOf(is.Details)+" could not be evaluated: "+is.Diagnostics]++
				} else {
					unevaluable[keyOf(is.Details)+" warning"]++
				}
				continue
			}
			r := refusal{name: s.name, key: keyOf(is.Details), expression: is.Expression}
			if old, ok := want[r.id()]; ok {
				r.why = old.why
			}
			got[r.id()] = r
			refused[s.name] = true
		}
	}
	t.Logf("%d resources checked, %d refused, %d warnings", resources, len(refused), warnings)
	for k, n := range unevaluable {
		t.Logf("%6d %s", n, k)
	}
	if *update {
		writeRefusals(t, pinned, got)
		return
	}
	for id, r := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("refused, not pinned: %s %s at %s", r.name, r.key, r.expression)
		}
	}
	for id, r := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("pinned, no longer refused: %s %s at %s (remove it from %s)", r.name, r.key, r.expression, pinned)
		}
		if r.why == "" || r.why == "TODO" {
			t.Errorf("pinned without a reason: %s %s at %s", r.name, r.key, r.expression)
		}
	}
}

func writeRefusals(tb testing.TB, path string, rs map[string]refusal) {
	tb.Helper()
	ids := make([]string, 0, len(rs))
	for id := range rs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("# The resources of the shared corpus that break an R4 invariant of severity error, and why.\n")
	b.WriteString("# file\tkey\texpression\twhy (checked by reading the resource)\n")
	for _, id := range ids {
		r := rs[id]
		why := r.why
		if why == "" {
			why = "TODO"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", r.name, r.key, r.expression, why)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}
