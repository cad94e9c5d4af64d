package search

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"fhirgate/fhir/fhirpath"
)

// spec is one way of satisfying a clause: index entries of a parameter with lo <= value < hi (hi nil:
// every value from lo on) that pass check. The same spec drives index scans and checks candidates, so
// the two can never disagree.
type spec struct {
	param  string
	lo, hi []byte
	check  func(v []byte) bool
}

func (s *spec) matches(param string, v []byte) bool {
	if param != s.param || bytes.Compare(v, s.lo) < 0 || (s.hi != nil && bytes.Compare(v, s.hi) >= 0) {
		return false
	}
	return s.check == nil || s.check(v)
}

func exactSpec(param string, k []byte) spec {
	return spec{param: param, lo: k, hi: append(append([]byte(nil), k...), 0)}
}

func prefixSpec(param string, k []byte) spec {
	return spec{param: param, lo: k, hi: upper(k)}
}

// upper returns the smallest byte string greater than every string with prefix k.
func upper(k []byte) []byte {
	end := append([]byte(nil), k...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// specBuilder turns parsed values into specs.
type specBuilder struct {
	baseURL string
	now     time.Time
}

// valueSpecs returns the specs of one value of parameter p (with modifier mod), each key prefixed by
// prefix (composites) and stored under the parameter code param.
func (b specBuilder) valueSpecs(p *Param, param, mod string, v Value, prefix []byte) []spec {
	k := func(kind byte, parts ...string) []byte {
		return append(append([]byte(nil), prefix...), key(kind, parts...)...)
	}
	switch p.Type {
	case Token:
		switch mod {
		case "text":
			return []spec{prefixSpec(param, k(kText, normalize(v.Raw)))}
		case "of-type":
			return []spec{exactSpec(param, k(kOfType, v.Parts[0], "|", v.Parts[1], "|", v.Parts[2]))}
		}
		if len(v.Parts) == 1 {
			return []spec{exactSpec(param, k(kCode, v.Parts[0]))}
		}
		system, code := v.Parts[0], v.Parts[1]
		switch {
		case system == "" && code == "":
			return nil
		case system == "":
			return []spec{exactSpec(param, k(kNoSys, code))}
		case code == "":
			return []spec{exactSpec(param, k(kSystem, system))}
		}
		return []spec{exactSpec(param, k(kSysCode, system, "|", code))}
	case String:
		switch mod {
		case "exact":
			return []spec{exactSpec(param, k(kExact, v.Raw))}
		case "contains":
			want := normalize(v.Raw)
			off := len(prefix) + 1
			s := prefixSpec(param, k(kString))
			s.check = func(x []byte) bool { return strings.Contains(string(x[off:]), want) }
			return []spec{s}
		}
		return []spec{prefixSpec(param, k(kString, normalize(v.Raw)))}
	case URI:
		switch mod {
		case "below":
			want := v.Raw
			off := len(prefix) + 1
			s := prefixSpec(param, k(kURL, want))
			s.check = func(x []byte) bool {
				rest := string(x[off+len(want):])
				return rest == "" || strings.HasSuffix(want, "/") || strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "|")
			}
			return []spec{s}
		case "above":
			var out []spec
			u := v.Raw
			for {
				out = append(out, exactSpec(param, k(kURL, u)))
				i := strings.LastIndexByte(u, '/')
				if i <= strings.Index(u, "://")+2 || i < 0 {
					break
				}
				u = u[:i]
			}
			return out
		}
		return []spec{exactSpec(param, k(kURL, v.Raw))}
	case Reference:
		return b.referenceSpecs(param, mod, v, k)
	case Date:
		lo, hi, err := dateRange(v.Raw)
		if err != nil {
			return nil
		}
		return rangeSpecs(param, prefix, v.Prefix, float64(lo), float64(hi), true, b.now)
	case Number:
		n, lo, hi, err := numberRange(v.Raw)
		if err != nil {
			return nil
		}
		return numberSpecs(param, prefix, v.Prefix, n, lo, hi)
	case Quantity:
		n, lo, hi, err := numberRange(v.Parts[0])
		if err != nil {
			return nil
		}
		var units []string
		switch {
		case len(v.Parts) == 1:
			units = []string{""}
		case v.Parts[1] != "" && v.Parts[2] != "":
			units = []string{v.Parts[1] + "|" + v.Parts[2]}
		case v.Parts[2] != "":
			units = []string{"|" + v.Parts[2], "~" + v.Parts[2]}
		default:
			units = []string{""}
		}
		var out []spec
		for _, u := range units {
			qp := append(append(append([]byte(nil), prefix...), kQLow), u...)
			qp = append(qp, 0)
			out = append(out, numberSpecsKinds(param, qp, qhigh(prefix, u), v.Prefix, n, lo, hi)...)
		}
		return out
	case Composite:
		return b.compositeSpecs(p, param, v)
	case Special:
		return nearSpecs(param, v)
	}
	return nil
}

// nearSpecs: every position within the distance (default 10 km) of the point, by great-circle distance.
func nearSpecs(param string, v Value) []spec {
	lat, _ := strconv.ParseFloat(v.Parts[0], 64)
	lon, _ := strconv.ParseFloat(v.Parts[1], 64)
	dist := 10.0
	if len(v.Parts) > 2 && v.Parts[2] != "" {
		dist, _ = strconv.ParseFloat(v.Parts[2], 64)
	}
	unit := ""
	if len(v.Parts) > 3 {
		unit = v.Parts[3]
	}
	km := dist * distanceUnits[unit]
	s := prefixSpec(param, []byte{kGeo})
	s.check = func(x []byte) bool {
		if len(x) != 17 {
			return false
		}
		return haversineKm(lat, lon, decFloat(x[1:9]), decFloat(x[9:17])) <= km
	}
	return []spec{s}
}

func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0088
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

func qhigh(prefix []byte, unit string) []byte {
	q := append(append(append([]byte(nil), prefix...), kQHigh), unit...)
	return append(q, 0)
}

func (b specBuilder) referenceSpecs(param, mod string, v Value, k func(byte, ...string) []byte) []spec {
	if mod == "identifier" {
		if len(v.Parts) == 1 {
			return []spec{exactSpec(param, k(kRefIdentV, v.Parts[0]))}
		}
		return []spec{exactSpec(param, k(kRefIdent, v.Parts[0], "|", v.Parts[1]))}
	}
	ref := v.Raw
	if rel, ok := strings.CutPrefix(ref, b.baseURL); ok {
		ref = rel
	}
	if mod != "" { // :Type
		if !strings.Contains(ref, "/") {
			ref = mod + "/" + ref
		}
		typ, id := fhirpath.ParseReference(ref)
		if typ != mod {
			return nil
		}
		return []spec{exactSpec(param, k(kRef, typ, "/", id))}
	}
	if strings.Contains(ref, ":") || strings.Contains(ref, "|") {
		// A URL, or a canonical with its version (url|version: that version only, relative or not).
		return []spec{exactSpec(param, k(kURL, ref))}
	}
	if strings.Contains(ref, "/") {
		typ, id := fhirpath.ParseReference(ref)
		if typ == "" {
			// A relative canonical or uri that names no resource here: as written, like the index has it.
			return []spec{exactSpec(param, k(kURL, ref))}
		}
		return []spec{exactSpec(param, k(kRef, typ, "/", id))}
	}
	// An id, or a canonical written as a bare name (an R4 example has "library-fhir-helpers-predecessor"),
	// which the index has as written.
	return []spec{exactSpec(param, k(kRefID, ref)), exactSpec(param, k(kURL, ref))}
}

// rangeSpecs are the specs of a prefixed search over [slo, shi] (dates: inclusive ms).
func rangeSpecs(param string, prefix []byte, pfx string, slo, shi float64, isTime bool, now time.Time) []spec {
	enc := func(f float64) []byte {
		if isTime {
			return encTime(int64(f))
		}
		return encFloat(f)
	}
	dec := func(b []byte) float64 {
		if isTime {
			return float64(decTime(b))
		}
		return decFloat(b)
	}
	L := append(append([]byte(nil), prefix...), kLow)
	H := append(append([]byte(nil), prefix...), kHigh)
	off := len(prefix) + 1
	bounds := func(x []byte, low bool) (float64, float64) { // (tlo, thi)
		a, b := dec(x[off:off+8]), dec(x[off+8:off+16])
		if low {
			return a, b
		}
		return b, a
	}
	step := 1.0
	eq := func(tlo, thi float64) bool { return tlo >= slo && thi <= shi }
	scanL := func(from, to []byte, ok func(tlo, thi float64) bool) spec {
		s := spec{param: param, lo: append(append([]byte(nil), L...), from...), hi: upper(L)}
		if to != nil {
			s.hi = append(append([]byte(nil), L...), to...)
		}
		s.check = func(x []byte) bool {
			if len(x) < off+16 {
				return false
			}
			return ok(bounds(x, true))
		}
		return s
	}
	scanH := func(from, to []byte, ok func(tlo, thi float64) bool) spec {
		s := spec{param: param, lo: append(append([]byte(nil), H...), from...), hi: upper(H)}
		if to != nil {
			s.hi = append(append([]byte(nil), H...), to...)
		}
		s.check = func(x []byte) bool {
			if len(x) < off+16 {
				return false
			}
			return ok(bounds(x, false))
		}
		return s
	}
	switch pfx {
	case "", "eq":
		return []spec{scanL(enc(slo), enc(shi+step), eq)}
	case "ne":
		return []spec{scanL(nil, nil, func(tlo, thi float64) bool { return !eq(tlo, thi) })}
	case "gt":
		return []spec{scanH(enc(shi+step), nil, func(tlo, thi float64) bool { return thi > shi })}
	case "lt":
		return []spec{scanL(nil, enc(slo), func(tlo, thi float64) bool { return tlo < slo })}
	case "ge":
		// The search value's own range counts as "at or above" it: a target that ends within it, or
		// anywhere after its start, has instants at or above the value (a Period ending on 2016-06-30 is
		// found by ge2016-06-30).
		return []spec{scanH(enc(slo), nil, func(tlo, thi float64) bool { return thi >= slo })}
	case "le":
		// Likewise "at or below": a Period starting on 2016-01-01 is found by le2016-01-01.
		return []spec{scanL(nil, enc(shi+step), func(tlo, thi float64) bool { return tlo <= shi })}
	case "sa":
		return []spec{scanL(enc(shi+step), nil, func(tlo, thi float64) bool { return tlo > shi })}
	case "eb":
		return []spec{scanH(nil, enc(slo), func(tlo, thi float64) bool { return thi < slo })}
	case "ap":
		// Approximately: the search range widened by 10% of its distance to now (at least a day).
		mid := (slo + shi) / 2
		widen := math.Max(math.Abs(float64(now.UnixMilli())-mid)*0.1, 86400000)
		alo, ahi := slo-widen, shi+widen
		return []spec{scanL(nil, enc(ahi+step), func(tlo, thi float64) bool { return tlo <= ahi && thi >= alo })}
	}
	return nil
}

// numberSpecs are the specs of a prefixed number search: eq and ne use the precision range [lo, hi),
// the comparisons use the exact value n.
func numberSpecs(param string, prefix []byte, pfx string, n, lo, hi float64) []spec {
	return numberSpecsKinds(param, append(append([]byte(nil), prefix...), kLow), append(append([]byte(nil), prefix...), kHigh), pfx, n, lo, hi)
}

func numberSpecsKinds(param string, L, H []byte, pfx string, n, lo, hi float64) []spec {
	off := len(L)
	pair := func(x []byte) (float64, float64) {
		if len(x) < off+16 {
			return math.NaN(), math.NaN()
		}
		return decFloat(x[off : off+8]), decFloat(x[off+8 : off+16])
	}
	scanL := func(from, to []byte, ok func(tlo, thi float64) bool) spec {
		s := spec{param: param, lo: append(append([]byte(nil), L...), from...), hi: upper(L)}
		if to != nil {
			s.hi = append(append([]byte(nil), L...), to...)
		}
		s.check = func(x []byte) bool { a, b := pair(x); return ok(a, b) }
		return s
	}
	scanH := func(from, to []byte, ok func(tlo, thi float64) bool) spec {
		s := spec{param: param, lo: append(append([]byte(nil), H...), from...), hi: upper(H)}
		if to != nil {
			s.hi = append(append([]byte(nil), H...), to...)
		}
		s.check = func(x []byte) bool { b, a := pair(x); return ok(a, b) }
		return s
	}
	next := math.Nextafter(n, math.Inf(1))
	eq := func(tlo, thi float64) bool { return tlo >= lo && thi < hi }
	switch pfx {
	case "", "eq":
		return []spec{scanL(encFloat(lo), encFloat(hi), eq)}
	case "ne":
		return []spec{scanL(nil, nil, func(a, b float64) bool { return !eq(a, b) })}
	case "gt", "sa":
		return []spec{scanH(encFloat(next), nil, func(a, b float64) bool { return b > n && (pfx == "gt" || a > n) })}
	case "lt", "eb":
		return []spec{scanL(nil, encFloat(n), func(a, b float64) bool { return a < n && (pfx == "lt" || b < n) })}
	case "ge":
		return []spec{scanH(encFloat(n), nil, func(a, b float64) bool { return b >= n })}
	case "le":
		return []spec{scanL(nil, encFloat(next), func(a, b float64) bool { return a <= n })}
	case "ap":
		w := math.Abs(n) * 0.1
		return []spec{scanL(nil, encFloat(math.Nextafter(n+w, math.Inf(1))), func(a, b float64) bool { return a <= n+w && b >= n-w })}
	}
	return nil
}

// compositeSpecs: the leading components give exact key prefixes, the last component its own specs. A
// leading component that is a number or a date (MolecularSequence's coordinates: chromosome, start, end)
// is indexed in its fixed-width low-bound form (see compositeKeys); from the first such component on, the
// spec scans every key under the exact prefix and checks each remaining part with its own spec.
func (b specBuilder) compositeSpecs(p *Param, param string, v Value) []spec {
	prefixes := [][]byte{{kComposite}}
	for i, c := range p.Components {
		cv, err := parseValue(c.Param, param, "", v.Parts[i])
		if err != nil {
			return nil
		}
		if i == len(p.Components)-1 {
			var out []spec
			for _, pre := range prefixes {
				out = append(out, b.valueSpecs(c.Param, param, "", cv, pre)...)
			}
			return out
		}
		specs := b.valueSpecs(c.Param, param, "", cv, nil)
		if !allExact(specs) {
			return b.checkedTail(p, param, v, i, prefixes)
		}
		var next [][]byte
		for _, pre := range prefixes {
			for _, s := range specs {
				k := append(append([]byte(nil), pre...), s.lo...)
				next = append(next, append(k, 0))
			}
		}
		prefixes = next
	}
	return nil
}

// allExact reports whether specs are exact keys (which can lead a composite key).
func allExact(specs []spec) bool {
	for _, s := range specs {
		if s.check != nil || len(s.hi) != len(s.lo)+1 {
			return false
		}
	}
	return len(specs) > 0
}

// checkedTail is the spec of a composite whose components from..last follow an exact prefix: every key
// under a prefix, each remaining part checked by its component's specs (a fixed-width number or date
// part, an exact part up to its separator, the last part as it is).
func (b specBuilder) checkedTail(p *Param, param string, v Value, from int, prefixes [][]byte) []spec {
	parts := make([][]spec, 0, len(p.Components)-from)
	for i := from; i < len(p.Components); i++ {
		cv, err := parseValue(p.Components[i].Param, param, "", v.Parts[i])
		if err != nil {
			return nil
		}
		parts = append(parts, b.valueSpecs(p.Components[i].Param, param, "", cv, nil))
	}
	check := func(prefixLen int) func([]byte) bool {
		return func(x []byte) bool {
			rest := x[prefixLen:]
			for i, specs := range parts {
				last := i == len(parts)-1
				var part []byte
				switch {
				case last:
					part = rest
				case len(rest) >= 17 && rest[0] == kLow: // a number or date: [L lo hi]
					part, rest = rest[:17], rest[17:]
				default: // an exact key, up to its separator
					end := bytes.IndexByte(rest, 0)
					if end < 0 {
						return false
					}
					part, rest = rest[:end], rest[end:]
				}
				if !anyMatches(specs, param, part) {
					return false
				}
				if !last {
					if len(rest) == 0 || rest[0] != 0 {
						return false
					}
					rest = rest[1:]
				}
			}
			return true
		}
	}
	out := make([]spec, 0, len(prefixes))
	for _, pre := range prefixes {
		s := prefixSpec(param, pre)
		s.check = check(len(pre))
		out = append(out, s)
	}
	return out
}

// anyMatches reports whether a composite part matches one of its component's specs; a number or date
// part, kept in its low-bound form, is also offered in its high-bound form [H hi lo] to the specs that
// scan by the high bound (gt, ge, sa).
func anyMatches(specs []spec, param string, v []byte) bool {
	var high []byte
	if len(v) == 17 && v[0] == kLow {
		high = append(append([]byte{kHigh}, v[9:17]...), v[1:9]...)
	}
	for i := range specs {
		if specs[i].matches(param, v) || high != nil && specs[i].matches(param, high) {
			return true
		}
	}
	return false
}
