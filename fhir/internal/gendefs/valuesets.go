package main

import (
	"sort"
	"strings"
)

type valueSet struct {
	URL     string `json:"url"`
	Compose *struct {
		Include []vsInclude `json:"include"`
		Exclude []vsInclude `json:"exclude"`
	} `json:"compose"`
}

type vsInclude struct {
	System  string `json:"system"`
	Concept []struct {
		Code string `json:"code"`
	} `json:"concept"`
	Filter []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter"`
	ValueSet []string `json:"valueSet"`
}

type codeSystem struct {
	URL              string      `json:"url"`
	Content          string      `json:"content"`
	HierarchyMeaning string      `json:"hierarchyMeaning"`
	Concept          []csConcept `json:"concept"`
}

type csConcept struct {
	Code    string      `json:"code"`
	Concept []csConcept `json:"concept"`
}

// expansion is the set of codes of a ValueSet, by system.
type expansion map[string]map[string]bool

func (e expansion) add(system, code string) {
	if e[system] == nil {
		e[system] = map[string]bool{}
	}
	e[system][code] = true
}

// expand enumerates the ValueSet at url from the package alone. It succeeds when every include is a list
// of concepts, a whole CodeSystem of the package whose content is complete, a simple is-a filter on the
// hierarchy of such a CodeSystem, or another ValueSet that expands; an exclude must be of listed concepts.
// Anything else (a system outside the package such as SNOMED CT, LOINC, UCUM or BCP-47, a CodeSystem
// that is not complete, another filter) makes the ValueSet not enumerable: its binding is not checked.
func (p *corePackage) expand(url string, seen map[string]bool) (expansion, bool) {
	vs := p.valueSets[canonical(url)]
	if vs == nil || vs.Compose == nil || seen[vs.URL] {
		return nil, false
	}
	seen[vs.URL] = true
	defer delete(seen, vs.URL)
	out := expansion{}
	for _, inc := range vs.Compose.Include {
		part, ok := p.expandInclude(inc, seen)
		if !ok {
			return nil, false
		}
		for sys, codes := range part {
			for c := range codes {
				out.add(sys, c)
			}
		}
	}
	for _, exc := range vs.Compose.Exclude {
		if exc.System == "" || len(exc.Concept) == 0 || len(exc.Filter) > 0 || len(exc.ValueSet) > 0 {
			return nil, false
		}
		for _, c := range exc.Concept {
			delete(out[exc.System], c.Code)
		}
	}
	return out, len(out) > 0
}

func (p *corePackage) expandInclude(inc vsInclude, seen map[string]bool) (expansion, bool) {
	out := expansion{}
	if inc.System == "" {
		if len(inc.ValueSet) == 0 {
			return nil, false
		}
		for _, u := range inc.ValueSet {
			part, ok := p.expand(u, seen)
			if !ok {
				return nil, false
			}
			for sys, codes := range part {
				for c := range codes {
					out.add(sys, c)
				}
			}
		}
		return out, true
	}
	if len(inc.ValueSet) > 0 { // an intersection with other value sets: not worth enumerating
		return nil, false
	}
	if len(inc.Concept) > 0 {
		if len(inc.Filter) > 0 {
			return nil, false
		}
		for _, c := range inc.Concept {
			out.add(inc.System, c.Code)
		}
		return out, true
	}
	cs := p.codeSystems[inc.System]
	if cs == nil || cs.Content != "complete" {
		return nil, false
	}
	switch {
	case len(inc.Filter) == 0:
		walkConcepts(cs.Concept, func(c csConcept) { out.add(inc.System, c.Code) })
	case len(inc.Filter) == 1 && inc.Filter[0].Op == "is-a" && inc.Filter[0].Property == "concept" &&
		(cs.HierarchyMeaning == "" || cs.HierarchyMeaning == "is-a"):
		var root *csConcept
		walkConcepts(cs.Concept, func(c csConcept) {
			if c.Code == inc.Filter[0].Value && root == nil {
				root = &c
			}
		})
		if root == nil {
			return nil, false
		}
		walkConcepts([]csConcept{*root}, func(c csConcept) { out.add(inc.System, c.Code) })
	default:
		return nil, false
	}
	return out, true
}

func walkConcepts(cs []csConcept, f func(csConcept)) {
	for _, c := range cs {
		f(c)
		walkConcepts(c.Concept, f)
	}
}

// codeGroups renders an expansion as sorted (system, codes) pairs, the codes sorted and joined by a
// newline.
func (e expansion) codeGroups() [][2]string {
	var out [][2]string
	systems := make([]string, 0, len(e))
	for s := range e {
		systems = append(systems, s)
	}
	sort.Strings(systems)
	for _, s := range systems {
		codes := make([]string, 0, len(e[s]))
		for c := range e[s] {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		out = append(out, [2]string{s, strings.Join(codes, "\n")})
	}
	return out
}
