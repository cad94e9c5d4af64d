package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"fhirgate/fhir/store"
)

// Facts is what an access decision needs to know of one resource version, read from its search index:
// the patients it is about, its codes and security labels, the resources it references, its clinical
// period; and, for a resource that carries other resources' data, the resources whose access governs it
// (a Binary's securityContext, a Provenance's targets) and the resources it holds (a stored Bundle's
// entries). Deciders ask through these methods and never see the index encoding, so that a change of
// encoding cannot silently turn a refusal into a permission.
//
// Facts are built for one request (they keep its context to read what governs them) and are not safe for
// concurrent use.
type Facts struct {
	// Type and ID name the resource.
	Type, ID string
	// Version is the stored version described (nil for a write not yet committed).
	Version *store.Version

	body   []byte
	values func(param string) [][]byte
	engine *Engine
	ctx    context.Context
	depth  int
	err    error // the index could not be read

	patients      []string
	patientsDone  bool
	governors     []*Facts
	governorsErr  error
	governorsDone bool
	parts         []*Facts
	partsErr      error
	partsDone     bool
}

// maxFactsDepth bounds how far governing and held resources are followed (a Provenance of a Binary of a
// Bundle...): deeper, the facts cannot be established and deciders refuse.
const maxFactsDepth = 4

// ErrTooDeep is the error of facts whose governing or held resources nest deeper than maxFactsDepth.
var ErrTooDeep = errors.New("search: resources governing this one nest too deeply to decide on")

// Ref returns "Type/id".
func (f *Facts) Ref() string { return f.Type + "/" + f.ID }

// Body returns the resource's JSON (nil when the facts describe a deletion without a previous version).
func (f *Facts) Body() []byte { return f.body }

// Err returns the error of reading the resource's index, once a question has been asked: nothing may be
// decided on facts that could not be established.
func (f *Facts) Err() error { return f.err }

// Member reports whether the resource's type belongs to the Patient compartment (Patient included).
func (f *Facts) Member() bool { return f.Type == "Patient" || len(CompartmentParams(f.Type)) > 0 }

// Patients returns the patients the resource is about ("Patient/123"): for a type of the Patient
// compartment, the patients its compartment parameters reference (a Patient is about itself); for any
// other type, the patients any of its reference parameters point to (a Device's patient...).
// Patients reached through governing or held resources are theirs, not these (see Governors, Parts).
func (f *Facts) Patients() []string {
	if !f.patientsDone {
		f.patients, f.patientsDone = patientsOf(f.Type, f.ID, f.values), true
	}
	return f.patients
}

