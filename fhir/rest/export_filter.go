package rest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// What _typeFilter, _elements and includeAssociatedData do to an export: applied to the versions the
// job read through the guard, before they are audited and written (exportJob.shape).

// exportFilters are an export's options compiled at kick-off.
type exportFilters struct {
	matchers   map[string][]*search.Matcher
	elements   map[string][]string
	associated string // latestProvenance, relevantProvenance or ""
	// written are the Provenance resources already added as associated data, each written once even
	// when its targets belong to several patients.
	written map[string]bool
}

// compileExportOptions compiles o's type filters as searches of req (an unsupported parameter is a 400
// naming it).
func (s *Service) compileExportOptions(ctx context.Context, g Guard, req *Request, o *exportOptions) error {
	f := &exportFilters{matchers: map[string][]*search.Matcher{}, elements: o.Elements, written: map[string]bool{}}
	for typ, queries := range o.TypeFilter {
		for _, q := range queries {
			m, err := s.exportMatcher(ctx, g, req, typ, q)
			if err != nil {
				return typeFilterError(err)
			}
			f.matchers[typ] = append(f.matchers[typ], m)
		}
	}
	switch {
	case slices.Contains(o.Associated, relevantProvenance):
		f.associated = relevantProvenance
	case slices.Contains(o.Associated, latestProvenance):
		f.associated = latestProvenance
	}
	if f.associated != "" {
		// Provenance leaves only to a client whose scopes let it search Provenance, as with _type.
		if err := g.Authorize(ctx, &Request{Interaction: SearchType, Type: "Provenance", Params: url.Values{}}); err != nil {
			return err
		}
	}
	o.filters = f
	return nil
}

// typeFilterError is the 400 of a filter the search engine refused, naming _typeFilter and the parameter.
func typeFilterError(err error) error {
	var fe *fhir.Error
	if !errors.As(err, &fe) || fe.Kind != fhir.KindInvalid {
		return err
	}
	out := *fe
	if out.Expression != "" {
		out.Details = "_typeFilter: " + out.Expression + ": " + out.Details
	}
	out.Expression = "_typeFilter"
	return &out
}

// outputTypes are the types of an export's files, in the manifest's order: those asked for, and
// Provenance when it is added as associated data.
func (sp exportSpec) outputTypes() []string {
	if sp.Options == nil || sp.Options.filters == nil || sp.Options.filters.associated == "" || slices.Contains(sp.Types, "Provenance") {
		return sp.Types
	}
	return append(slices.Clone(sp.Types), "Provenance")
}

// shape applies the export's options to versions read for req through g: those a type filter rejects
// are dropped, associated Provenance resources are added (read through g as well), and the elements
// not asked for are removed from the copies returned.
func (j *exportJob) shape(ctx context.Context, g Guard, req *Request, vs []*store.Version) ([]*store.Version, error) {
	o := j.spec.Options
	if o == nil || o.filters == nil || len(vs) == 0 {
		return vs, nil
	}
	f := o.filters
	if len(f.matchers) > 0 {
		var err error
		if vs, err = j.filtered(ctx, vs); err != nil {
			return nil, err
		}
	}
	if f.associated != "" {
		prov, err := j.provenance(ctx, g, req, vs)
		if err != nil {
			return nil, err
		}
		vs = append(vs, prov...)
	}
	if len(f.elements) == 0 {
		return vs, nil
	}
	out := make([]*store.Version, 0, len(vs))
	for _, v := range vs {
		els := append(slices.Clone(f.elements[""]), f.elements[v.Type]...)
		if len(els) == 0 {
			out = append(out, v)
			continue
		}
		body, err := fhir.Subset(v.Body, fhir.SummaryFalse, els)
		if err != nil {
			return nil, err
		}
		c := *v
		c.Body = body
		out = append(out, &c)
	}
	return out, nil
}

