package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/fhirpath"
	"fhirgate/fhir/store"
)

// Indexer extracts the search index entries of resources, evaluating each parameter's FHIRPath
// expression and encoding what it finds by parameter type.
type Indexer struct {
	// baseURL is this server's FHIR base: absolute references to it index as relative ones.
	baseURL string
}

// NewIndexer returns an Indexer for a server whose FHIR base URL is baseURL.
func NewIndexer(baseURL string) *Indexer {
	return &Indexer{baseURL: strings.TrimSuffix(baseURL, "/") + "/"}
}

// Entries returns the index entries of a resource of type typ, decoded from JSON (UseNumber).
func (x *Indexer) Entries(typ string, res map[string]any) ([]store.IndexEntry, error) {
	params := Params(typ)
	out := make([]store.IndexEntry, 0, len(params)) // about one entry per parameter, or more
	keys := make([][]byte, 0, 16)                   // the keys of one parameter, reused from one to the next
	r := fhirpath.Prepare(res)
	for _, p := range params {
		if !p.Indexed {
			continue
		}
		var err error
		keys, err = x.paramKeys(keys[:0], p, r)
		if err != nil {
			return nil, fmt.Errorf("search parameter %s: %w", p.Code, err)
		}
		out = appendEntries(out, p.Code, keys)
	}
	return out, nil
}

// smallKeyCount is the number of keys up to which appendEntries finds duplicates by comparing them
// all rather than with a map.
const smallKeyCount = 32

// appendEntries appends an entry for each distinct key of a parameter, in order.
func appendEntries(out []store.IndexEntry, code string, keys [][]byte) []store.IndexEntry {
	if len(keys) > smallKeyCount {
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if !seen[string(k)] {
				seen[string(k)] = true
				out = append(out, store.IndexEntry{Param: code, Value: k})
			}
		}
		return out
	}
	start := len(out)
	for _, k := range keys {
		if !containsValue(out[start:], k) {
			out = append(out, store.IndexEntry{Param: code, Value: k})
		}
	}
	return out
}

func containsValue(entries []store.IndexEntry, k []byte) bool {
	for _, e := range entries {
		if bytes.Equal(e.Value, k) {
			return true
		}
	}
	return false
}

// paramKeys appends to keys the index keys of a parameter's values in the resource r.
func (x *Indexer) paramKeys(keys [][]byte, p *Param, r *fhirpath.Prepared) ([][]byte, error) {
	e, err := p.expr()
	if err != nil || e == nil {
		return keys, err
	}
	nodes, err := e.EvaluatePrepared(r)
	if err != nil {
		return keys, err
	}
	if p.Type == Composite {
		return x.compositeKeys(keys, p, r, nodes)
	}
	for _, n := range nodes {
		keys = x.nodeKeys(keys, p, n.Value)
	}
	return keys, nil
}

// nodeKeys appends to keys the encodings of one value found by a parameter's expression.
func (x *Indexer) nodeKeys(keys [][]byte, p *Param, v any) [][]byte {
	switch p.Type {
	case Token:
		return tokenKeys(keys, v)
	case String:
		return stringKeys(keys, v)
	case Reference:
		return x.referenceKeys(keys, v)
	case Date:
		return dateKeys(keys, v)
	case Number:
		return numberKeys(keys, v)
	case Quantity:
		return quantityKeys(keys, v)
	case URI:
		if s, ok := v.(string); ok {
			return append(keys, key(kURL, s))
		}
	case Special:
		return geoKeys(keys, v)
	}
	return keys
}

