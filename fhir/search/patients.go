package search

import (
	"context"
	"net/url"
	"strings"

	"fhirgate/fhir/store"
)

// Patients returns the patients a resource is about ("Patient/123"): for a type of the Patient
// compartment, the patients its compartment parameters reference (a Patient is about itself); for any
// other type, the patients any of its reference parameters point to (a Device's patient, a Provenance's
// target...). values gives the resource's index values of a parameter.
func Patients(typ, id string, values func(param string) [][]byte) []string {
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

// EntriesValues returns a values function over index entries not yet stored (a write being checked).
// A filter asks for a few parameters of a list of a few dozen entries: a scan per question costs less
// than building a map of them all.
func EntriesValues(entries []store.IndexEntry) func(param string) [][]byte {
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

// StoredValues returns a values function over a stored resource's index.
// The resource's whole index list is read once, on the first question: the compartment and consent
// checks ask several parameters of each resource.
func (e *Engine) StoredValues(ctx context.Context, typ, id string) func(param string) [][]byte {
	var values func(string) [][]byte
	return func(param string) [][]byte {
		if values == nil {
			lists, err := e.st.IndexEntriesMany(ctx, typ, []string{id})
			if err != nil || len(lists) != 1 {
				return nil // an unreadable index gives no values, so nothing is admitted on them
			}
			values = EntriesValues(lists[0])
		}
		return values(param)
	}
}

// Satisfies reports whether a resource (given by its index values) matches search parameters, as a
// search would: each parameter must match (AND), each of its values may (OR). Chains, _has and result
// parameters are not allowed here (granular scopes are plain parameters).
func (e *Engine) Satisfies(ctx context.Context, typ, id string, values func(param string) [][]byte, params url.Values) (bool, error) {
	q, err := ParseQuery([]string{typ}, params, Options{DefaultCount: 1, MaxCount: 1, Strict: true})
	if err != nil {
		return false, err
	}
	for _, c := range q.Clauses {
		if c.Chain != nil || c.Has != nil {
			return false, invalid(c.Name, "chains are not allowed here")
		}
		cc, err := e.compile(ctx, typ, c, nil)
		if err != nil {
			return false, err
		}
		if cc.updated != nil {
			continue
		}
		if !cc.accepts(id, values) {
			return false, nil
		}
	}
	return true, nil
}
