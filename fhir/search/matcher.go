package search

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// Matcher checks resources one at a time against the criteria of a search on one type: the same parse,
// the same compiled clauses and the same index values as Search, for callers that already hold the
// resources (a bulk export's _typeFilter). Chained and reverse-chained clauses are resolved once, when
// the Matcher is made, through the filter given then.
type Matcher struct {
	typ     string
	clauses []*compiledClause
	e       *Engine
}

// resultParams are the parameters that shape a search's answer rather than select resources: a Matcher
// has no answer to shape, so they are refused.
var resultParams = []string{"_count", "_cursor", "_sort", "_total", "_summary", "_elements", "_include",
	"_revinclude", "_type", "_format", "_pretty", "_contained", "_containedType"}

// NewMatcher parses params as a search on typ (strictly: an unknown or unsupported parameter is an error
// naming it) and compiles it for Matches. filter decides what chains and _has may see.
func (e *Engine) NewMatcher(ctx context.Context, typ string, params url.Values, filter Filter) (*Matcher, error) {
	for name := range params {
		base, _, _ := strings.Cut(name, ":")
		for _, r := range resultParams {
			if base == r {
				return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
					Expression: name, Details: "the parameter " + name + " selects no resources and cannot be used as a criterion"}
			}
		}
	}
	q, err := ParseQuery([]string{typ}, params, Options{Strict: true})
	if err != nil {
		return nil, err
	}
	m := &Matcher{typ: typ, e: e}
	for _, c := range q.Clauses {
		cc, err := e.compile(ctx, typ, c, filter)
		if err != nil {
			return nil, err
		}
		m.clauses = append(m.clauses, cc)
	}
	return m, nil
}

// Matches reports whether the resource f describes satisfies every clause. A resource of another type, or
// whose index values cannot be read, does not match.
func (m *Matcher) Matches(f *Facts) bool {
	if f.Type != m.typ || f.values == nil {
		return false
	}
	for _, cc := range m.clauses {
		if cc.updated != nil {
			if f.Version == nil || !m.e.updatedOK([]*compiledClause{cc}, f.Version) {
				return false
			}
			continue
		}
		if !cc.accepts(f.ID, f.values) {
			return false
		}
	}
	return f.err == nil
}

// MatchAny reports, for each of vs (current versions of resources of typ), whether it matches one of ms
// (matchers of typ), reading their index values in one store call.
func (e *Engine) MatchAny(ctx context.Context, typ string, ms []*Matcher, vs []*store.Version) ([]bool, error) {
	ids := make([]string, len(vs))
	for i, v := range vs {
		if v.Type != typ {
			return nil, fmt.Errorf("search: a %s matched as a %s", v.Type, typ)
		}
		ids[i] = v.ID
	}
	lists, err := e.st.IndexEntriesMany(ctx, typ, ids)
	if err != nil {
		return nil, err
	}
	if len(lists) != len(vs) {
		return nil, fmt.Errorf("search: the index of %d %s resources could not be read", len(vs), typ)
	}
	out := make([]bool, len(vs))
	for i, v := range vs {
		f := e.newFacts(ctx, typ, v.ID, v.Body, valuesOf(lists[i]), 0)
		f.Version = v
		for _, m := range ms {
			if m.Matches(f) {
				out[i] = true
				break
			}
		}
	}
	return out, nil
}
