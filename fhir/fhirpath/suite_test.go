package fhirpath_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
	"fhirgate/internal/sharedtest"
)

// suiteFloor is the fewest official tests that must pass; raise it as the engine improves.
const suiteFloor = 928

// suiteXML is the official FHIRPath test suite's file format.
type suiteXML struct {
	Groups []struct {
		Name  string `xml:"name,attr"`
		Tests []struct {
			Name      string `xml:"name,attr"`
			InputFile string `xml:"inputfile,attr"`
			Predicate string `xml:"predicate,attr"`
			Mode      string `xml:"mode,attr"`
			Expr      struct {
				Text    string `xml:",chardata"`
				Invalid string `xml:"invalid,attr"`
			} `xml:"expression"`
			Outputs []struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"output"`
		} `xml:"test"`
	} `xml:"group"`
}

// suiteCase is one test of the suite, named group/test.
type suiteCase struct {
	id        string
	input     string // file name under input/, JSON; "" for none
	expr      string
	invalid   string // syntax, semantic, execution, or "" for a valid expression
	predicate bool
	strict    bool
	outputs   []suiteOutput
}

type suiteOutput struct{ typ, text string }

// suiteDir returns the directory of the official suite, skipping (failing under CI) when absent.
func suiteDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(sharedtest.Dir(t), "..", "fhirpath-r4")
	if _, err := os.Stat(filepath.Join(dir, "tests-fhir-r4.xml")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the FHIRPath suite is missing (%v); CI requires it", err)
		}
		t.Skipf("the FHIRPath suite is missing (%v); skipping", err)
	}
	return dir
}

func loadSuite(t *testing.T, dir string) []suiteCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "tests-fhir-r4.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc suiteXML
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []suiteCase
	seen := map[string]int{}
	for _, g := range doc.Groups {
		for i, tc := range g.Tests {
			name := tc.Name
			if name == "" {
				name = fmt.Sprintf("unnamed%d", i+1)
			}
			id := g.Name + "/" + name
			if seen[id]++; seen[id] > 1 {
				id = fmt.Sprintf("%s#%d", id, seen[id])
			}
			c := suiteCase{
				id: id, expr: tc.Expr.Text, invalid: tc.Expr.Invalid,
				predicate: tc.Predicate == "true", strict: tc.Mode == "strict",
			}
			if tc.InputFile != "" {
				c.input = strings.TrimSuffix(tc.InputFile, filepath.Ext(tc.InputFile)) + ".json"
			}
			for _, o := range tc.Outputs {
				c.outputs = append(c.outputs, suiteOutput{typ: o.Type, text: o.Text})
			}
			out = append(out, c)
		}
	}
	return out
}

// loadExclusions reads testdata/suite-exclusions.txt: "group/test  reason" per line.
func loadExclusions(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "suite-exclusions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			t.Errorf("exclusion %s has no reason", id)
		}
		ex[id] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ex
}

// suiteOptions are the options the suite runs with: the R4 model, and the strict checks for the tests
// in strict mode.
func suiteOptions(strict bool) fhirpath.Options {
	return fhirpath.Options{Model: fhir.PathModel(), Strict: strict}
}

// TestOfficialSuite runs every test of the official FHIRPath R4 suite. A failing test must be listed
// in testdata/suite-exclusions.txt with its reason, and a listed test must fail.
func TestOfficialSuite(t *testing.T) {
	dir := suiteDir(t)
	cases := loadSuite(t, dir)
	excluded := loadExclusions(t)
	inputs := map[string]any{}
	passed := 0
	var unexpected []string
	for _, c := range cases {
		if _, ok := inputs[c.input]; !ok && c.input != "" {
			data, err := os.ReadFile(filepath.Join(dir, "input", c.input))
			if err != nil {
				t.Fatal(err)
			}
			inputs[c.input] = decodeJSON(t, data)
		}
		reason := runSuiteCase(c, inputs[c.input])
		if len(reason) > 300 {
			reason = reason[:300] + "..."
		}
		_, listed := excluded[c.id]
		delete(excluded, c.id)
		t.Run(c.id, func(t *testing.T) {
			switch {
			case reason == "" && listed:
				t.Errorf("passes but is listed in suite-exclusions.txt: remove it")
			case reason != "" && !listed:
				t.Errorf("%s: %s", c.expr, reason)
			case reason != "":
				t.Skipf("excluded: %s", reason)
			}
		})
		if reason == "" {
			passed++
		} else if !listed {
			unexpected = append(unexpected, c.id)
		}
	}
	for id := range excluded {
		t.Errorf("suite-exclusions.txt lists %s, which is not in the suite", id)
	}
	t.Logf("official FHIRPath suite: %d/%d pass", passed, len(cases))
	if passed < suiteFloor {
		t.Errorf("%d tests pass, fewer than the floor %d", passed, suiteFloor)
	}
	sort.Strings(unexpected)
	if len(unexpected) > 0 {
		t.Logf("failing and not excluded (%d): %s", len(unexpected), strings.Join(unexpected, " "))
	}
}

// runSuiteCase runs one test and returns why it fails, or "".
func runSuiteCase(c suiteCase, input any) string {
	e, err := fhirpath.CompileWith(c.expr, suiteOptions(c.strict))
	if err != nil {
		if c.invalid != "" {
			return ""
		}
		return "compile: " + err.Error()
	}
	if c.invalid == "syntax" {
		return "compiles, want a syntax error"
	}
	res, err := e.Evaluate(input)
	if err != nil {
		if c.invalid != "" {
			return ""
		}
		return "evaluate: " + err.Error()
	}
	if c.invalid != "" {
		return fmt.Sprintf("evaluates to %v, want a %s error", suiteStrings(res), c.invalid)
	}
	got := suiteStrings(res)
	if c.predicate {
		got = []string{fmt.Sprint(len(res) > 0)}
	}
	if len(got) != len(c.outputs) {
		return fmt.Sprintf("got %q, want %s", got, wantString(c.outputs))
	}
	for i, o := range c.outputs {
		if !sameOutput(got[i], o) {
			return fmt.Sprintf("got %q, want %s", got, wantString(c.outputs))
		}
	}
	return ""
}

func wantString(outs []suiteOutput) string {
	s := make([]string, len(outs))
	for i, o := range outs {
		s[i] = o.text
	}
	return fmt.Sprintf("%q", s)
}

// suiteStrings renders results the way the suite writes outputs: dates with @, quantities as
// value 'unit'.
func suiteStrings(nodes []fhirpath.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = fhirpath.Format(n)
	}
	return out
}

// sameOutput compares a rendered result with an expected output: numbers by value, anything else by
// text.
func sameOutput(got string, o suiteOutput) bool {
	want := strings.TrimSpace(o.text)
	if got == want {
		return true
	}
	switch o.typ {
	case "integer", "decimal", "":
		g, ok1 := new(big.Rat).SetString(got)
		w, ok2 := new(big.Rat).SetString(want)
		return ok1 && ok2 && g.Cmp(w) == 0 && o.typ != ""
	}
	return false
}

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
