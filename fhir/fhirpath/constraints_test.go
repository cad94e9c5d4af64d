package fhirpath_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"fhirgate/fhir/fhirpath"
	"fhirgate/internal/sharedtest"
)

// TestCoreConstraintsCompile compiles the expression of every constraint of every core
// StructureDefinition. Those that cannot compile must be listed, with a reason, in
// testdata/constraint-exclusions.txt ("key reason" per line).
func TestCoreConstraintsCompile(t *testing.T) {
	dir := sharedtest.Path(t, "definitions", "core")
	files, err := filepath.Glob(filepath.Join(dir, "StructureDefinition-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no StructureDefinition in %s", dir)
	}
	excluded := map[string]bool{}
	if f, err := os.Open(filepath.Join("testdata", "constraint-exclusions.txt")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				key, _, _ := strings.Cut(line, " ")
				excluded[key] = true
			}
		}
		f.Close()
	}
	total, failed := 0, 0
	var failures []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var sd struct {
			URL      string `json:"url"`
			Snapshot struct {
				Element []struct {
					Path       string `json:"path"`
					Constraint []struct {
						Key        string `json:"key"`
						Expression string `json:"expression"`
					} `json:"constraint"`
				} `json:"element"`
			} `json:"snapshot"`
		}
		if err := json.Unmarshal(data, &sd); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, el := range sd.Snapshot.Element {
			for _, c := range el.Constraint {
				if c.Expression == "" {
					continue
				}
				total++
				if _, err := fhirpath.Compile(c.Expression); err != nil {
					failed++
					id := filepath.Base(file) + "#" + el.Path + "/" + c.Key
					if !excluded[c.Key] {
						failures = append(failures, id+": "+c.Expression+": "+err.Error())
					}
				}
			}
		}
	}
	sort.Strings(failures)
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("core constraints: %d of %d compile", total-failed, total)
}
