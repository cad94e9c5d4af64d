// Command genprofiles generates fhir/profile/core.json.gz, the core R4 profiles the server validates
// against without reading the definitions at run time: the constraint StructureDefinitions on resources
// and data types of hl7.fhir.r4.core (vitalsigns, bodyweight, bp, ...), each reduced to the snapshot
// elements that constrain something beyond the base definition (a slice, a cardinality, a fixed or
// pattern value, a required binding to another value set, an invariant of the profile's own), the
// expansions of the value sets those bindings name when they can be expanded from the definitions
// (explicit concepts, or every concept of a complete code system), and the value sets that base
// definitions bind required (the R4 validator checks those already). Output is deterministic.
//
//	go run ./fhir/internal/genprofiles -defs ../shared/fhir-r4/definitions/core -out fhir/profile/core.json.gz
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sd is the part of a StructureDefinition the generator reads.
type sd struct {
	URL            string `json:"url"`
	Version        string `json:"version,omitempty"`
	ID             string `json:"id,omitempty"`
	Name           string `json:"name,omitempty"`
	Type           string `json:"type"`
	Kind           string `json:"kind,omitempty"`
	Derivation     string `json:"derivation,omitempty"`
	BaseDefinition string `json:"baseDefinition,omitempty"`
	Snapshot       struct {
		Element []map[string]json.RawMessage `json:"element"`
	} `json:"snapshot"`
}

// out is the generated file's content (see fhir/profile's coreData).
type out struct {
	Profiles     []*sd               `json:"profiles"`
	ValueSets    map[string][]string `json:"valueSets"`
	BaseRequired []string            `json:"baseRequired"`
}