// geoKeys encodes a Location.position (latitude, longitude) for near.
func geoKeys(keys [][]byte, v any) [][]byte {
	t, ok := v.(map[string]any)
	if !ok {
		return keys
	}
	lat, lok := t["latitude"].(json.Number)
	lon, gok := t["longitude"].(json.Number)
	if !lok || !gok {
		return keys
	}
	la, ok1 := decimalValue(lat.String())
	lo, ok2 := decimalValue(lon.String())
	if !ok1 || !ok2 {
		return keys
	}
	k := make([]byte, 0, 17)
	return append(keys, appendFloat(appendFloat(append(k, kGeo), la), lo))
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func tokenKeys(keys [][]byte, v any) [][]byte {
	switch t := v.(type) {
	case string:
		return append(keys, key(kCode, t), key(kNoSys, t))
	case bool:
		s := strconv.FormatBool(t)
		return append(keys, key(kCode, s), key(kNoSys, s))
	case json.Number:
		return append(keys, key(kCode, t.String()), key(kNoSys, t.String()))
	case map[string]any:
		if codings, ok := t["coding"].([]any); ok || t["text"] != nil {
			for _, c := range codings {
				if cm, ok := c.(map[string]any); ok {
					keys = codingKeys(keys, str(cm, "system"), str(cm, "code"), str(cm, "display"))
				}
			}
			if text := str(t, "text"); text != "" {
				keys = append(keys, normalizedKey(kText, text))
			}
			return keys
		}
		if value, ok := t["value"].(string); ok { // Identifier, ContactPoint
			keys = codingKeys(keys, str(t, "system"), value, "")
			if typ, ok := t["type"].(map[string]any); ok {
				for _, c := range asList(typ["coding"]) {
					if cm, ok := c.(map[string]any); ok && str(cm, "code") != "" {
						keys = append(keys, key(kOfType, str(cm, "system"), "|", str(cm, "code"), "|", value))
					}
				}
				if text := str(typ, "text"); text != "" {
					keys = append(keys, normalizedKey(kText, text))
				}
			}
			return keys
		}
		if _, ok := t["code"]; ok || t["system"] != nil { // Coding
			return codingKeys(keys, str(t, "system"), str(t, "code"), str(t, "display"))
		}
	}
	return keys
}

func codingKeys(keys [][]byte, system, code, display string) [][]byte {
	if code != "" {
		keys = append(keys, key(kCode, code), key(kSysCode, system, "|", code))
		if system == "" {
			keys = append(keys, key(kNoSys, code))
		}
	}
	if system != "" {
		keys = append(keys, key(kSystem, system))
	}
	if display != "" {
		keys = append(keys, normalizedKey(kText, display))
	}
	return keys
}

func asList(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case nil:
		return nil
	}
	return []any{v}
}

// stringParts are the members of HumanName and Address (and of other types) that string parameters
// index, in order.
var stringParts = []string{"family", "given", "prefix", "suffix", "text", "line", "city", "district", "state", "postalCode", "country"}

func stringKeys(keys [][]byte, v any) [][]byte {
	switch t := v.(type) {
	case string:
		return stringKey(keys, t)
	case map[string]any:
		// HumanName and Address: every string part; other types: their string members.
		for _, k := range stringParts {
			switch part := t[k].(type) {
			case string:
				keys = stringKey(keys, part)
			case []any:
				for _, p := range part {
					if s, ok := p.(string); ok {
						keys = stringKey(keys, s)
					}
				}
			}
		}
	}
	return keys
}

// stringKey appends the keys of one string, unless it is blank: normalized and as written.
func stringKey(keys [][]byte, s string) [][]byte {
	if s = strings.TrimSpace(s); s != "" {
		keys = append(keys, normalizedKey(kString, s), key(kExact, s))
	}
	return keys
}

