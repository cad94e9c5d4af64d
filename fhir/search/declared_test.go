package search_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"fhirgate/conformance"
	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
	"fhirgate/fhir/rest"
	fhirsearch "fhirgate/fhir/search"
	"fhirgate/fhir/store"
	"fhirgate/fhir/validation"
	"fhirgate/internal/sharedtest"
)

var (
	updateUnprobed    = flag.Bool("update-unprobed", false, "rewrite testdata/unprobed.txt from the current probe")
	probeEveryExample = flag.Bool("probe-every-example", false, "probe each declared parameter on every example that has it, not only the first (slower)")
)

// unprobedFile lists the declared (type, parameter) pairs the probe cannot exercise, with the reason.
const unprobedFile = "testdata/unprobed.txt"

// representativeTypes are the types on which the common parameters, which the CapabilityStatement
// declares once at the system level, are probed: an ordinary clinical type, the audit trail (stored
// apart), a Resource that is not a DomainResource, a Bundle, and a conformance resource.
var representativeTypes = []string{"AuditEvent", "Binary", "Bundle", "Observation", "Patient", "Questionnaire"}

// declaredPair is a search parameter the CapabilityStatement declares for a type.
type declaredPair struct {
	typ, code string
	param     *fhirsearch.Param // nil when the registry does not know it for typ
}

// probe is what TestDeclaredParameters checks for one declared pair: searches that must find the
// resource id and searches that must not.
type probe struct {
	declaredPair
	id      string // the resource searched for
	source  string // the example file, or "built" for a resource built from the element model
	match   []url.Values
	noMatch []url.Values
	// unprobed says why the pair cannot be probed ("" when it can).
	unprobed string
	// failure is a problem found while preparing the probe (a built resource that is not indexed...).
	failure string
	// others are the same probe on the other examples that have the parameter (-probe-every-example).
	others []*probe
}

func (p *probe) name() string { return p.typ + "/" + p.code }

// TestDeclaredParameters probes every search parameter the CapabilityStatement declares: for each
// (type, parameter) pair it finds a resource with the element set (an official R4 example whose index
// entries include the parameter, or else a minimal resource built from the element model), derives a
// matching search value from the resource itself (the parameter's FHIRPath expression, evaluated on the
// stored resource) and non-matching ones, and checks that the search finds the resource with the first
// and not with the others, both when the parameter drives the search (an index scan) and when it only
// checks a candidate (with _id). Pairs that cannot be probed are pinned, with the reason, in
// testdata/unprobed.txt, and so are the parameters the registry knows but the CapabilityStatement does
// not declare; regenerate it with -update-unprobed and review the difference.
func TestDeclaredParameters(t *testing.T) {
	fx := declaredFixture(t)
	unprobed := map[string]string{}
	byType := map[string][]*probe{}
	var types []string
	for _, p := range fx.probes {
		if p.unprobed != "" {
			unprobed[p.name()] = p.unprobed
			continue
		}
		if byType[p.typ] == nil {
			types = append(types, p.typ)
		}
		byType[p.typ] = append(byType[p.typ], p)
	}
	undeclared := undeclaredParams(t, fx.probes)
	for name, why := range undeclared {
		unprobed[name] = why
	}
	checkUnprobed(t, unprobed)
	var passed atomic.Int64
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			for _, p := range byType[typ] {
				t.Run(p.code, func(t *testing.T) {
					t.Parallel()
					if p.failure != "" {
						t.Fatalf("%s (%s): %s", p.name(), p.source, p.failure)
					}
					if runProbe(t, fx.svc, p) {
						passed.Add(1)
					}
					for _, o := range p.others {
						t.Run(o.id, func(t *testing.T) {
							t.Parallel()
							runProbe(t, fx.svc, o)
						})
					}
				})
			}
		})
	}
	probed := len(fx.probes) - (len(unprobed) - len(undeclared))
	t.Logf("declared pairs: %d (%d per type, %d common ones on %d representative types); probed: %d (%d on examples, %d on built resources); passing: %d; unprobed: %d; known but not declared: %d",
		len(fx.probes), len(fx.probes)-fx.commonPairs, fx.commonPairs, len(representativeTypes), probed,
		fx.fromExamples, probed-fx.fromExamples, passed.Load(), len(unprobed)-len(undeclared), len(undeclared))
	reasons := map[string]int{}
	for _, why := range unprobed {
		reasons[why]++
	}
	for why, n := range reasons {
		t.Logf("unprobed (%d): %s", n, why)
	}
}

