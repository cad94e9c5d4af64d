// Command gendefs generates fhirgate's tables of FHIR R4 definitions from the official R4 definition
// files, so that the binary never reads them at run time:
//
//   - fhir/model_gen.go: the concrete resource types, and every element of every resource and data type
//     (path, types, cardinality, summary and modifier flags, content references), from
//     profiles-resources.json and profiles-types.json.
//
// Usage (see the go:generate line in fhir/generate.go):
//
//	go run ./fhir/internal/gendefs -resources PATH/profiles-resources.json -types PATH/profiles-types.json \
//		-resource-types PATH/resource-types.json -out fhir/model_gen.go
//
// profiles-types.json is in the shared R4 definitions (../shared/fhir-r4/definitions). profiles-resources.json
// is the official R4 4.0.1 bundle of resource StructureDefinitions (package hl7.fhir.r4.core). The same
// definitions are one file each in ../shared/fhir-r4/definitions/core; a bundle of those of kind "resource"
// serves as well:
//
//	jq -s '{resourceType:"Bundle",type:"collection",entry:[.[]|select(.kind=="resource")|{resource:.}]}' \
//		../shared/fhir-r4/definitions/core/StructureDefinition-*.json > /tmp/profiles-resources.json
//
// Copies of the file in other packages may add elements and types of their own: take the official one.
// Both files are read only here, at generation time.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"sort"
	"strings"
)

type bundle struct {
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type structureDefinition struct {
	ResourceType   string `json:"resourceType"`
	ID             string `json:"id"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	Snapshot       struct {
		Element []elementDefinition `json:"element"`
	} `json:"snapshot"`
}

type elementDefinition struct {
	Path             string `json:"path"`
	Min              int    `json:"min"`
	Max              string `json:"max"`
	IsSummary        bool   `json:"isSummary"`
	IsModifier       bool   `json:"isModifier"`
	ContentReference string `json:"contentReference"`
	Type             []struct {
		Code          string   `json:"code"`
		TargetProfile []string `json:"targetProfile"`
		Extension     []struct {
			URL      string `json:"url"`
			ValueURL string `json:"valueUrl"`
		} `json:"extension"`
	} `json:"type"`
}

type row struct {
	path, types, targets, ref string
	min, max                  int
	summary, modifier, choice bool
}

func main() {
	resources := flag.String("resources", "", "path of the R4 profiles-resources.json")
	types := flag.String("types", "", "path of the R4 profiles-types.json")
	official := flag.String("resource-types", "", "path of resource-types.json (the 146 concrete R4 resource types)")
	out := flag.String("out", "model_gen.go", "output file")
	flag.Parse()
	if *resources == "" || *types == "" || *official == "" {
		log.Fatal("gendefs: -resources, -types and -resource-types are required")
	}
	// Only the official R4 resource types are generated, even if the resources file carries more.
	var officialTypes []string
	if b, err := os.ReadFile(*official); err != nil {
		log.Fatalf("gendefs: %v", err)
	} else if err := json.Unmarshal(b, &officialTypes); err != nil {
		log.Fatalf("gendefs: %s: %v", *official, err)
	}
	isOfficial := map[string]bool{}
	for _, t := range officialTypes {
		isOfficial[t] = true
	}
	var rows []row
	var resourceTypes []string
	for _, file := range []string{*types, *resources} {
		sds, err := load(file)
		if err != nil {
			log.Fatalf("gendefs: %v", err)
		}
		for _, sd := range sds {
			if sd.Kind == "resource" && !sd.Abstract && sd.Derivation == "specialization" {
				if !isOfficial[sd.Type] {
					continue
				}
				resourceTypes = append(resourceTypes, sd.Type)
			}
			// Constrained types (SimpleQuantity, MoneyQuantity) reuse their base paths; skip them.
			if sd.Derivation == "constraint" {
				continue
			}
			for _, el := range sd.Snapshot.Element {
				if !strings.Contains(el.Path, ".") {
					continue
				}
				r, err := toRow(el)
				if err != nil {
					log.Fatalf("gendefs: %v", err)
				}
				rows = append(rows, r)
			}
		}
	}
	sort.Strings(resourceTypes)
	sort.Slice(rows, func(i, j int) bool { return rows[i].path < rows[j].path })
	src, err := render(resourceTypes, rows)
	if err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gendefs: %v", err)
	}
	log.Printf("gendefs: %d resource types, %d elements -> %s", len(resourceTypes), len(rows), *out)
}

func load(file string) ([]structureDefinition, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var bu bundle
	if err := json.Unmarshal(b, &bu); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []structureDefinition
	for _, e := range bu.Entry {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(e.Resource, &head); err != nil || head.ResourceType != "StructureDefinition" {
			continue
		}
		var sd structureDefinition
		if err := json.Unmarshal(e.Resource, &sd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, sd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no StructureDefinitions", file)
	}
	return out, nil
}

func toRow(el elementDefinition) (row, error) {
	r := row{path: el.Path, min: el.Min, summary: el.IsSummary, modifier: el.IsModifier}
	if el.Max == "*" {
		r.max = -1
	} else if _, err := fmt.Sscanf(el.Max, "%d", &r.max); err != nil {
		return row{}, fmt.Errorf("%s: max %q: %w", el.Path, el.Max, err)
	}
	if strings.HasSuffix(r.path, "[x]") {
		r.path = strings.TrimSuffix(r.path, "[x]")
		r.choice = true
	}
	if el.ContentReference != "" {
		r.ref = strings.TrimPrefix(el.ContentReference, "#")
	}
	var codes, targets []string
	for _, t := range el.Type {
		code := t.Code
		// Primitive "id"/"extension.url" etc. carry their FHIRPath type in an extension.
		if strings.HasPrefix(code, "http://hl7.org/fhirpath/System.") {
			code = "System." + strings.TrimPrefix(code, "http://hl7.org/fhirpath/System.")
		}
		codes = append(codes, code)
		for _, p := range t.TargetProfile {
			targets = append(targets, strings.TrimPrefix(p, "http://hl7.org/fhir/StructureDefinition/"))
		}
	}
	r.types = strings.Join(codes, "|")
	r.targets = strings.Join(dedupe(targets), "|")
	return r, nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func render(resourceTypes []string, rows []row) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by fhir/internal/gendefs from the FHIR R4 4.0.1 definitions; DO NOT EDIT.\n\n")
	b.WriteString("package fhir\n\n")
	b.WriteString("// resourceTypes lists the concrete R4 resource types, sorted.\n")
	b.WriteString("var resourceTypes = [...]string{\n")
	for _, t := range resourceTypes {
		fmt.Fprintf(&b, "\t%q,\n", t)
	}
	b.WriteString("}\n\n")
	b.WriteString("// elementTable lists every element of every resource and data type, sorted by path.\n")
	b.WriteString("var elementTable = [...]Element{\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "\t{Path: %q, Types: %q, Min: %d, Max: %d", r.path, r.types, r.min, r.max)
		if r.targets != "" {
			fmt.Fprintf(&b, ", Targets: %q", r.targets)
		}
		if r.ref != "" {
			fmt.Fprintf(&b, ", ContentRef: %q", r.ref)
		}
		if r.summary {
			b.WriteString(", Summary: true")
		}
		if r.modifier {
			b.WriteString(", Modifier: true")
		}
		if r.choice {
			b.WriteString(", Choice: true")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
