package search

import (
	"encoding/json"
	"fmt"
	"strings"

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
	var out []store.IndexEntry
	for _, p := range Params(typ) {
		if !p.Indexed {
			continue
		}
		keys, err := x.paramKeys(p, res)
		if err != nil {
			return nil, fmt.Errorf("search parameter %s: %w", p.Code, err)
		}
		if len(keys) == 0 {
			continue
		}
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if !seen[string(k)] {
				seen[string(k)] = true
				out = append(out, store.IndexEntry{Param: p.Code, Value: k})
			}
		}
	}
	return out, nil
}

func (x *Indexer) paramKeys(p *Param, res map[string]any) ([][]byte, error) {
	e, err := p.expr()
	if err != nil || e == nil {
		return nil, err
	}
	nodes, err := e.Evaluate(res)
	if err != nil {
		return nil, err
	}
	if p.Type == Composite {
		return x.compositeKeys(p, res, nodes)
	}
	var keys [][]byte
	for _, n := range nodes {
		keys = append(keys, x.nodeKeys(p, n.Value)...)
	}
	return keys, nil
}

// nodeKeys encodes one value found by a parameter's expression.
func (x *Indexer) nodeKeys(p *Param, v any) [][]byte {
	switch p.Type {
	case Token:
		return tokenKeys(v)
	case String:
		return stringKeys(v)
	case Reference:
		return x.referenceKeys(v)
	case Date:
		return dateKeys(v)
	case Number:
		return numberKeys(v)
	case Quantity:
		return quantityKeys(v)
	case URI:
		if s, ok := v.(string); ok {
			return [][]byte{key(kURL, s)}
		}
	case Special:
		return geoKeys(v)
	}
	return nil
}

// geoKeys encodes a Location.position (latitude, longitude) for near.
func geoKeys(v any) [][]byte {
	t, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	lat, lok := t["latitude"].(json.Number)
	lon, gok := t["longitude"].(json.Number)
	if !lok || !gok {
		return nil
	}
	la, ok1 := decimalValue(lat.String())
	lo, ok2 := decimalValue(lon.String())
	if !ok1 || !ok2 {
		return nil
	}
	return [][]byte{append(append([]byte{kGeo}, encFloat(la)...), encFloat(lo)...)}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func tokenKeys(v any) [][]byte {
	switch t := v.(type) {
	case string:
		return [][]byte{key(kCode, t), key(kNoSys, t)}
	case bool:
		s := fmt.Sprint(t)
		return [][]byte{key(kCode, s), key(kNoSys, s)}
	case json.Number:
		return [][]byte{key(kCode, t.String()), key(kNoSys, t.String())}
	case map[string]any:
		var keys [][]byte
		if codings, ok := t["coding"].([]any); ok || t["text"] != nil {
			for _, c := range codings {
				if cm, ok := c.(map[string]any); ok {
					keys = append(keys, codingKeys(str(cm, "system"), str(cm, "code"), str(cm, "display"))...)
				}
			}
			if text := str(t, "text"); text != "" {
				keys = append(keys, key(kText, normalize(text)))
			}
			return keys
		}
		if value, ok := t["value"].(string); ok { // Identifier, ContactPoint
			keys = append(keys, codingKeys(str(t, "system"), value, "")...)
			if typ, ok := t["type"].(map[string]any); ok {
				for _, c := range asList(typ["coding"]) {
					if cm, ok := c.(map[string]any); ok && str(cm, "code") != "" {
						keys = append(keys, key(kOfType, str(cm, "system"), "|", str(cm, "code"), "|", value))
					}
				}
				if text := str(typ, "text"); text != "" {
					keys = append(keys, key(kText, normalize(text)))
				}
			}
			return keys
		}
		if _, ok := t["code"]; ok || t["system"] != nil { // Coding
			return codingKeys(str(t, "system"), str(t, "code"), str(t, "display"))
		}
	}
	return nil
}

func codingKeys(system, code, display string) [][]byte {
	var keys [][]byte
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
		keys = append(keys, key(kText, normalize(display)))
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

func stringKeys(v any) [][]byte {
	var keys [][]byte
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			keys = append(keys, key(kString, normalize(s)), key(kExact, s))
		}
	}
	switch t := v.(type) {
	case string:
		add(t)
	case map[string]any:
		// HumanName and Address: every string part; other types: their string members.
		for _, k := range []string{"family", "given", "prefix", "suffix", "text", "line", "city", "district", "state", "postalCode", "country"} {
			for _, part := range asList(t[k]) {
				if s, ok := part.(string); ok {
					add(s)
				}
			}
		}
	}
	return keys
}