// filtered returns those of vs that the type filters let through: of each filtered type, those matching
// one of its filters (one store call per type), and every resource of the other types.
func (j *exportJob) filtered(ctx context.Context, vs []*store.Version) ([]*store.Version, error) {
	f := j.spec.Options.filters
	byType := map[string][]*store.Version{}
	for _, v := range vs {
		if _, ok := f.matchers[v.Type]; ok {
			byType[v.Type] = append(byType[v.Type], v)
		}
	}
	keep := map[*store.Version]bool{}
	for typ, tvs := range byType {
		ok, err := j.e.svc.exportMatches(ctx, typ, f.matchers[typ], tvs)
		if err != nil {
			return nil, err
		}
		for i, v := range tvs {
			keep[v] = ok[i]
		}
	}
	return slices.DeleteFunc(slices.Clone(vs), func(v *store.Version) bool {
		k, filtered := keep[v]
		return filtered && !k
	}), nil
}

// provenance returns the Provenance resources targeting vs that are not among them nor written already:
// all of them, or for LatestProvenanceResources the most recent of each target's.
func (j *exportJob) provenance(ctx context.Context, g Guard, req *Request, vs []*store.Version) ([]*store.Version, error) {
	f := j.spec.Options.filters
	var targets []string
	have := map[string]bool{}
	for _, v := range vs {
		have[v.Ref()] = true
		if v.Type != "Provenance" {
			targets = append(targets, v.Ref())
		}
	}
	if len(targets) == 0 {
		return nil, nil
	}
	found, err := j.e.svc.exportProvenance(ctx, g, req, targets)
	if err != nil {
		return nil, err
	}
	if f.associated == latestProvenance {
		found = latestOf(found, have, j.e.svc.cfg.BaseURL)
	}
	var out []*store.Version
	for _, p := range found {
		if ref := p.Ref(); !have[ref] && !f.written[ref] {
			f.written[ref], have[ref] = true, true
			out = append(out, p)
		}
	}
	return out, nil
}

// latestOf keeps, of Provenance resources, the most recent (by recorded, then last update) of each target
// in targets (references relative to base).
func latestOf(prov []*store.Version, targets map[string]bool, base string) []*store.Version {
	type dated struct {
		v  *store.Version
		at time.Time
	}
	latest := map[string]dated{}
	var order []string
	for _, p := range prov {
		var body struct {
			Recorded string `json:"recorded"`
			Target   []struct {
				Reference string `json:"reference"`
			} `json:"target"`
		}
		if json.Unmarshal(p.Body, &body) != nil {
			continue
		}
		at, err := fhir.ParseInstant(body.Recorded)
		if err != nil {
			at = p.LastUpdated
		}
		for _, t := range body.Target {
			ref := strings.TrimPrefix(t.Reference, strings.TrimSuffix(base, "/")+"/")
			if !targets[ref] {
				continue
			}
			cur, ok := latest[ref]
			if !ok {
				order = append(order, ref)
			}
			if !ok || at.After(cur.at) {
				latest[ref] = dated{p, at}
			}
		}
	}
	var out []*store.Version
	for _, t := range order {
		if v := latest[t].v; !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// rememberProvenance notes, for a resumed job, the Provenance resources its files already hold (as of
// its last page stored), so that associated Provenance is still written once across a restart.
func (j *exportJob) rememberProvenance() error {
	o, w := j.spec.Options, j.files["Provenance"]
	if o == nil || o.filters == nil || o.filters.associated == "" || w == nil {
		return nil
	}
	var names []string
	for _, d := range w.done {
		names = append(names, d.Name)
	}
	if w.f != nil {
		names = append(names, w.name())
	}
	for _, name := range names {
		if err := noteIDs(filepath.Join(w.dir, name), "Provenance", o.filters.written); err != nil {
			return err
		}
	}
	return nil
}

// noteIDs adds to seen the reference (typ/id) of every resource of an NDJSON file.
func noteIDs(path, typ string, seen map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		var res struct {
			ID string `json:"id"`
		}
		if len(bytes.TrimSpace(line)) > 0 && json.Unmarshal(line, &res) == nil && res.ID != "" {
			seen[typ+"/"+res.ID] = true
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
