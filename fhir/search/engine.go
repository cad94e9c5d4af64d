package search

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// Engine executes searches over a store's index.
type Engine struct {
	st      store.Store
	specs   specBuilder
	indexer *Indexer
	maxHits int
	// maxIncluded bounds the resources included in one page.
	maxIncluded int
}

// Config configures an Engine.
type Config struct {
	// BaseURL is the server's FHIR base; absolute references to it match relative ones.
	BaseURL string
	// MaxResults bounds the matches a query may have before it is refused as too costly (default 100,000).
	MaxResults int
	// MaxIncluded bounds the resources _include and _revinclude may add to one page before the search is
	// refused as too costly (default 5,000).
	MaxIncluded int
	// Now is the clock (for the ap prefix).
	Now func() time.Time
}

// NewEngine returns an Engine over st.
func NewEngine(st store.Store, cfg Config) *Engine {
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = 100000
	}
	if cfg.MaxIncluded <= 0 {
		cfg.MaxIncluded = 5000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{st: st, specs: specBuilder{baseURL: strings.TrimSuffix(cfg.BaseURL, "/") + "/", now: cfg.Now()},
		indexer: NewIndexer(cfg.BaseURL), maxHits: cfg.MaxResults, maxIncluded: cfg.MaxIncluded}
}

// Filter decides whether a resource may be part of a result (authorization), from its facts; nil admits
// everything. Filtered resources are simply absent: they are not counted and leave no trace in paging.
type Filter func(ctx context.Context, f *Facts) bool

// Hit is one resource of a result.
type Hit struct {
	Version *store.Version
	sortKey [][]byte
}

// Result is one page of a search.
type Result struct {
	Matches  []*store.Version
	Includes []*store.Version
	// Total counts every match across all pages.
	Total int
	// Next and Previous are the cursors of the next and previous pages ("" at either end).
	Next, Previous string
}

// compiledClause is a clause ready to scan and to check candidates.
type compiledClause struct {
	code    string
	specs   []spec
	negate  bool
	ids     map[string]bool // _id, _has: the matching ids
	updated []Value         // _lastUpdated values
}

