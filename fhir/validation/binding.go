package validation

import (
	"fmt"
	"strings"
)

// valueSet is the expansion of a value set, ready for look-ups.
type valueSet struct {
	url   string
	codes map[string]map[string]bool // system -> code
	any   map[string]bool            // every code, whatever its system
}

// valueSets holds the expansions of expansionTable ready for look-ups, built with the type index.
var valueSets map[string]*valueSet

func buildValueSets() {
	valueSets = make(map[string]*valueSet, len(expansionTable))
	for url, groups := range expansionTable {
		vs := &valueSet{url: url, codes: map[string]map[string]bool{}, any: map[string]bool{}}
		for _, g := range groups {
			set := map[string]bool{}
			for _, c := range strings.Split(g.codes, "\n") {
				set[c] = true
				vs.any[c] = true
			}
			vs.codes[g.system] = set
		}
		valueSets[url] = vs
	}
}

// valueSetOf returns the expansion of the value set at url, or nil when the core package does not
// enumerate it.
func valueSetOf(url string) *valueSet {
	types() // builds valueSets
	return valueSets[url]
}

func (vs *valueSet) has(system, code string) bool {
	return vs.codes[system][code]
}

// severity returns the severity of a code outside the value set of a binding, and whether the walk
// reports it at all.
func (w *walker) severity(b *binding) (string, bool) {
	switch b.strength {
	case required:
		return "error", true
	case extensible, preferred:
		return "warning", w.all
	}
	return "", false
}

func strengthName(s strength) string {
	switch s {
	case required:
		return "required"
	case extensible:
		return "extensible"
	}
	return "preferred"
}

// checkBinding checks a code element's value against its binding.
func (w *walker) checkBinding(f *field, code string) {
	sev, report := w.severity(f.binding)
	if !report {
		return
	}
	vs := valueSetOf(f.binding.valueSet)
	if vs == nil || vs.any[code] {
		return
	}
	w.add(sev, "code-invalid", fmt.Sprintf("the code is not in the value set of the %s binding of %s (%s)",
		strengthName(f.binding.strength), f.el.Path, f.binding.valueSet), fmt.Sprintf("code %q", code))
}

// checkCoding checks a Coding (system and code) against its element's binding. A Coding without a code
// says nothing to check.
func (w *walker) checkCoding(f *field, obj map[string]any) {
	sev, report := w.severity(f.binding)
	if !report {
		return
	}
	vs := valueSetOf(f.binding.valueSet)
	if vs == nil {
		return
	}
	code, _ := obj["code"].(string)
	system, _ := obj["system"].(string)
	if code == "" || vs.has(system, code) {
		return
	}
	w.add(sev, "code-invalid", fmt.Sprintf("the coding is not in the value set of the %s binding of %s (%s)",
		strengthName(f.binding.strength), f.el.Path, f.binding.valueSet), fmt.Sprintf("system %q, code %q", system, code))
}

// checkConcept checks a CodeableConcept against its element's binding: one of its codings at least must be
// in the value set. A concept with no coding that has a code (text alone) is not checked.
func (w *walker) checkConcept(f *field, obj map[string]any) {
	sev, report := w.severity(f.binding)
	if !report {
		return
	}
	vs := valueSetOf(f.binding.valueSet)
	if vs == nil {
		return
	}
	codings, _ := obj["coding"].([]any)
	var seen []string
	for _, c := range codings {
		m, _ := c.(map[string]any)
		code, _ := m["code"].(string)
		if code == "" {
			continue
		}
		system, _ := m["system"].(string)
		if vs.has(system, code) {
			return
		}
		seen = append(seen, fmt.Sprintf("%s|%s", system, code))
	}
	if len(seen) == 0 {
		return
	}
	w.add(sev, "code-invalid", fmt.Sprintf("no coding is in the value set of the %s binding of %s (%s)",
		strengthName(f.binding.strength), f.el.Path, f.binding.valueSet), "codings "+strings.Join(seen, ", "))
}