func (x *Indexer) referenceKeys(keys [][]byte, v any) [][]byte {
	switch t := v.(type) {
	case string: // canonical or uri
		keys = append(keys, key(kURL, t))
		base, _, versioned := strings.Cut(t, "|")
		if versioned {
			keys = append(keys, key(kURL, base))
		}
		// A canonical written relative ("PlanDefinition/example", as the R4 examples have them), or
		// absolute on this server, names a resource here: found by a reference search and followed by
		// _include like a literal reference.
		if rel, ok := strings.CutPrefix(base, x.baseURL); ok || !strings.Contains(base, ":") {
			if typ, id := fhirpath.ParseReference(rel); typ != "" && fhir.IsResourceType(typ) && fhir.ValidID(id) {
				keys = append(keys, key(kRef, typ, "/", id), key(kRefID, id))
			}
		}
		return keys
	case map[string]any:
		if rt, ok := t["resourceType"].(string); ok { // a resource (Bundle.entry[0].resource)
			if id := str(t, "id"); id != "" {
				return append(keys, key(kRef, rt, "/", id), key(kRefID, id))
			}
			return keys
		}
		if ref := str(t, "reference"); ref != "" {
			keys = x.refKeys(keys, ref)
		}
		if ident, ok := t["identifier"].(map[string]any); ok {
			if value := str(ident, "value"); value != "" {
				keys = append(keys, key(kRefIdent, str(ident, "system"), "|", value), key(kRefIdentV, value))
			}
		}
	}
	return keys
}

// refKeys encodes a literal reference: "Type/id" (also absolute on this server, or versioned) as a
// reference with its id; other absolute URLs and URNs as URLs; contained references are not indexed.
func (x *Indexer) refKeys(keys [][]byte, ref string) [][]byte {
	if strings.HasPrefix(ref, "#") {
		return keys
	}
	if rel, ok := strings.CutPrefix(ref, x.baseURL); ok {
		ref = rel
	}
	if strings.Contains(ref, ":") {
		return append(keys, key(kURL, ref))
	}
	typ, id := fhirpath.ParseReference(ref)
	if typ == "" {
		return keys
	}
	return append(keys, key(kRef, typ, "/", id), key(kRefID, id))
}

func dateKeys(keys [][]byte, v any) [][]byte {
	lo, hi, ok := dateBounds(v)
	if !ok {
		return keys
	}
	return appendRangeKeys(keys, appendTime, lo, hi)
}

// dateBounds returns the instants a date-like value covers.
func dateBounds(v any) (lo, hi int64, ok bool) {
	switch t := v.(type) {
	case string:
		l, h, err := dateRange(t)
		return l, h, err == nil
	case map[string]any:
		if _, isPeriod := t["start"]; isPeriod || t["end"] != nil {
			lo, hi = minTime, maxTime
			if s := str(t, "start"); s != "" {
				l, _, err := dateRange(s)
				if err != nil {
					return 0, 0, false
				}
				lo = l
			}
			if e := str(t, "end"); e != "" {
				_, h, err := dateRange(e)
				if err != nil {
					return 0, 0, false
				}
				hi = h
			}
			return lo, hi, true
		}
		// Timing: the outer bounds of its events and repeat.bounds.
		lo, hi = maxTime, minTime
		for _, ev := range asList(t["event"]) {
			if s, ok := ev.(string); ok {
				if l, h, err := dateRange(s); err == nil {
					lo, hi = min(lo, l), max(hi, h)
				}
			}
		}
		if rep, ok := t["repeat"].(map[string]any); ok {
			if bp, ok := rep["boundsPeriod"].(map[string]any); ok {
				if l, h, ok := dateBounds(bp); ok {
					lo, hi = min(lo, l), max(hi, h)
				}
			}
		}
		return lo, hi, lo <= hi
	}
	return 0, 0, false
}

func numberKeys(keys [][]byte, v any) [][]byte {
	switch t := v.(type) {
	case json.Number:
		if f, ok := decimalValue(t.String()); ok {
			return appendRangeKeys(keys, appendFloat, f, f)
		}
	case map[string]any: // Range
		lo, hi, ok := rangeValues(t)
		if ok {
			return appendRangeKeys(keys, appendFloat, lo, hi)
		}
	}
	return keys
}

func rangeValues(t map[string]any) (lo, hi float64, ok bool) {
	low, lok := t["low"].(map[string]any)
	high, hok := t["high"].(map[string]any)
	if !lok && !hok {
		return 0, 0, false
	}
	lo, hi = -1e308, 1e308
	if lok {
		if n, ok := low["value"].(json.Number); ok {
			lo, _ = decimalValue(n.String())
		}
	}
	if hok {
		if n, ok := high["value"].(json.Number); ok {
			hi, _ = decimalValue(n.String())
		}
	}
	return lo, hi, true
}