// undeclaredParams returns the parameters the registry knows for each type (the common ones on the
// representative types) that the CapabilityStatement does not declare, with the reason the registry
// gives; a supported parameter that is not declared is an error.
func undeclaredParams(t *testing.T, probes []*probe) map[string]string {
	t.Helper()
	declared := map[string]bool{}
	for _, p := range probes {
		declared[p.name()] = true
	}
	out := map[string]string{}
	for _, typ := range fhir.ResourceTypes() {
		for _, p := range fhirsearch.Params(typ) {
			common := strings.Contains(p.URL, "/Resource-") || strings.Contains(p.URL, "/DomainResource-")
			name := typ + "/" + p.Code
			switch {
			case common && !slices.Contains(representativeTypes, typ), declared[name]:
			case p.Unsupported == "":
				t.Errorf("%s is supported but the CapabilityStatement does not declare it", name)
			default:
				out[name] = "not declared: " + p.Unsupported
			}
		}
	}
	return out
}

// runProbe runs a probe's searches and reports whether they all behaved.
func runProbe(t *testing.T, svc *rest.Service, p *probe) bool {
	t.Helper()
	ok := true
	for _, q := range p.match {
		got, err := probeSearch(svc, p.typ, q)
		if err != nil {
			t.Errorf("%s?%s (%s): %v", p.typ, q.Encode(), p.source, err)
			ok = false
		} else if !slices.Contains(got, p.id) {
			t.Errorf("%s?%s does not find %s/%s (%s), whose value it is", p.typ, q.Encode(), p.typ, p.id, p.source)
			ok = false
		}
	}
	for _, q := range p.noMatch {
		got, err := probeSearch(svc, p.typ, q)
		if err != nil {
			t.Errorf("%s?%s (%s): %v", p.typ, q.Encode(), p.source, err)
			ok = false
		} else if slices.Contains(got, p.id) {
			t.Errorf("%s?%s finds %s/%s (%s), which does not have the value", p.typ, q.Encode(), p.typ, p.id, p.source)
			ok = false
		}
	}
	return ok
}

// probeSearch runs a strict search (an unknown or unsupported parameter is an error, not ignored) and
// returns the ids of every match.
func probeSearch(svc *rest.Service, typ string, q url.Values) ([]string, error) {
	params := url.Values{"_count": {"1000"}, "_elements": {"id"}}
	for k, v := range q {
		params[k] = v
	}
	resp, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: typ, Params: params, Strict: true})
	if err != nil {
		return nil, err
	}
	var b struct {
		Total int `json:"total"`
		Entry []struct {
			Resource struct{ ID string }   `json:"resource"`
			Search   struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp.Body, &b); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range b.Entry {
		if e.Search.Mode == "match" {
			out = append(out, e.Resource.ID)
		}
	}
	if b.Total > len(out) {
		return nil, fmt.Errorf("%d matches, more than one page: the probe cannot tell", b.Total)
	}
	return out, nil
}