func main() {
	defs := flag.String("defs", "", "directory holding the R4 core package's StructureDefinition-, ValueSet- and CodeSystem- files")
	outFile := flag.String("out", "core.json.gz", "output file")
	flag.Parse()
	if *defs == "" {
		log.Fatal("genprofiles: -defs is required")
	}
	files, err := filepath.Glob(filepath.Join(*defs, "StructureDefinition-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("genprofiles: no StructureDefinitions in %s", *defs)
	}
	sort.Strings(files)
	base := map[string]*sd{} // by url, the specializations
	var profiles []*sd
	for _, f := range files {
		var d sd
		read(f, &d)
		switch {
		case d.Derivation == "specialization":
			base[d.URL] = &d
		case d.Derivation == "constraint" && d.Type != "Extension" && (d.Kind == "resource" || d.Kind == "complex-type") &&
			len(d.Snapshot.Element) > 0: // two (example-composition, example-section-library) are published without one
			profiles = append(profiles, &d)
		}
	}
	baseReq := map[string]bool{}
	baseElems := map[string]map[string]json.RawMessage{} // by path
	for _, d := range base {
		for _, e := range d.Snapshot.Element {
			baseElems[str(e["path"])] = e
			if vs, ok := requiredVS(e); ok {
				baseReq[vs] = true
			}
		}
	}
	vsWanted := map[string]bool{}
	result := out{ValueSets: map[string][]string{}}
	for _, p := range profiles {
		var kept []map[string]json.RawMessage
		for _, e := range p.Snapshot.Element {
			if t := trim(e, baseElems[str(e["path"])], p.URL); t != nil {
				kept = append(kept, t)
				if vs, ok := requiredVS(t); ok {
					vsWanted[vs] = true
				}
			}
		}
		p.Snapshot.Element = kept
		p.Kind, p.Derivation = "", "constraint"
		result.Profiles = append(result.Profiles, p)
	}
	vsFiles, _ := filepath.Glob(filepath.Join(*defs, "ValueSet-*.json"))
	csFiles, _ := filepath.Glob(filepath.Join(*defs, "CodeSystem-*.json"))
	codeSystems := map[string][]string{}
	for _, f := range csFiles {
		var cs struct {
			URL     string    `json:"url"`
			Content string    `json:"content"`
			Concept []concept `json:"concept"`
		}
		read(f, &cs)
		if cs.Content == "complete" {
			codeSystems[cs.URL] = codes(cs.Concept, nil)
		}
	}
	for _, f := range vsFiles {
		var vs struct {
			URL     string `json:"url"`
			Compose struct {
				Include []struct {
					System   string            `json:"system"`
					Concept  []concept         `json:"concept"`
					Filter   []json.RawMessage `json:"filter"`
					ValueSet []string          `json:"valueSet"`
				} `json:"include"`
				Exclude []json.RawMessage `json:"exclude"`
			} `json:"compose"`
		}
		read(f, &vs)
		if !vsWanted[vs.URL] || len(vs.Compose.Exclude) > 0 || len(vs.Compose.Include) == 0 {
			continue
		}
		var all []string
		ok := true
		for _, inc := range vs.Compose.Include {
			switch {
			case len(inc.Filter) > 0 || len(inc.ValueSet) > 0 || inc.System == "":
				ok = false
			case len(inc.Concept) > 0:
				for _, c := range inc.Concept {
					all = append(all, inc.System+"|"+c.Code)
				}
			case codeSystems[inc.System] != nil:
				for _, c := range codeSystems[inc.System] {
					all = append(all, inc.System+"|"+c)
				}
			default:
				ok = false
			}
		}
		if ok {
			sort.Strings(all)
			result.ValueSets[vs.URL] = all
		}
	}
	for vs := range baseReq {
		result.BaseRequired = append(result.BaseRequired, vs)
	}
	sort.Strings(result.BaseRequired)

	raw, err := json.Marshal(result)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*outFile, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("genprofiles: %d profiles, %d value sets, %d bytes (%d uncompressed)\n",
		len(result.Profiles), len(result.ValueSets), buf.Len(), len(raw))
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

func codes(cs []concept, into []string) []string {
	for _, c := range cs {
		into = append(codes(c.Concept, into), c.Code)
	}
	return into
}

// requiredVS returns the value set (without version) of an element's required binding.
func requiredVS(e map[string]json.RawMessage) (string, bool) {
	var b struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	}
	if raw, ok := e["binding"]; !ok || json.Unmarshal(raw, &b) != nil || b.Strength != "required" || b.ValueSet == "" {
		return "", false
	}
	vs, _, _ := strings.Cut(b.ValueSet, "|")
	return vs, true
}

// trim returns the part of a profile's element the validator needs, or nil when the element constrains
// nothing beyond its base (the validator builds the missing parents of what it keeps); the root is kept.
func trim(e, base map[string]json.RawMessage, profileURL string) map[string]json.RawMessage {
	t := map[string]json.RawMessage{}
	keep := false
	for _, k := range []string{"id", "path", "min", "max", "type"} {
		if v, ok := e[k]; ok {
			t[k] = v
		}
	}
	for k, v := range e {
		if strings.HasPrefix(k, "fixed") || strings.HasPrefix(k, "pattern") || k == "sliceName" || k == "slicing" {
			t[k] = v
			keep = true
		}
	}
	if base == nil || !strings.Contains(str(e["path"]), ".") || string(e["min"]) != string(base["min"]) || string(e["max"]) != string(base["max"]) {
		keep = true
	}
	if vs, ok := requiredVS(e); ok {
		if bvs, _ := requiredVS(base); bvs != vs {
			t["binding"] = e["binding"]
			keep = true
		}
	}
	var cons []map[string]json.RawMessage
	if raw, ok := e["constraint"]; ok {
		var all []map[string]json.RawMessage
		if json.Unmarshal(raw, &all) == nil {
			for _, c := range all {
				if own(str(c["source"]), profileURL) {
					kc := map[string]json.RawMessage{}
					for _, k := range []string{"key", "severity", "human", "expression", "source"} {
						if v, ok := c[k]; ok {
							kc[k] = v
						}
					}
					cons = append(cons, kc)
				}
			}
		}
	}
	if len(cons) > 0 {
		b, _ := json.Marshal(cons)
		t["constraint"] = b
		keep = true
	}
	if !keep {
		return nil
	}
	return t
}

// own reports whether a constraint's source is a profile rather than a base definition (those the R4
// validator already holds): no source, or a source that is not the definition of a type.
func own(source, profileURL string) bool {
	const core = "http://hl7.org/fhir/StructureDefinition/"
	if source == "" || source == profileURL {
		return true
	}
	name, ok := strings.CutPrefix(source, core)
	return !ok || name == "" || name[0] < 'A' || name[0] > 'Z'
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func read(path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		log.Fatalf("genprofiles: %s: %v", path, err)
	}
}