// DataPatients returns every patient whose data the resource is or carries: its own patients, and those
// of the resources that govern it or that it holds (as far as they can be established).
func (f *Facts) DataPatients() []string {
	out := append([]string(nil), f.Patients()...)
	add := func(ps []string) {
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	govs, _ := f.Governors()
	for _, g := range govs {
		add(g.DataPatients())
	}
	parts, _ := f.Parts()
	for _, p := range parts {
		add(p.DataPatients())
	}
	return out
}

// Tokens returns the system|code values of a token parameter ("|code" for a code without a system).
func (f *Facts) Tokens(param string) []string {
	var out []string
	for _, v := range f.values(param) {
		if len(v) > 1 && v[0] == kSysCode {
			out = append(out, string(v[1:]))
		}
	}
	return out
}

// Labels returns the resource's security labels (meta.security) as system|code.
func (f *Facts) Labels() []string { return f.Tokens("_security") }

// References returns the resources ("Type/id") a reference parameter points to; with param "", those
// every reference parameter of the type points to.
func (f *Facts) References(param string) []string {
	params := []string{param}
	if param == "" {
		params = params[:0]
		for _, p := range Params(f.Type) {
			if p.Type == Reference && p.Indexed {
				params = append(params, p.Code)
			}
		}
	}
	var out []string
	for _, p := range params {
		for _, v := range f.values(p) {
			if len(v) > 1 && v[0] == kRef {
				out = append(out, string(v[1:]))
			}
		}
	}
	return out
}

// ClinicalPeriod returns the span (ms, inclusive) of the resource's clinical dates (its "date"
// parameter); ok is false when it has none.
func (f *Facts) ClinicalPeriod() (from, to int64, ok bool) {
	for _, v := range f.values("date") {
		if len(v) != 17 || v[0] != kLow {
			continue
		}
		lo, hi := decTime(v[1:9]), decTime(v[9:17])
		if !ok || lo < from {
			from = lo
		}
		if !ok || hi > to {
			to = hi
		}
		ok = true
	}
	return from, to, ok
}

// Satisfies reports whether the resource matches search parameters as a search would: each parameter
// must match (AND), each of its values may (OR). Chains, _has and result parameters are not allowed here
// (granular scopes are plain parameters).
func (f *Facts) Satisfies(params url.Values) (bool, error) {
	q, err := ParseQuery([]string{f.Type}, params, Options{DefaultCount: 1, MaxCount: 1, Strict: true})
	if err != nil {
		return false, err
	}
	for _, c := range q.Clauses {
		if c.Chain != nil || c.Has != nil {
			return false, invalid(c.Name, "chains are not allowed here")
		}
		cc, err := f.engine.compile(f.ctx, f.Type, c, nil)
		if err != nil {
			return false, err
		}
		if cc.updated != nil {
			if f.Version == nil || !f.engine.updatedOK([]*compiledClause{cc}, f.Version) {
				return false, nil
			}
			continue
		}
		if !cc.accepts(f.ID, f.values) {
			return false, nil
		}
	}
	return true, nil
}

// Governors returns the resources whose access governs this one's, as their current facts: a Binary's
// securityContext, a Provenance's targets. A reference to a resource that does not exist (or is deleted)
// governs nothing.
func (f *Facts) Governors() ([]*Facts, error) {
	if f.governorsDone {
		return f.governors, f.governorsErr
	}
	f.governorsDone = true
	refs := f.Governing()
	if len(refs) > 0 && f.depth >= maxFactsDepth {
		f.governorsErr = ErrTooDeep
		return nil, f.governorsErr
	}
	for _, ref := range refs {
		typ, id, ok := strings.Cut(ref, "/")
		if !ok {
			continue
		}
		g, err := f.engine.readFacts(f.ctx, typ, id, f.depth+1)
		if err != nil {
			f.governorsErr = err
			return nil, err
		}
		if g != nil {
			f.governors = append(f.governors, g)
		}
	}
	return f.governors, nil
}

// Governing returns the references ("Type/id") of the resources whose access governs this one's: a
// Binary's securityContext, a Provenance's targets (whether or not they exist).
func (f *Facts) Governing() []string {
	switch f.Type {
	case "Binary":
		if ref := binaryContext(f.body); ref != "" {
			return []string{ref}
		}
	case "Provenance":
		return f.References("target")
	}
	return nil
}

// binaryContext returns the reference a Binary's securityContext makes relative ("" for none).
func binaryContext(body []byte) string {
	var b struct {
		SecurityContext struct {
			Reference string `json:"reference"`
		} `json:"securityContext"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	return relativeRef(b.SecurityContext.Reference)
}

// Parts returns the resources a stored Bundle holds (its entries' resources), each with its own facts.
// Other types hold none.
func (f *Facts) Parts() ([]*Facts, error) {
	if f.partsDone {
		return f.parts, f.partsErr
	}
	f.partsDone = true
	if f.Type != "Bundle" || len(f.body) == 0 {
		return nil, nil
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(f.body, &b); err != nil {
		f.partsErr = fmt.Errorf("search: the Bundle's entries cannot be read: %w", err)
		return nil, f.partsErr
	}
	if len(b.Entry) > 0 && f.depth >= maxFactsDepth {
		f.partsErr = ErrTooDeep
		return nil, f.partsErr
	}
	for _, e := range b.Entry {
		if len(e.Resource) == 0 {
			continue
		}
		doc, err := decodeJSON(e.Resource)
		if err != nil {
			f.partsErr = err
			return nil, err
		}
		typ, _ := doc["resourceType"].(string)
		id, _ := doc["id"].(string)
		entries, err := f.engine.indexer.Entries(typ, doc)
		if err != nil {
			f.partsErr = err
			return nil, err
		}
		part := f.engine.newFacts(f.ctx, typ, id, e.Resource, valuesOf(entries), f.depth+1)
		f.parts = append(f.parts, part)
	}
	return f.parts, nil
}

// relativeRef makes a reference to this server's resources "Type/id" (versions dropped); other
// references (absolute elsewhere, contained, URNs) give "".
func relativeRef(ref string) string {
	if ref == "" || strings.HasPrefix(ref, "#") || strings.Contains(ref, ":") {
		return ""
	}
	typ, rest, ok := strings.Cut(ref, "/")
	if !ok || typ == "" {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if id == "" {
		return ""
	}
	return typ + "/" + id
}

func decodeJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("search: a resource is a JSON object")
	}
	return m, nil
}

// newFacts returns facts over index values.
func (e *Engine) newFacts(ctx context.Context, typ, id string, body []byte, values func(string) [][]byte, depth int) *Facts {
	return &Facts{Type: typ, ID: id, body: body, values: values, engine: e, ctx: ctx, depth: depth}
}

// WriteFacts returns the facts of a resource about to be written: its body and the index entries it
// will be stored with.
func (e *Engine) WriteFacts(ctx context.Context, typ, id string, body []byte, entries []store.IndexEntry) *Facts {
	return e.newFacts(ctx, typ, id, body, valuesOf(entries), 0)
}

// CurrentFacts returns the facts of a resource's current version, read from the store's index. A
// deletion is described by the version it deleted.
func (e *Engine) CurrentFacts(ctx context.Context, v *store.Version) *Facts {
	if v.Deleted {
		return e.VersionFacts(ctx, v)
	}
	f := e.newFacts(ctx, v.Type, v.ID, v.Body, nil, 0)
	f.values, f.Version = e.storedValues(ctx, v.Type, v.ID, &f.err), v
	return f
}

// VersionFacts returns the facts of any version, extracted from its body (the index describes only
// current versions). A deletion is described by the version it deleted; one without a readable
// predecessor is about nothing.
func (e *Engine) VersionFacts(ctx context.Context, v *store.Version) *Facts {
	body := v.Body
	if v.Deleted {
		body = nil
		if v.VersionID > 1 {
			if prev, err := e.st.ReadVersion(ctx, v.Type, v.ID, v.VersionID-1); err == nil && !prev.Deleted {
				body = prev.Body
			}
		}
	}
	f := e.newFacts(ctx, v.Type, v.ID, body, nil, 0)
	f.values, f.err = e.bodyValues(v.Type, body)
	f.Version = v
	return f
}

// ReadFacts returns the facts of the current version of a resource, or nil when it does not exist or is
// deleted.
func (e *Engine) ReadFacts(ctx context.Context, typ, id string) (*Facts, error) {
	return e.readFacts(ctx, typ, id, 0)
}

func (e *Engine) readFacts(ctx context.Context, typ, id string, depth int) (*Facts, error) {
	v, err := e.st.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, nil
	}
	f := e.newFacts(ctx, typ, id, v.Body, nil, depth)
	f.values, f.Version = e.storedValues(ctx, typ, id, &f.err), v
	return f, nil
}

// bodyValues returns a values function over the index entries extracted from a body (none for no body),
// or the error of a body that cannot be indexed.
func (e *Engine) bodyValues(typ string, body []byte) (func(string) [][]byte, error) {
	if len(body) == 0 {
		return noValues, nil
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return noValues, err
	}
	entries, err := e.indexer.Entries(typ, doc)
	if err != nil {
		return noValues, err
	}
	return valuesOf(entries), nil
}

func noValues(string) [][]byte { return nil }