// checkUnprobed compares the unprobed pairs with testdata/unprobed.txt (or rewrites it).
func checkUnprobed(t *testing.T, got map[string]string) {
	t.Helper()
	if *updateUnprobed {
		var b strings.Builder
		b.WriteString("# Search parameters TestDeclaredParameters does not probe: declared ones it cannot, and the ones the registry knows\n# but the CapabilityStatement does not declare. One per line: Type/parameter, a tab, the reason.\n")
		b.WriteString("# Regenerate with `go test ./fhir/search/ -run TestDeclaredParameters -update-unprobed` and review the difference.\n")
		for _, name := range slices.Sorted(maps.Keys(got)) {
			fmt.Fprintf(&b, "%s\t%s\n", name, got[name])
		}
		if err := os.WriteFile(unprobedFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readUnprobed(t)
	for name, why := range got {
		if w, ok := want[name]; !ok {
			t.Errorf("%s cannot be probed (%s) and is not listed in %s: make it probeable, or stop declaring it", name, why, unprobedFile)
		} else if w != why {
			t.Errorf("%s: unprobed because %q, %s says %q", name, why, unprobedFile, w)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is listed in %s but is probed now (or no longer declared): remove it", name, unprobedFile)
		}
	}
}

func readUnprobed(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(unprobedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, why, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: malformed line %q", unprobedFile, line)
		}
		out[name] = why
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// declared is the store and the probes shared by the test binary.
type declared struct {
	svc          *rest.Service
	probes       []*probe
	commonPairs  int
	fromExamples int
}

var (
	declaredOnce   sync.Once
	declaredResult *declared
	declaredErr    error
)

func declaredFixture(t *testing.T) *declared {
	t.Helper()
	sharedtest.Dir(t) // the examples are the shared R4 data: skip (or fail in CI) here, not in a subtest
	declaredOnce.Do(func() { declaredResult, declaredErr = loadDeclared(t) })
	if declaredErr != nil {
		t.Fatal(declaredErr)
	}
	return declaredResult
}

// storedResource is a resource of the probe's store.
type storedResource struct {
	typ, id string
	source  string
	doc     map[string]any  // the stored body (id and meta set), decoded with UseNumber
	params  map[string]bool // the parameters it has index entries for
}

// loadDeclared stores every official example, with the index entries the indexer gives it (directly,
// as an import would: some examples would not pass the validator), works out the declared pairs and,
// for each, the resource to search for and the search values; the pairs no example has are given a
// resource built from the element model.
func loadDeclared(t *testing.T) (*declared, error) {
	st, err := openEngine(t, "embedded", "declared")
	if err != nil {
		return nil, err
	}
	v, _ := validation.New(validation.Config{})
	svc, err := rest.New(rest.Config{BaseURL: corpusBase}, st, v)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	files, _ := filepath.Glob(sharedtest.Path(t, "examples", "*.json"))
	var ops []store.Op
	sources := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r, err := fhir.ParseResource(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		op, err := storeOp(svc, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ops = append(ops, op)
		sources[r.Ref()] = filepath.Base(f)
	}
	stored, err := commitAll(ctx, st, ops, sources)
	if err != nil {
		return nil, err
	}
	pairs, commonPairs, err := declaredPairs(svc)
	if err != nil {
		return nil, err
	}
	fx := &declared{svc: svc, commonPairs: commonPairs}
	var built []*probe
	var builtOps []store.Op
	for _, dp := range pairs {
		p := &probe{declaredPair: dp}
		fx.probes = append(fx.probes, p)
		if dp.param == nil {
			p.failure = "declared, but the registry does not know the parameter for this type"
			continue
		}
		if dp.param.Unsupported != "" {
			p.failure = "declared, but the registry says it is unsupported: " + dp.param.Unsupported
			continue
		}
		if dp.param.Type == fhirsearch.Composite && len(dp.param.Components) == 0 {
			p.failure = "a composite parameter without components"
			continue
		}
		for _, r := range stored[dp.typ] {
			if dp.param.Indexed && !r.params[dp.code] {
				continue
			}
			if p.id == "" {
				if p.fromResource(r) {
					fx.fromExamples++
					if !*probeEveryExample {
						break
					}
				}
			} else if o := (&probe{declaredPair: dp}); o.fromResource(r) {
				p.others = append(p.others, o)
			}
		}
		if p.id != "" {
			continue
		}
		res, why := buildResource(dp.typ, dp.param, builtID(dp.code))
		if why != "" {
			p.unprobed = why
			continue
		}
		r, err := fhir.ParseResource(jsonOf(res))
		if err != nil {
			return nil, fmt.Errorf("%s: built resource: %w", p.name(), err)
		}
		op, err := storeOp(svc, r)
		if err != nil {
			return nil, fmt.Errorf("%s: built resource: %w", p.name(), err)
		}
		built = append(built, p)
		builtOps = append(builtOps, op)
		sources[r.Ref()] = "built"
	}
	builtStored, err := commitAll(ctx, st, builtOps, sources)
	if err != nil {
		return nil, err
	}
	for _, p := range built {
		r := builtStored[p.typ][slices.IndexFunc(builtStored[p.typ], func(r *storedResource) bool { return r.id == builtID(p.code) })]
		if p.param.Indexed && !r.params[p.code] {
			p.source, p.id = "built", r.id
			p.failure = fmt.Sprintf("a resource built with the element the expression selects has no index entry for it: %s", jsonOf(r.doc))
			continue
		}
		if !p.fromResource(r) {
			p.source, p.id = "built", r.id
			p.failure = fmt.Sprintf("no search value can be derived from the built resource: %s", jsonOf(r.doc))
		}
	}
	return fx, nil
}

// builtID is the id of the resource built for a parameter.
func builtID(code string) string {
	return "probe-" + strings.ReplaceAll(code, "_", "u")
}

// storeOp is the store write of a resource, with its index entries.
func storeOp(svc *rest.Service, r *fhir.Resource) (store.Op, error) {
	if err := r.ClearServerMeta(); err != nil {
		return store.Op{}, err
	}
	r.SetID(r.ID) // right after resourceType, where the store's stamping expects it (built resources have it first)
	body := r.Bytes()
	index, err := svc.IndexEntries(r.Type, body)
	if err != nil {
		return store.Op{}, err
	}
	return store.Op{Type: r.Type, ID: r.ID, Body: body, Index: index, Method: "PUT", Chain: r.Type == "AuditEvent"}, nil
}

// commitAll commits ops (AuditEvents one by one, as links of the audit chain, the others in batches) and
// returns the stored resources by type, in id order.
func commitAll(ctx context.Context, st store.Store, ops []store.Op, sources map[string]string) (map[string][]*storedResource, error) {
	var batch []store.Op
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := st.Commit(ctx, &store.Tx{Ops: batch})
		batch = nil
		return err
	}
	for _, op := range ops {
		if op.Chain {
			op.Method = "POST"
			if _, err := st.Commit(ctx, &store.Tx{Ops: []store.Op{op}}); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", op.Type, op.ID, err)
			}
			continue
		}
		if batch = append(batch, op); len(batch) == 200 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	out := map[string][]*storedResource{}
	for _, op := range ops {
		v, err := st.Read(ctx, op.Type, op.ID)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", op.Type, op.ID, err)
		}
		doc, err := decodeNumbers(v.Body)
		if err != nil {
			return nil, err
		}
		r := &storedResource{typ: op.Type, id: op.ID, source: sources[op.Type+"/"+op.ID], doc: doc, params: map[string]bool{}}
		for _, e := range op.Index {
			r.params[e.Param] = true
		}
		out[op.Type] = append(out[op.Type], r)
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
	}
	return out, nil
}

func decodeNumbers(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

func jsonOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// declaredPairs reads the CapabilityStatement: every parameter declared for a type, and the common
// ones declared at the system level on the representative types. It returns them in order, and how many
// are common.
func declaredPairs(svc *rest.Service) ([]declaredPair, int, error) {
	b, err := conformance.CapabilityStatement(conformance.Options{BaseURL: corpusBase, Version: "test", Routes: rest.Routes, Service: svc})
	if err != nil {
		return nil, 0, err
	}
	type param struct{ Name, Type string }
	var cs struct {
		Rest []struct {
			SearchParam []param `json:"searchParam"`
			Resource    []struct {
				Type        string  `json:"type"`
				SearchParam []param `json:"searchParam"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, 0, err
	}
	if len(cs.Rest) != 1 {
		return nil, 0, fmt.Errorf("the CapabilityStatement has %d rest entries", len(cs.Rest))
	}
	var out []declaredPair
	add := func(typ string, sp param) {
		p, ok := fhirsearch.Lookup(typ, sp.Name)
		if ok && string(p.Type) != sp.Type {
			ok = false
		}
		if !ok {
			p = nil
		}
		out = append(out, declaredPair{typ: typ, code: sp.Name, param: p})
	}
	for _, r := range cs.Rest[0].Resource {
		for _, sp := range r.SearchParam {
			add(r.Type, sp)
		}
	}
	n := 0
	for _, typ := range representativeTypes {
		for _, sp := range cs.Rest[0].SearchParam {
			add(typ, sp)
			n++
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].typ != out[j].typ {
			return out[i].typ < out[j].typ
		}
		return out[i].code < out[j].code
	})
	return out, n, nil
}

// fromResource derives the probe's searches from a stored resource: the first value of the parameter's
// expression that makes a search value. It reports whether one did.
func (p *probe) fromResource(r *storedResource) bool {
	nodes, err := mustCompileIndexed(p.param.Expression).Evaluate(r.doc)
	if err != nil {
		return false
	}
	for _, n := range nodes {
		var sv searchValue
		var ok bool
		if p.param.Type == fhirsearch.Composite {
			sv, ok = compositeValue(p.param, r.doc, n)
		} else {
			sv, ok = probeValue(p.param.Type, n.Value, nodes)
		}
		if !ok {
			continue
		}
		name := p.code
		if sv.modifier != "" {
			name += ":" + sv.modifier
		}
		p.id, p.source = r.id, r.source
		p.match = []url.Values{{name: {sv.match}}}
		for _, no := range sv.noMatch {
			p.noMatch = append(p.noMatch, url.Values{name: {no}})
		}
		if p.code != "_id" { // the same values, checked on a candidate the _id clause finds
			for _, qs := range []*[]url.Values{&p.match, &p.noMatch} {
				for _, q := range *qs {
					*qs = append(*qs, url.Values{name: q[name], "_id": {r.id}})
				}
			}
		}
		return true
	}
	return false
}

// searchValue is a search value of a parameter derived from a resource: one that matches it and some
// that do not.
type searchValue struct {
	modifier string
	match    string
	noMatch  []string
}

// noMatchSuffix makes a code, an id or a URL one the resource does not have.
const noMatchSuffix = "-nomatch"

// valueOf turns a value of a parameter's expression into a search value of the parameter's type; all
// are the expression's other values (a non-matching value must differ from every one).
func probeValue(typ fhirsearch.Type, v any, all []fhirpath.Node) (searchValue, bool) {
	switch typ {
	case fhirsearch.Token:
		return tokenValue(v, all)
	case fhirsearch.String:
		return stringValue(v)
	case fhirsearch.Date:
		return dateValue(v)
	case fhirsearch.Reference:
		return referenceValue(v)
	case fhirsearch.URI:
		if s, ok := v.(string); ok && s != "" {
			return searchValue{match: escapeValue(s), noMatch: []string{escapeValue(s + noMatchSuffix)}}, true
		}
	case fhirsearch.Number:
		return numberValue(v)
	case fhirsearch.Quantity:
		return quantityValue(v)
	case fhirsearch.Special:
		return nearValue(v)
	}
	return searchValue{}, false
}

// escape escapes the search value separators (https://hl7.org/fhir/R4/search.html#escaping).
func escapeValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `$`, `\$`, `|`, `\|`).Replace(s)
}

func tokenValue(v any, all []fhirpath.Node) (searchValue, bool) {
	coded := func(system, code string) searchValue {
		if system == "" {
			return searchValue{match: escapeValue(code), noMatch: []string{escapeValue(code + noMatchSuffix)}}
		}
		return searchValue{match: escapeValue(system) + "|" + escapeValue(code), noMatch: []string{
			escapeValue(system) + "|" + escapeValue(code+noMatchSuffix),
			escapeValue("http://example.org/other-system") + "|" + escapeValue(code),
		}}
	}
	switch t := v.(type) {
	case string:
		if t != "" {
			return coded("", t), true
		}
	case json.Number:
		return coded("", t.String()), true
	case bool:
		sv := searchValue{match: strconv.FormatBool(t)}
		if !slices.ContainsFunc(all, func(n fhirpath.Node) bool { return n.Value == !t }) {
			sv.noMatch = []string{strconv.FormatBool(!t)}
		}
		return sv, true
	case map[string]any:
		if codings, ok := t["coding"].([]any); ok || t["text"] != nil {
			for _, c := range codings {
				if cm, ok := c.(map[string]any); ok && member(cm, "code") != "" {
					return coded(member(cm, "system"), member(cm, "code")), true
				}
			}
			if text := strings.TrimSpace(member(t, "text")); text != "" {
				return searchValue{modifier: "text", match: escapeValue(text), noMatch: []string{"zzqx nomatch"}}, true
			}
			return searchValue{}, false
		}
		if value := member(t, "value"); value != "" { // Identifier, ContactPoint
			return coded(member(t, "system"), value), true
		}
		if code := member(t, "code"); code != "" { // Coding
			return coded(member(t, "system"), code), true
		}
	}
	return searchValue{}, false
}

func member(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// nameParts are the parts of a HumanName or an Address a string search looks at, in order.
var nameParts = []string{"family", "given", "prefix", "suffix", "text", "line", "city", "district", "state", "postalCode", "country"}

func stringValue(v any) (searchValue, bool) {
	s, _ := v.(string)
	if m, ok := v.(map[string]any); ok {
		for _, k := range nameParts {
			switch part := m[k].(type) {
			case string:
				s = part
			case []any:
				if len(part) > 0 {
					s, _ = part[0].(string)
				}
			}
			if strings.TrimSpace(s) != "" {
				break
			}
		}
	}
	runes := []rune(strings.TrimSpace(s))
	if len(runes) == 0 {
		return searchValue{}, false
	}
	n := len(runes)
	if n > 4 {
		n = max(4, n/2)
	}
	prefix := strings.TrimSpace(string(runes[:n]))
	return searchValue{match: escapeValue(prefix), noMatch: []string{"zzqx nomatch"}}, true
}

// dateValue: a date as written with eq; a Period's start with ge (its end with le when it has no start);
// a Timing's first event with ge. Not matching: the same date a century away, with eq.
func dateValue(v any) (searchValue, bool) {
	dated := func(pfx, s string) (searchValue, bool) {
		if _, _, err := fhirsearch.DateRange(s); err != nil {
			return searchValue{}, false
		}
		return searchValue{match: pfx + s, noMatch: []string{"eq" + centuryAway(s)}}, true
	}
	switch t := v.(type) {
	case string:
		return dated("eq", t)
	case map[string]any:
		if s := member(t, "start"); s != "" {
			return dated("ge", s)
		}
		if e := member(t, "end"); e != "" {
			return dated("le", e)
		}
		if ev, ok := t["event"].([]any); ok && len(ev) > 0 {
			if s, ok := ev[0].(string); ok {
				return dated("ge", s)
			}
		}
		if rep, ok := t["repeat"].(map[string]any); ok {
			if bp, ok := rep["boundsPeriod"].(map[string]any); ok {
				return dateValue(bp)
			}
		}
	}
	return searchValue{}, false
}

// centuryAway returns the date a hundred years before (or, for dates before 1950, after) s.
func centuryAway(s string) string {
	y, _ := strconv.Atoi(s[:4])
	if y < 1950 {
		y += 100
	} else {
		y -= 100
	}
	out := fmt.Sprintf("%04d", y) + s[4:]
	if _, _, err := fhirsearch.DateRange(out); err != nil { // 29 February
		out = strings.Replace(out, "-02-29", "-02-28", 1)
	}
	return out
}

// referenceValue: a literal reference as written, a canonical or a URL, a reference by identifier alone
// (with :identifier), or a resource (Bundle.entry[0].resource) as Type/id. Not matching: another id or URL.
func referenceValue(v any) (searchValue, bool) {
	literal := func(ref string) (searchValue, bool) {
		if ref == "" || strings.HasPrefix(ref, "#") {
			return searchValue{}, false // contained resources are not searched
		}
		no := ref + noMatchSuffix
		if typ, _ := fhirpath.ParseReference(ref); typ != "" && !strings.Contains(ref, ":") {
			no = typ + "/nomatch"
		}
		return searchValue{match: escapeRef(ref), noMatch: []string{escapeRef(no)}}, true
	}
	switch t := v.(type) {
	case string:
		return literal(t)
	case map[string]any:
		if rt := member(t, "resourceType"); rt != "" {
			if id := member(t, "id"); id != "" {
				return searchValue{match: rt + "/" + id, noMatch: []string{rt + "/nomatch"}}, true
			}
			return searchValue{}, false
		}
		if ref := member(t, "reference"); ref != "" {
			return literal(ref)
		}
		if ident, ok := t["identifier"].(map[string]any); ok {
			if value := member(ident, "value"); value != "" {
				sv := searchValue{modifier: "identifier", match: escapeValue(value), noMatch: []string{escapeValue(value + noMatchSuffix)}}
				if system := member(ident, "system"); system != "" {
					sv.match = escapeValue(system) + "|" + sv.match
					sv.noMatch[0] = escapeValue(system) + "|" + sv.noMatch[0]
				}
				return sv, true
			}
		}
	}
	return searchValue{}, false
}

// escapeRef escapes a reference search value; its "|" separates a canonical's version, as written.
func escapeRef(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `$`, `\$`).Replace(s)
}

func numberValue(v any) (searchValue, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return searchValue{}, false
		}
		return searchValue{match: t.String(), noMatch: []string{numberText(f + 1000)}}, true
	case map[string]any: // Range
		if low, ok := t["low"].(map[string]any); ok {
			if n, ok := low["value"].(json.Number); ok {
				f, _ := n.Float64()
				return searchValue{match: "ge" + n.String(), noMatch: []string{numberText(f - 1000)}}, true
			}
		}
		if high, ok := t["high"].(map[string]any); ok {
			if n, ok := high["value"].(json.Number); ok {
				f, _ := n.Float64()
				return searchValue{match: "le" + n.String(), noMatch: []string{numberText(f + 1000)}}, true
			}
		}
	}
	return searchValue{}, false
}

func numberText(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// quantityValue: value|system|code (Money: its currency), value||code or value||unit, or the value
// alone; a Range by its low value with ge (or its high one with le). Not matching: the value a thousand
// away, and the value in another unit.
func quantityValue(v any) (searchValue, bool) {
	t, ok := v.(map[string]any)
	if !ok {
		return searchValue{}, false
	}
	pfx, q, shift := "", t, 1000.0
	if _, ok := t["value"]; !ok {
		if low, ok := t["low"].(map[string]any); ok {
			pfx, q, shift = "ge", low, -1000
		} else if high, ok := t["high"].(map[string]any); ok {
			pfx, q = "le", high
		} else {
			return searchValue{}, false
		}
	}
	n, ok := q["value"].(json.Number)
	if !ok {
		return searchValue{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return searchValue{}, false
	}
	units, other := "", ""
	switch system, code, unit, cur := member(q, "system"), member(q, "code"), member(q, "unit"), member(q, "currency"); {
	case cur != "":
		units, other = "|urn:iso:std:iso:4217|"+escapeValue(cur), "|urn:iso:std:iso:4217|"+escapeValue(cur+noMatchSuffix)
	case system != "" && code != "":
		units, other = "|"+escapeValue(system)+"|"+escapeValue(code), "|"+escapeValue(system)+"|"+escapeValue(code+noMatchSuffix)
	case code != "":
		units, other = "||"+escapeValue(code), "||"+escapeValue(code+noMatchSuffix)
	case unit != "":
		units, other = "||"+escapeValue(unit), "||"+escapeValue(unit+noMatchSuffix)
	}
	sv := searchValue{match: pfx + n.String() + units, noMatch: []string{numberText(f+shift) + units}}
	if other != "" {
		sv.noMatch = append(sv.noMatch, pfx+n.String()+other)
	}
	return sv, true
}

// nearValue: within a kilometre of the position; not matching: a thousand kilometres away.
func nearValue(v any) (searchValue, bool) {
	t, ok := v.(map[string]any)
	if !ok {
		return searchValue{}, false
	}
	lat, lok := t["latitude"].(json.Number)
	lon, gok := t["longitude"].(json.Number)
	if !lok || !gok {
		return searchValue{}, false
	}
	la, _ := lat.Float64()
	away := la - 10
	if la < 0 {
		away = la + 10
	}
	return searchValue{match: lat.String() + "|" + lon.String() + "|1|km",
		noMatch: []string{numberText(away) + "|" + lon.String() + "|1|km"}}, true
}

// compositeValue joins the components' values found under one node of the composite's expression; not
// matching: the first component's value changed, then the last one's.
func compositeValue(p *fhirsearch.Param, doc map[string]any, n fhirpath.Node) (searchValue, bool) {
	parts := make([]searchValue, len(p.Components))
	for i, c := range p.Components {
		found, err := mustCompileIndexed(c.Expression).EvaluateNode(doc, n)
		if err != nil {
			return searchValue{}, false
		}
		ok := false
		for _, f := range found {
			if sv, good := probeValue(c.Param.Type, f.Value, found); good && sv.modifier == "" && len(sv.noMatch) > 0 {
				parts[i], ok = sv, true
				break
			}
		}
		if !ok {
			return searchValue{}, false
		}
	}
	join := func(change int) string {
		vals := make([]string, len(parts))
		for i, sv := range parts {
			vals[i] = sv.match
			if i == change {
				vals[i] = sv.noMatch[0]
			}
		}
		return strings.Join(vals, "$")
	}
	return searchValue{match: join(-1), noMatch: []string{join(0), join(len(parts) - 1)}}, true
}

// What the probe of the declared parameters found, each as its smallest case.

// TestCanonicalsThatNameNoResource: a canonical written neither absolute nor as Type/id (an R4 example has
// "library-fhir-helpers-predecessor") is found by the same text, which a reference search would otherwise
// take for an id or for a reference it cannot parse.
func TestCanonicalsThatNameNoResource(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("Library", "lib", `"status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/library-type","code":"logic-library"}]},`+
			`"relatedArtifact":[{"type":"predecessor","resource":"library-predecessor"},{"type":"successor","resource":"libraries/next"}]`),
		put("Library", "other", `"status":"active","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/library-type","code":"logic-library"}]},`+
			`"relatedArtifact":[{"type":"predecessor","resource":"Library/library-predecessor"}]`),
	)
	for _, tc := range []struct{ query, want string }{
		{"predecessor=library-predecessor", "lib,other"}, // the bare name, and the id of Library/library-predecessor
		{"predecessor=library-other", ""},
		{"predecessor=Library/library-predecessor", "other"},
		{"successor=libraries/next", "lib"},
		{"successor=libraries/other", ""},
	} {
		if got := strings.Join(ids(t, ctx, svc, "Library", tc.query), ","); got != tc.want {
			t.Errorf("Library?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
}

// TestDocumentReferenceRelationship: the R4 definition of relationship pairs its components with the
// wrong elements (the registry corrects it): relation code $ related document.
func TestDocumentReferenceRelationship(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("DocumentReference", "doc", `"status":"current","content":[{"attachment":{"contentType":"text/plain"}}],`+
			`"relatesTo":[{"code":"appends","target":{"reference":"DocumentReference/older"}},{"code":"replaces","target":{"reference":"DocumentReference/oldest"}}]`),
	)
	for _, tc := range []struct{ query, want string }{
		{"relationship=appends$DocumentReference/older", "doc"},
		{"relationship=http://hl7.org/fhir/document-relationship-type|appends$older", ""}, // the code has no system
		{"relationship=replaces$DocumentReference/oldest", "doc"},
		{"relationship=appends$DocumentReference/oldest", ""}, // both are there, not in the same relatesTo
		{"relationship=signs$DocumentReference/older", ""},
		{"relation=appends&relatesto=DocumentReference/oldest", "doc"},
	} {
		if got := strings.Join(ids(t, ctx, svc, "DocumentReference", tc.query), ","); got != tc.want {
			t.Errorf("DocumentReference?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
}

// TestDecimalsBeyondFloatPrecision: a value written with more significant digits than a float64 holds
// (an R4 example has 66.899999999999991) is found by the same digits.
func TestDecimalsBeyondFloatPrecision(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("Observation", "height", `"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},`+
			`"valueQuantity":{"value":66.899999999999991,"unit":"in","system":"http://unitsofmeasure.org","code":"[in_i]"}`),
		put("RiskAssessment", "risk", `"status":"final","subject":{"reference":"Patient/p"},"prediction":[{"probabilityDecimal":0.12345678901234567}]`),
	)
	for _, tc := range []struct{ typ, query, want string }{
		{"Observation", "value-quantity=66.899999999999991", "height"},
		{"Observation", "value-quantity=66.899999999999991|http://unitsofmeasure.org|[in_i]", "height"},
		{"Observation", "code-value-quantity=http://loinc.org|8302-2$66.899999999999991", "height"},
		{"Observation", "value-quantity=66.9", "height"},
		{"Observation", "value-quantity=66.8", ""},
		{"RiskAssessment", "probability=0.12345678901234567", "risk"},
		{"RiskAssessment", "probability=0.12345678901234", ""},
	} {
		if got := strings.Join(ids(t, ctx, svc, tc.typ, tc.query), ","); got != tc.want {
			t.Errorf("%s?%s: %q, want %q", tc.typ, tc.query, got, tc.want)
		}
	}
}

// mustCompileIndexed compiles a search parameter expression as the indexer does (registry.go).
func mustCompileIndexed(src string) *fhirpath.Expr {
	e, err := fhirpath.CompileWith(src, fhirpath.Options{LenientAs: true})
	if err != nil {
		panic(err)
	}
	return e
}
