package search

import (
	"context"
	"fmt"
	"strings"

	"fhirgate/fhir/store"
)

// patientsOf returns the patients a resource is about (see Facts.Patients); values gives the resource's
// index values of a parameter.
func patientsOf(typ, id string, values func(param string) [][]byte) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ref string) {
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	if typ == "Patient" {
		add("Patient/" + id)
	}
	params := CompartmentParams(typ)
	if len(params) == 0 && typ != "Patient" {
		for _, p := range Params(typ) {
			if p.Type == Reference && p.Indexed {
				params = append(params, p.Code)
			}
		}
	}
	for _, p := range params {
		for _, v := range values(p) {
			if len(v) > 1 && v[0] == kRef && strings.HasPrefix(string(v[1:]), "Patient/") {
				add(string(v[1:]))
			}
		}
	}
	return out
}

// valuesOf returns a values function over index entries (a write being checked, a candidate's stored
// list). A decision asks for a few parameters of a list of a few dozen entries: a scan per question costs
// less than building a map of them all.
func valuesOf(entries []store.IndexEntry) func(param string) [][]byte {
	return func(param string) [][]byte {
		var out [][]byte
		for _, e := range entries {
			if e.Param == param {
				out = append(out, e.Value)
			}
		}
		return out
	}
}

// storedValues returns a values function over a stored resource's index, and the error of reading it
// (set on the first question, which reads the resource's whole index list: the compartment and consent
// checks ask several parameters of each resource).
func (e *Engine) storedValues(ctx context.Context, typ, id string, failed *error) func(param string) [][]byte {
	var values func(string) [][]byte
	return func(param string) [][]byte {
		if values == nil {
			lists, err := e.st.IndexEntriesMany(ctx, typ, []string{id})
			if err == nil && len(lists) != 1 {
				err = fmt.Errorf("search: the index of a %s could not be read", typ)
			}
			if err != nil {
				*failed = err
				return nil
			}
			values = valuesOf(lists[0])
		}
		return values(param)
	}
}