// quantityKeys encodes a Quantity (or Money, or Range) under each unit key it can be searched by:
// "" (value only), system|code, |code and ~unit.
func quantityKeys(keys [][]byte, v any) [][]byte {
	t, ok := v.(map[string]any)
	if !ok {
		return keys
	}
	var lo, hi float64
	units := t
	if n, ok := t["value"].(json.Number); ok {
		f, ok := decimalValue(n.String())
		if !ok {
			return keys
		}
		lo, hi = f, f
	} else if l, h, ok := rangeValues(t); ok {
		lo, hi = l, h
		if low, ok := t["low"].(map[string]any); ok {
			units = low
		} else if high, ok := t["high"].(map[string]any); ok {
			units = high
		}
	} else {
		return keys
	}
	system, code, unit := str(units, "system"), str(units, "code"), str(units, "unit")
	if cur := str(units, "currency"); cur != "" { // Money
		system, code = "urn:iso:std:iso:4217", cur
	}
	keys = quantityKeyPair(keys, lo, hi)
	if code != "" {
		keys = quantityKeyPair(keys, lo, hi, "|", code)
		if system != "" {
			keys = quantityKeyPair(keys, lo, hi, system, "|", code)
		}
	}
	if unit != "" {
		keys = quantityKeyPair(keys, lo, hi, "~", unit)
	}
	return keys
}

// quantityKeyPair appends the two keys of a quantity range under one unit key (the concatenation of
// unit): ordered by low and ordered by high.
func quantityKeyPair(keys [][]byte, lo, hi float64, unit ...string) [][]byte {
	return append(keys, quantityKey(kQLow, unit, lo, hi), quantityKey(kQHigh, unit, hi, lo))
}

func quantityKey(kind byte, unit []string, a, b float64) []byte {
	n := 1 + 1 + 16
	for _, u := range unit {
		n += len(u)
	}
	k := append(make([]byte, 0, n), kind)
	for _, u := range unit {
		k = append(k, u...)
	}
	k = append(k, 0)
	return appendFloat(appendFloat(k, a), b)
}

// compositeKeys appends to keys each combination of the components' values found under the same
// element.
func (x *Indexer) compositeKeys(keys [][]byte, p *Param, r *fhirpath.Prepared, nodes []fhirpath.Node) ([][]byte, error) {
	var parts [][]byte
	for _, n := range nodes {
		combos := [][]byte{{kComposite}}
		for ci, c := range p.Components {
			found, err := c.compiled.EvaluateNodePrepared(r, n)
			if err != nil {
				return keys, err
			}
			parts = parts[:0]
			for _, f := range found {
				parts = x.nodeKeys(parts, c.Param, f.Value)
			}
			if ci < len(p.Components)-1 {
				parts = keepLeading(parts)
			}
			var next [][]byte
			for _, prefix := range combos {
				for _, part := range parts {
					k := append([]byte(nil), prefix...)
					if ci > 0 {
						k = append(k, 0)
					}
					next = append(next, append(k, part...))
				}
			}
			combos = next
			if len(combos) == 0 {
				break
			}
		}
		keys = append(keys, combos...)
	}
	return keys, nil
}

// keepLeading keeps, in place, the keys a leading composite component may use: exact ones, and the
// fixed-width low-bound form of a number or a date ([L lo hi], which a search checks part by part).
func keepLeading(keys [][]byte) [][]byte {
	kept := keys[:0]
	for _, k := range keys {
		if exactKind(k[0]) || len(k) == 17 && k[0] == kLow {
			kept = append(kept, k)
		}
	}
	return kept
}

// exactKind reports the kinds that leading composite components may use (exact matches).
func exactKind(k byte) bool {
	switch k {
	case kCode, kSysCode, kNoSys, kRef, kRefID, kURL, kExact:
		return true
	}
	return false
}