// Search runs q (whose Types hold exactly one type, or several for a system search).
func (e *Engine) Search(ctx context.Context, q *Query, filter Filter) (*Result, error) {
	var hits []*Hit
	for _, typ := range q.Types {
		h, err := e.matches(ctx, typ, q.Clauses, q.Compartment, filter, q.Sort)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	sortHits(hits, q.Sort)
	res := &Result{Total: len(hits)}
	if q.Count == 0 {
		return res, nil
	}
	start, end := 0, min(q.Count, len(hits))
	if q.Cursor != "" {
		c, before, err := decodeCursor(q.Cursor, q)
		if err != nil {
			return nil, err
		}
		if before { // the page that ends just before the cursor
			end = sort.Search(len(hits), func(i int) bool { return compareHit(hits[i], c, q.Sort) >= 0 })
			start = max(0, end-q.Count)
		} else { // the page that starts just after the cursor
			start = sort.Search(len(hits), func(i int) bool { return compareHit(hits[i], c, q.Sort) > 0 })
			end = min(start+q.Count, len(hits))
		}
	}
	for _, h := range hits[start:end] {
		res.Matches = append(res.Matches, h.Version)
	}
	if end < len(hits) && end > 0 {
		res.Next = encodeCursor(hits[end-1], q, false)
	}
	if start > 0 && start < len(hits) {
		res.Previous = encodeCursor(hits[start], q, true)
	}
	inc, err := e.includes(ctx, q, res.Matches, filter)
	if err != nil {
		return nil, err
	}
	res.Includes = inc
	return res, nil
}

// Match returns the ids of up to limit resources of typ matching params that filter admits (the criteria
// of conditional interactions, run as the caller's own search: what the caller may not see is no match).
func (e *Engine) Match(ctx context.Context, typ string, params map[string][]string, limit int, filter Filter) ([]string, error) {
	q, err := ParseQuery([]string{typ}, params, Options{DefaultCount: limit, MaxCount: limit, Strict: true})
	if err != nil {
		return nil, err
	}
	hits, err := e.matches(ctx, typ, q.Clauses, "", filter, nil)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.Version.ID)
		if len(ids) >= limit {
			break
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// matches finds every resource of typ satisfying all clauses (and the compartment), admitted by filter.
func (e *Engine) matches(ctx context.Context, typ string, clauses []*Clause, compartment string, filter Filter, sortKeys []SortKey) ([]*Hit, error) {
	var cs []*compiledClause
	if compartment != "" {
		params := CompartmentParams(typ)
		if len(params) == 0 && !(typ == "Patient") {
			return nil, nil
		}
		cc := &compiledClause{code: "_compartment"}
		for _, p := range params {
			cc.specs = append(cc.specs, exactSpec(p, key(kRef, compartment)))
		}
		if typ == "Patient" { // the patient itself, and patients linked to it (Patient.link)
			_, id, _ := strings.Cut(compartment, "/")
			cc.ids = map[string]bool{id: true}
		}
		cs = append(cs, cc)
	}
	for _, c := range clauses {
		cc, err := e.compile(ctx, typ, c, filter)
		if err != nil {
			return nil, err
		}
		cs = append(cs, cc)
	}
	candidates, driver, err := e.candidates(ctx, typ, cs)
	if err != nil {
		return nil, err
	}
	// Candidates are checked in batches: their index lists, then the versions of those that pass, each in
	// one store call (one round trip on a networked engine).
	needValues := len(sortKeys) > 0 || filter != nil
	for i, cc := range cs {
		if i != driver && cc.updated == nil {
			needValues = true
		}
	}
	var hits []*Hit
	for start := 0; start < len(candidates); start += matchBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids := candidates[start:min(start+matchBatch, len(candidates))]
		var lists [][]store.IndexEntry
		if needValues {
			var err error
			if lists, err = e.st.IndexEntriesMany(ctx, typ, ids); err != nil {
				return nil, err
			}
		}
		var pass []string
		var passValues []func(string) [][]byte
		for k, id := range ids {
			var values func(string) [][]byte
			if lists != nil {
				values = valuesOf(lists[k])
			}
			ok := true
			for i, cc := range cs {
				if i == driver || cc.updated != nil {
					continue // the driver matched; _lastUpdated is checked on the version below
				}
				if !cc.accepts(id, values) {
					ok = false
					break
				}
			}
			if ok {
				pass = append(pass, id)
				passValues = append(passValues, values)
			}
		}
		vs, err := e.st.ReadMany(ctx, typ, pass)
		if err != nil {
			return nil, err
		}
		for k, v := range vs {
			if v == nil || v.Deleted || !e.updatedOK(cs, v) {
				continue
			}
			if filter != nil {
				f := e.newFacts(ctx, v.Type, v.ID, v.Body, passValues[k], 0)
				f.Version = v
				if !filter(ctx, f) {
					continue
				}
			}
			h := &Hit{Version: v}
			if len(sortKeys) > 0 {
				h.sortKey = sortKeyOf(typ, sortKeys, v, passValues[k])
			}
			hits = append(hits, h)
			if len(hits) > e.maxHits {
				return nil, &fhir.Error{Kind: fhir.KindTooCostly, Code: "too-costly",
					Details: fmt.Sprintf("the search matches more than %d resources; narrow it", e.maxHits)}
			}
		}
	}
	return hits, nil
}

// matchBatch is how many candidates a search checks per store call.
const matchBatch = 128

// accepts checks a candidate against the clause, reading the candidate's values of the parameters the
// clause's specs name.
func (cc *compiledClause) accepts(id string, values func(param string) [][]byte) bool {
	if cc.ids != nil && cc.ids[id] {
		return !cc.negate
	}
	found := false
	for i := 0; i < len(cc.specs) && !found; i++ {
		sp := &cc.specs[i]
		for _, v := range values(sp.param) {
			if sp.matches(sp.param, v) {
				found = true
				break
			}
		}
	}
	return found != cc.negate
}

func (e *Engine) updatedOK(cs []*compiledClause, v *store.Version) bool {
	ms := v.LastUpdated.UnixMilli()
	for _, cc := range cs {
		if cc.updated == nil {
			continue
		}
		ok := false
		for _, val := range cc.updated {
			lo, hi, err := dateRange(val.Raw)
			if err != nil {
				continue
			}
			for _, s := range rangeSpecs("u", nil, val.Prefix, float64(lo), float64(hi), true, e.specs.now) {
				if s.matches("u", append(append([]byte{kLow}, encTime(ms)...), encTime(ms)...)) ||
					s.matches("u", append(append([]byte{kHigh}, encTime(ms)...), encTime(ms)...)) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// compile turns a clause into specs (or an id set) for resources of typ.
func (e *Engine) compile(ctx context.Context, typ string, c *Clause, filter Filter) (*compiledClause, error) {
	cc := &compiledClause{code: c.Code}
	switch {
	case c.Has != nil:
		ids, err := e.hasIDs(ctx, typ, c.Has, filter)
		if err != nil {
			return nil, err
		}
		cc.ids = ids
		return cc, nil
	case c.Chain != nil:
		for _, t := range c.Chain.Targets {
			hits, err := e.matches(ctx, t, []*Clause{c.Chain.Next}, "", filter, nil)
			if err != nil {
				return nil, err
			}
			for _, h := range hits {
				cc.specs = append(cc.specs, exactSpec(c.Code, key(kRef, t, "/", h.Version.ID)))
			}
		}
		if len(cc.specs) == 0 {
			cc.ids = map[string]bool{} // nothing can match
		}
		return cc, nil
	case c.Code == "_id":
		if c.Modifier == "missing" {
			// Every resource has an id: :missing=true matches nothing, :missing=false everything.
			cc.ids, cc.negate = map[string]bool{}, c.Values[0].Raw == "false"
			return cc, nil
		}
		cc.ids = map[string]bool{}
		for _, v := range c.Values {
			cc.ids[v.Raw] = true
		}
		return cc, nil
	case c.Code == "_lastUpdated":
		if c.Modifier == "missing" { // every version has one
			cc.ids, cc.negate = map[string]bool{}, c.Values[0].Raw == "false"
			return cc, nil
		}
		cc.updated = c.Values
		return cc, nil
	}
	p := c.Param[typ]
	if p == nil {
		return nil, invalid(c.Name, "unknown search parameter %q for %s", c.Code, typ)
	}
	switch c.Modifier {
	case "missing":
		cc.specs = []spec{{param: p.Code, lo: []byte{}}} // any value at all
		cc.negate = c.Values[0].Raw == "true"
		return cc, nil
	case "not":
		cc.negate = true
	}
	mod := c.Modifier
	if mod == "not" {
		mod = ""
	}
	for _, v := range c.Values {
		cc.specs = append(cc.specs, e.specs.valueSpecs(p, p.Code, mod, v, nil)...)
	}
	if len(cc.specs) == 0 && !cc.negate {
		cc.ids = map[string]bool{} // a value that can match nothing
	}
	return cc, nil
}

// hasIDs resolves a reverse chain: the resources of typ referenced through h.Param by resources of
// h.Type that satisfy h.Next.
func (e *Engine) hasIDs(ctx context.Context, typ string, h *Has, filter Filter) (map[string]bool, error) {
	hits, err := e.matches(ctx, h.Type, []*Clause{h.Next}, "", filter, nil)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	prefix := typ + "/"
	for _, hit := range hits {
		entries, err := e.st.IndexEntries(ctx, h.Type, hit.Version.ID)
		if err != nil {
			return nil, err
		}
		for _, en := range entries {
			if en.Param == h.Param && len(en.Value) > 0 && en.Value[0] == kRef && strings.HasPrefix(string(en.Value[1:]), prefix) {
				ids[string(en.Value[1+len(prefix):])] = true
			}
		}
	}
	return ids, nil
}

// candidates picks the most selective clause and returns the ids it matches (sorted), with its index
// (-1 when every resource of the type had to be scanned). Clauses are tried most promising first (id sets,
// references to one resource, coded values, then the rest), each scan stopping as soon as it is no
// better than the best so far, so a query pays little for its unselective clauses.
func (e *Engine) candidates(ctx context.Context, typ string, cs []*compiledClause) ([]string, int, error) {
	order := make([]int, 0, len(cs))
	for i, cc := range cs {
		if !cc.negate && cc.updated == nil {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return cs[order[a]].rank() < cs[order[b]].rank() })
	const probe = 5000
	best, bestIDs := -1, []string(nil)
	for pass := 0; pass < 2 && best < 0; pass++ {
		for _, i := range order {
			limit := probe
			if pass == 1 {
				limit = -1 // every clause matched more than probe: take the first one whole
			}
			if best >= 0 {
				limit = len(bestIDs)
			}
			ids, complete, err := e.scan(ctx, typ, cs[i], limit)
			if err != nil {
				return nil, 0, err
			}
			if complete && (best < 0 || len(ids) < len(bestIDs)) {
				best, bestIDs = i, ids
			}
			if pass == 1 {
				break
			}
		}
	}
	if best >= 0 {
		return bestIDs, best, nil
	}
	var all []string
	err := e.st.ScanIDs(ctx, typ, func(id string) bool {
		all = append(all, id)
		return len(all) <= e.maxHits*4
	})
	return all, -1, err
}

// rank orders clauses by how selective they usually are (lower first).
func (cc *compiledClause) rank() int {
	if cc.ids != nil && len(cc.specs) == 0 {
		return 0
	}
	r := 4
	for _, s := range cc.specs {
		k := byte(0)
		if len(s.lo) > 0 {
			k = s.lo[0]
		}
		switch {
		case k == kRef || k == kRefIdent || k == kOfType:
			r = min(r, 1)
		case k == kSysCode || k == kURL || k == kExact:
			r = min(r, 2)
		case k == kCode || k == kNoSys || k == kString || k == kRefID:
			r = min(r, 3)
		}
	}
	return r
}

// scan returns the ids matching a clause; complete is false when it stopped at limit ids.
func (e *Engine) scan(ctx context.Context, typ string, cc *compiledClause, limit int) ([]string, bool, error) {
	seen := map[string]bool{}
	if cc.ids != nil {
		for id := range cc.ids {
			seen[id] = true
		}
	}
	for i := range cc.specs {
		s := &cc.specs[i]
		stopped := false
		err := e.st.IndexScan(ctx, typ, s.param, s.lo, s.hi, func(v []byte, id string) bool {
			if s.check != nil && !s.check(v) {
				return true
			}
			seen[id] = true
			if limit >= 0 && len(seen) > limit {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			return nil, false, err
		}
		if stopped {
			return nil, false, nil
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, true, nil
}

// sortKeyOf computes a hit's sort key: per key, the smallest (ascending) or largest (descending) value
// the resource has for the parameter; nil when it has none (sorted last).
func sortKeyOf(typ string, keys []SortKey, v *store.Version, values func(param string) [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		switch k.Code {
		case "_id":
			out[i] = []byte(v.ID)
			continue
		case "_lastUpdated":
			out[i] = encTime(v.LastUpdated.UnixMilli())
			continue
		}
		p, ok := Lookup(typ, k.Code)
		if !ok {
			continue
		}
		var kinds []byte
		switch p.Type {
		case String:
			kinds = []byte{kString}
		case Token:
			kinds = []byte{kCode}
		case Reference:
			kinds = []byte{kRef, kURL}
		case URI:
			kinds = []byte{kURL}
		case Date, Number:
			kinds = []byte{kLow}
			if k.Desc {
				kinds = []byte{kHigh}
			}
		case Quantity:
			kinds = []byte{kQLow}
		}
		for _, value := range values(k.Code) {
			if len(value) < 2 || bytes.IndexByte(kinds, value[0]) < 0 {
				continue
			}
			val := value[1:]
			switch value[0] {
			case kLow, kHigh:
				val = val[:8]
			case kQLow:
				if val[0] != 0 { // only the unit-less key, so that values compare across units
					continue
				}
				val = val[1:9]
			}
			if out[i] == nil || (!k.Desc && bytes.Compare(val, out[i]) < 0) || (k.Desc && bytes.Compare(val, out[i]) > 0) {
				out[i] = append([]byte(nil), val...)
			}
		}
	}
	return out
}

func sortHits(hits []*Hit, keys []SortKey) {
	sort.SliceStable(hits, func(i, j int) bool { return compareHit(hits[i], hits[j], keys) < 0 })
}

// compareHit orders hits by their sort keys (missing values last), then by type and id.
func compareHit(a, b *Hit, keys []SortKey) int {
	for i, k := range keys {
		var x, y []byte
		if i < len(a.sortKey) {
			x = a.sortKey[i]
		}
		if i < len(b.sortKey) {
			y = b.sortKey[i]
		}
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		c := bytes.Compare(x, y)
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	if c := strings.Compare(a.Version.Type, b.Version.Type); c != 0 {
		return c
	}
	return strings.Compare(a.Version.ID, b.Version.ID)
}

// cursor is the position after the last hit of a page, tied to the query it belongs to.
type cursor struct {
	Query  string   `json:"q"`
	Keys   [][]byte `json:"k,omitempty"`
	Type   string   `json:"t"`
	ID     string   `json:"i"`
	Before bool     `json:"b,omitempty"` // the page before this position, not after
}

func queryFingerprint(q *Query) string {
	applied := q.Applied.Encode()
	return fmt.Sprintf("%s?%s#%s", strings.Join(q.Types, ","), applied, q.Compartment)
}

func encodeCursor(h *Hit, q *Query, before bool) string {
	c := cursor{Query: queryFingerprint(q), Keys: h.sortKey, Type: h.Version.Type, ID: h.Version.ID, Before: before}
	return base64.RawURLEncoding.EncodeToString(fhir.MustJSON(c))
}

func decodeCursor(s string, q *Query) (*Hit, bool, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Query != queryFingerprint(q) {
		return nil, false, invalid("_cursor", "the paging cursor does not belong to this search")
	}
	return &Hit{Version: &store.Version{Type: c.Type, ID: c.ID}, sortKey: c.Keys}, c.Before, nil
}

// includes follows _include and _revinclude from the page's matches (and, with :iterate, from what they
// bring), admitting only what filter admits.
func (e *Engine) includes(ctx context.Context, q *Query, matches []*store.Version, filter Filter) ([]*store.Version, error) {
	if len(q.Includes) == 0 && len(q.RevIncludes) == 0 || len(matches) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, m := range matches {
		seen[m.Ref()] = true
	}
	var out []*store.Version
	frontier := matches
	for depth := 0; depth < 4 && len(frontier) > 0; depth++ {
		var next []*store.Version
		add := func(v *store.Version) error {
			if v == nil || v.Deleted || seen[v.Ref()] {
				return nil
			}
			if filter != nil && !filter(ctx, e.CurrentFacts(ctx, v)) {
				return nil
			}
			if len(out) == e.maxIncluded {
				return &fhir.Error{Kind: fhir.KindTooCostly, Code: "too-costly", Expression: "_include", Limit: "max-included",
					Details: fmt.Sprintf("the page would include more than %d resources (--max-included); ask for a smaller _count", e.maxIncluded)}
			}
			seen[v.Ref()] = true
			out = append(out, v)
			next = append(next, v)
			return nil
		}
		for _, inc := range q.Includes {
			if depth > 0 && !inc.Iterate {
				continue
			}
			for _, src := range frontier {
				if inc.Source != "*" && src.Type != inc.Source {
					continue
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				refs, err := e.outgoing(ctx, src, inc)
				if err != nil {
					return nil, err
				}
				for _, ref := range refs {
					typ, id, _ := strings.Cut(ref, "/")
					v, err := e.st.Read(ctx, typ, id)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						return nil, err
					}
					if err := add(v); err != nil {
						return nil, err
					}
				}
			}
		}
		for _, inc := range q.RevIncludes {
			if depth > 0 && !inc.Iterate {
				continue
			}
			for _, tgt := range frontier {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				for _, src := range revSources(inc, tgt.Type) {
					s := exactSpec(src.param, key(kRef, tgt.Ref()))
					var ids []string
					if err := e.st.IndexScan(ctx, src.typ, src.param, s.lo, s.hi, func(_ []byte, id string) bool {
						ids = append(ids, id)
						return true
					}); err != nil {
						return nil, err
					}
					for _, id := range ids {
						v, err := e.st.Read(ctx, src.typ, id)
						if errors.Is(err, store.ErrNotFound) {
							continue
						}
						if err != nil {
							return nil, err
						}
						if err := add(v); err != nil {
							return nil, err
						}
					}
				}
			}
		}
		frontier = next
	}
	return out, nil
}

// revSource is a type and reference parameter a _revinclude follows back.
type revSource struct{ typ, param string }

// revSources are the (type, parameter) pairs a _revinclude follows back to a target of type target:
// the one it names, every reference parameter of its type (Type:*), or, for *, every reference parameter
// of every type that may point to the target's type.
func revSources(inc Include, target string) []revSource {
	if inc.Param != "*" {
		return []revSource{{inc.Source, inc.Param}}
	}
	types := []string{inc.Source}
	if inc.Source == "*" {
		types = fhir.ResourceTypes()
	}
	var out []revSource
	for _, typ := range types {
		for _, p := range Params(typ) {
			if p.Type != Reference || !p.Indexed {
				continue
			}
			if inc.Source == "*" && len(p.Targets) > 0 && !slices.Contains(p.Targets, target) {
				continue
			}
			out = append(out, revSource{typ, p.Code})
		}
	}
	return out
}

// outgoing returns the "Type/id" references of src through an include's parameter.
func (e *Engine) outgoing(ctx context.Context, src *store.Version, inc Include) ([]string, error) {
	entries, err := e.st.IndexEntries(ctx, src.Type, src.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, en := range entries {
		if inc.Param != "*" && en.Param != inc.Param {
			continue
		}
		if len(en.Value) < 2 || en.Value[0] != kRef {
			continue
		}
		if inc.Param == "*" {
			if p, ok := Lookup(src.Type, en.Param); !ok || p.Type != Reference {
				continue
			}
		}
		ref := string(en.Value[1:])
		if inc.Target != "" && !strings.HasPrefix(ref, inc.Target+"/") {
			continue
		}
		out = append(out, ref)
	}
	sort.Strings(out)
	return out, nil
}

// EverythingOptions narrow Patient/$everything.
type EverythingOptions struct {
	// Types restricts the resource types (empty: every type of the compartment).
	Types []string
	// Start and End bound the clinical date ("date" parameter) of resources that have one (ms; zero: open).
	Start, End int64
	HasStart   bool
	HasEnd     bool
	// Since keeps resources last updated at or after it (zero: no bound).
	Since time.Time
	// Count and Cursor page the matches.
	Count  int
	Cursor string
	// NoIncludes leaves out the resources referenced outside the compartment (a bulk export writes
	// those types apart), which are then not read.
	NoIncludes bool
}

// Everything returns a patient's compartment (the Patient first), and the resources they reference
// outside it (practitioners, organizations, medications...) as includes.
func (e *Engine) Everything(ctx context.Context, patient string, o EverythingOptions, filter Filter) (*Result, error) {
	types := o.Types
	if len(types) == 0 {
		// The record, not the trail of accesses to it: AuditEvents are asked for explicitly.
		types = []string{"Patient"}
		for _, t := range CompartmentTypes() {
			if t != "AuditEvent" {
				types = append(types, t)
			}
		}
	}
	keep := func(ctx context.Context, f *Facts) bool {
		if !o.Since.IsZero() && f.Version.LastUpdated.Before(o.Since) {
			return false
		}
		if o.HasStart || o.HasEnd {
			for _, val := range f.values("date") {
				if len(val) != 17 || val[0] != kLow {
					continue
				}
				lo, hi := decTime(val[1:9]), decTime(val[9:17])
				if (o.HasEnd && lo > o.End) || (o.HasStart && hi < o.Start) {
					return false
				}
			}
		}
		return filter == nil || filter(ctx, f)
	}
	var hits []*Hit
	seenType := map[string]bool{}
	for _, t := range types {
		if seenType[t] {
			continue
		}
		seenType[t] = true
		h, err := e.matches(ctx, t, nil, patient, keep, nil)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h...)
	}
	// The Patient first, then by type and id.
	sort.SliceStable(hits, func(i, j int) bool {
		pi, pj := hits[i].Version.Type == "Patient", hits[j].Version.Type == "Patient"
		if pi != pj {
			return pi
		}
		return compareHit(hits[i], hits[j], nil) < 0
	})
	q := &Query{Types: []string{"Patient"}, Compartment: patient, Count: o.Count, Applied: url.Values{"_everything": {"1"}}}
	res := &Result{Total: len(hits)}
	start := 0
	if o.Cursor != "" {
		c, _, err := decodeCursor(o.Cursor, q)
		if err != nil {
			return nil, err
		}
		for start < len(hits) && !(hits[start].Version.Type == c.Version.Type && hits[start].Version.ID == c.Version.ID) {
			start++
		}
		start++
	}
	end := len(hits)
	if o.Count > 0 {
		end = min(start+o.Count, len(hits))
	}
	if start > len(hits) {
		start = len(hits)
	}
	for _, h := range hits[start:end] {
		res.Matches = append(res.Matches, h.Version)
	}
	if end < len(hits) {
		res.Next = encodeCursor(hits[end-1], q, false)
	}
	if o.NoIncludes {
		return res, nil
	}
	seen := map[string]bool{}
	for _, h := range hits {
		seen[h.Version.Ref()] = true
	}
	// Referenced resources outside the compartment, for this page.
	for _, m := range res.Matches {
		refs, err := e.outgoing(ctx, m, Include{Param: "*"})
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			typ, id, _ := strings.Cut(ref, "/")
			if seen[ref] || len(CompartmentParams(typ)) > 0 || typ == "Patient" {
				continue
			}
			seen[ref] = true
			v, err := e.st.Read(ctx, typ, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if v.Deleted || (filter != nil && !filter(ctx, e.CurrentFacts(ctx, v))) {
				continue
			}
			res.Includes = append(res.Includes, v)
		}
	}
	return res, nil
}

// Find returns every current resource of typ matching params (no paging, no filter): for internal
// lookups such as a patient's consents or a practitioner's roles.
func (e *Engine) Find(ctx context.Context, typ string, params url.Values) ([]*store.Version, error) {
	q, err := ParseQuery([]string{typ}, params, Options{DefaultCount: e.maxHits, MaxCount: e.maxHits, Strict: true})
	if err != nil {
		return nil, err
	}
	hits, err := e.matches(ctx, typ, q.Clauses, "", nil, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*store.Version, len(hits))
	for i, h := range hits {
		out[i] = h.Version
	}
	return out, nil
}
