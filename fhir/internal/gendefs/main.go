// Command gendefs generates fhirgate's tables of FHIR R4 definitions from the official R4 core package
// (hl7.fhir.r4.core 4.0.1, one JSON file per StructureDefinition, ValueSet and CodeSystem), so that the
// binary never reads them at run time:
//
//   - fhir/model_gen.go: the concrete resource types, and every element of every resource and data type
//     (path, types, cardinality, summary and modifier flags, content references);
//   - fhir/validation/defs_gen.go: what the validator needs beyond the elements: the regular expression of
//     each primitive type's value, the binding (strength and ValueSet) of every coded element, and the
//     expansions of the ValueSets of required, extensible and preferred bindings that can be enumerated
//     from the package alone (see valuesets.go).
//
// Usage (see the go:generate line in fhir/generate.go):
//
//	go run ./fhir/internal/gendefs -core ../shared/fhir-r4/definitions/core \
//		-out fhir/model_gen.go -validation-out fhir/validation/defs_gen.go
//
// Only the core package's files are read, and only here, at generation time. The output is deterministic:
// every table is sorted.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	core := flag.String("core", "", "directory of the R4 core package (StructureDefinition-*.json, ValueSet-*.json, CodeSystem-*.json)")
	out := flag.String("out", "model_gen.go", "output file of the element tables (package fhir)")
	valOut := flag.String("validation-out", "", "output file of the validation tables (package validation)")
	flag.Parse()
	if *core == "" {
		log.Fatal("gendefs: -core is required")
	}
	pkg, err := loadPackage(*core)
	if err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	resourceTypes, rows := modelRows(pkg.structures)
	src, err := renderModel(resourceTypes, rows)
	if err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	log.Printf("gendefs: %d resource types, %d elements -> %s", len(resourceTypes), len(rows), *out)
	if *valOut == "" {
		return
	}
	tables := validationTables(pkg)
	src, err = renderValidation(tables)
	if err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	if err := os.WriteFile(*valOut, src, 0o644); err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	log.Printf("gendefs: %d primitive types, %d bindings, %d value sets expanded (%d not enumerable) -> %s",
		len(tables.regex), len(tables.bindings), len(tables.expansions), len(tables.unexpanded), *valOut)
}

// corePackage is what the generator reads of the core package.
type corePackage struct {
	structures  []structureDefinition
	valueSets   map[string]*valueSet   // by canonical URL, without version
	codeSystems map[string]*codeSystem // by canonical URL
}

func loadPackage(dir string) (*corePackage, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	pkg := &corePackage{valueSets: map[string]*valueSet{}, codeSystems: map[string]*codeSystem{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		switch head.ResourceType {
		case "StructureDefinition":
			var sd structureDefinition
			if err := json.Unmarshal(b, &sd); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			pkg.structures = append(pkg.structures, sd)
		case "ValueSet":
			vs := new(valueSet)
			if err := json.Unmarshal(b, vs); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			pkg.valueSets[vs.URL] = vs
		case "CodeSystem":
			cs := new(codeSystem)
			if err := json.Unmarshal(b, cs); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			pkg.codeSystems[cs.URL] = cs
		}
	}
	if len(pkg.structures) == 0 {
		return nil, fmt.Errorf("%s: no StructureDefinitions", dir)
	}
	return pkg, nil
}

// canonical strips the version of a canonical reference ("...|4.0.1").
func canonical(u string) string {
	if i := strings.IndexByte(u, '|'); i >= 0 {
		return u[:i]
	}
	return u
}