func (x *Indexer) referenceKeys(v any) [][]byte {
	switch t := v.(type) {
	case string: // canonical or uri
		keys := [][]byte{key(kURL, t)}
		if base, _, ok := strings.Cut(t, "|"); ok {
			keys = append(keys, key(kURL, base))
		}
		return keys
	case map[string]any:
		if rt, ok := t["resourceType"].(string); ok { // a resource (Bundle.entry[0].resource)
			if id := str(t, "id"); id != "" {
				return [][]byte{key(kRef, rt, "/", id), key(kRefID, id)}
			}
			return nil
		}
		var keys [][]byte
		if ref := str(t, "reference"); ref != "" {
			keys = append(keys, x.refKeys(ref)...)
		}
		if ident, ok := t["identifier"].(map[string]any); ok {
			if value := str(ident, "value"); value != "" {
				keys = append(keys, key(kRefIdent, str(ident, "system"), "|", value), key(kRefIdentV, value))
			}
		}
		return keys
	}
	return nil
}

// refKeys encodes a literal reference: "Type/id" (also absolute on this server, or versioned) as a
// reference with its id; other absolute URLs and URNs as URLs; contained references are not indexed.
func (x *Indexer) refKeys(ref string) [][]byte {
	if strings.HasPrefix(ref, "#") {
		return nil
	}
	if rel, ok := strings.CutPrefix(ref, x.baseURL); ok {
		ref = rel
	}
	if strings.Contains(ref, ":") {
		return [][]byte{key(kURL, ref)}
	}
	typ, id := fhirpath.ParseReference(ref)
	if typ == "" {
		return nil
	}
	return [][]byte{key(kRef, typ, "/", id), key(kRefID, id)}
}

func dateKeys(v any) [][]byte {
	lo, hi, ok := dateBounds(v)
	if !ok {
		return nil
	}
	return rangeKeys(encTime(lo), encTime(hi))
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

func numberKeys(v any) [][]byte {
	switch t := v.(type) {
	case json.Number:
		if f, ok := decimalValue(t.String()); ok {
			return rangeKeys(encFloat(f), encFloat(f))
		}
	case map[string]any: // Range
		lo, hi, ok := rangeValues(t)
		if ok {
			return rangeKeys(encFloat(lo), encFloat(hi))
		}
	}
	return nil
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
func quantityKeys(v any) [][]byte {
	t, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var lo, hi float64
	units := t
	if n, ok := t["value"].(json.Number); ok {
		f, ok := decimalValue(n.String())
		if !ok {
			return nil
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
		return nil
	}
	unitKeys := []string{""}
	system, code, unit := str(units, "system"), str(units, "code"), str(units, "unit")
	if cur := str(units, "currency"); cur != "" { // Money
		system, code = "urn:iso:std:iso:4217", cur
	}
	if code != "" {
		unitKeys = append(unitKeys, "|"+code)
		if system != "" {
			unitKeys = append(unitKeys, system+"|"+code)
		}
	}
	if unit != "" {
		unitKeys = append(unitKeys, "~"+unit)
	}
	var keys [][]byte
	for _, u := range unitKeys {
		keys = append(keys, quantityKey(kQLow, u, lo, hi), quantityKey(kQHigh, u, hi, lo))
	}
	return keys
}

func quantityKey(kind byte, unit string, a, b float64) []byte {
	k := key(kind, unit)
	k = append(k, 0)
	k = append(k, encFloat(a)...)
	return append(k, encFloat(b)...)
}

// compositeKeys encodes each combination of the components' values found under the same element.
func (x *Indexer) compositeKeys(p *Param, res map[string]any, nodes []fhirpath.Node) ([][]byte, error) {
	var out [][]byte
	for _, n := range nodes {
		combos := [][]byte{{kComposite}}
		for ci, c := range p.Components {
			found, err := c.compiled.EvaluateNode(res, n)
			if err != nil {
				return nil, err
			}
			var parts [][]byte
			for _, f := range found {
				for _, k := range x.nodeKeys(c.Param, f.Value) {
					if ci < len(p.Components)-1 && !exactKind(k[0]) {
						continue
					}
					parts = append(parts, k)
				}
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
		out = append(out, combos...)
	}
	return out, nil
}

// exactKind reports the kinds that leading composite components may use (exact matches).
func exactKind(k byte) bool {
	switch k {
	case kCode, kSysCode, kNoSys, kRef, kRefID, kURL, kExact:
		return true
	}
	return false
}
