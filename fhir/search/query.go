package search

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"fhirgate/fhir"
)

// Query is a parsed search: what to match (clauses, AND-ed; each clause's values OR-ed) and how to
// present it (sort, paging, includes, summary).
type Query struct {
	// Types are the resource types searched: one for a type-level search, several for _type.
	Types []string
	// Clauses are AND-ed.
	Clauses []*Clause
	// Compartment restricts the search to a patient's compartment ("Patient/123").
	Compartment string
	Includes    []Include
	RevIncludes []Include
	Sort        []SortKey
	// Count is the page size (-1: the server default); 0 asks for the total only.
	Count int
	// Cursor continues a previous page.
	Cursor string
	// Total is none, estimate or accurate (empty: the server decides; fhirgate always counts).
	Total    string
	Summary  fhir.Summary
	Elements []string
	// Ignored lists the parameters that were not understood and ignored (lenient handling).
	Ignored []string
	// Applied holds the parameters actually used, for the self link.
	Applied url.Values
}

// Clause is one condition: a parameter (possibly chained or reverse-chained) and alternative values.
type Clause struct {
	Name     string // as written, e.g. "subject:Patient.name"
	Code     string // the parameter code ("subject"), or "_id", "_lastUpdated", "_has"
	Param    map[string]*Param
	Modifier string
	Values   []Value
	// Chain is the rest of a chained parameter: Target is the type of the referenced resources (from the
	// modifier, or every target type that has the chained parameter), Next the clause on them.
	Chain *Chain
	// Has is a reverse chain: resources of Has.Type whose Has.Param references the match, and satisfy
	// Has.Next.
	Has *Has
}

// Chain is the chained part of a clause.
type Chain struct {
	Targets []string
	Next    *Clause
}

// Has is a _has clause.
type Has struct {
	Type  string
	Param string
	Next  *Clause
}

// Value is one alternative value of a clause.
type Value struct {
	Prefix string   // eq ne gt lt ge le sa eb ap (number, date, quantity)
	Raw    string   // the value without prefix, unescaped except for its own separators
	Parts  []string // composite components ($) or token/quantity parts (|), unescaped
}

// Include is an _include or _revinclude.
type Include struct {
	Source  string // resource type whose parameter is followed
	Param   string // reference parameter code, or "*"
	Target  string // optional target type
	Iterate bool
}

// SortKey is one _sort key.
type SortKey struct {
	Code string
	Desc bool
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// Options bound what a query may ask.
type Options struct {
	DefaultCount, MaxCount int
	// MaxIncludes bounds the distinct _include and _revinclude parameters of a query (0: no limit);
	// repeated ones count once.
	MaxIncludes int
	// Strict turns unknown parameters into errors (Prefer: handling=strict).
	Strict bool
}

// ParseQuery parses the parameters of a search on types (one type, or several for a system search).
func ParseQuery(types []string, params url.Values, opt Options) (*Query, error) {
	q := &Query{Types: types, Count: -1, Applied: url.Values{}}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, raw := range params[name] {
			if err := q.add(name, raw, opt); err != nil {
				return nil, err
			}
		}
	}
	if n := len(q.Includes) + len(q.RevIncludes); opt.MaxIncludes > 0 && n > opt.MaxIncludes {
		return nil, &fhir.Error{Kind: fhir.KindTooCostly, Code: "too-costly", Expression: "_include", Limit: "max-includes",
			Details: fmt.Sprintf("a search may have at most %d distinct _include and _revinclude parameters (--max-includes); it has %d", opt.MaxIncludes, n)}
	}
	if q.Count < 0 {
		q.Count = opt.DefaultCount
	}
	if q.Count > opt.MaxCount {
		// A larger page is not refused but capped, and the self link says so.
		q.Count = opt.MaxCount
		q.Applied.Set("_count", strconv.Itoa(q.Count))
	}
	if q.Summary == fhir.SummaryCount {
		q.Count = 0
	}
	return q, nil
}

func invalid(param, format string, args ...any) error {
	return &fhir.Error{Kind: fhir.KindInvalid, Code: "invalid", MessageID: "MSG_PARAM_INVALID", Expression: param,
		Details: fmt.Sprintf(format, args...)}
}

func unsupported(param, format string, args ...any) error {
	return &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_MODIFIER_INVALID",
		Expression: param, Details: fmt.Sprintf(format, args...)}
}

func (q *Query) add(name, raw string, opt Options) error {
	base, mod, _ := strings.Cut(name, ":")
	switch base {
	case "_format", "_pretty":
		return nil
	case "_count":
		n, err := strconv.Atoi(raw)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(raw, "-") {
			n, err = math.MaxInt, nil // capped below, like any page larger than the limit
		}
		if err != nil || n < 0 {
			return invalid(name, "_count must be a non-negative integer")
		}
		q.Count = n
		q.Applied.Set(name, raw)
		return nil
	case "_cursor":
		q.Cursor = raw
		return nil
	case "_sort":
		for _, k := range strings.Split(raw, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			desc := strings.HasPrefix(k, "-")
			code := strings.TrimPrefix(k, "-")
			if code != "_id" && code != "_lastUpdated" && code != "_score" {
				for _, t := range q.Types {
					p, ok := Lookup(t, code)
					if !ok || !p.Indexed || p.Type == Composite || p.Type == Special {
						return invalid(name, "cannot sort by %q", code)
					}
				}
			}
			if code == "_score" {
				continue // every match scores the same
			}
			q.Sort = append(q.Sort, SortKey{Code: code, Desc: desc})
		}
		q.Applied.Add(name, raw)
		return nil
	case "_total":
		if raw != "none" && raw != "estimate" && raw != "accurate" {
			return invalid(name, "_total must be none, estimate or accurate")
		}
		q.Total = raw
		q.Applied.Set(name, raw)
		return nil
	case "_summary":
		s, err := fhir.ParseSummary(raw)
		if err != nil {
			return err
		}
		q.Summary = s
		q.Applied.Set(name, raw)
		return nil
	case "_elements":
		for _, e := range strings.Split(raw, ",") {
			if e = strings.TrimSpace(e); e != "" {
				q.Elements = append(q.Elements, e)
			}
		}
		q.Applied.Add(name, raw)
		return nil
	case "_include", "_revinclude":
		inc, err := parseInclude(name, mod, raw, base == "_revinclude")
		if err != nil {
			return err
		}
		list := &q.Includes
		if base == "_revinclude" {
			list = &q.RevIncludes
		}
		if slices.Contains(*list, inc) {
			return nil // the same include twice is followed once
		}
		*list = append(*list, inc)
		q.Applied.Add(name, raw)
		return nil
	case "_type":
		return nil // handled by the caller
	case "_contained", "_containedType":
		if raw == "false" || raw == "container" && base == "_containedType" {
			return nil
		}
		return unsupported(name, "searching contained resources is not supported")
	case "_list", "_query", "_filter", "_text", "_content":
		return q.unknown(name, opt, "the %s parameter is not supported", base)
	}
	if raw == "" {
		return nil // empty parameters are ignored
	}
	c, err := q.parseClause(q.Types, name, raw, opt)
	if err != nil || c == nil {
		return err
	}
	q.Clauses = append(q.Clauses, c)
	q.Applied.Add(name, raw)
	return nil
}

func (q *Query) unknown(name string, opt Options, format string, args ...any) error {
	if opt.Strict {
		return &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
			Expression: name, Details: fmt.Sprintf(format, args...)}
	}
	q.Ignored = append(q.Ignored, name)
	return nil
}

func parseInclude(name, mod, raw string, rev bool) (Include, error) {
	inc := Include{}
	switch mod {
	case "":
	case "iterate", "recurse":
		inc.Iterate = true
	default:
		return inc, unsupported(name, "unknown modifier :%s", mod)
	}
	parts := strings.Split(raw, ":")
	if len(parts) < 2 || len(parts) > 3 {
		if raw == "*" {
			return Include{Source: "*", Param: "*", Iterate: inc.Iterate}, nil
		}
		return inc, invalid(name, "%s must be Type:parameter[:TargetType]", name)
	}
	inc.Source, inc.Param = parts[0], parts[1]
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !fhir.IsResourceType(inc.Target) {
			return inc, invalid(name, "unknown target type %q", inc.Target)
		}
	}
	if !fhir.IsResourceType(inc.Source) {
		return inc, invalid(name, "unknown resource type %q", inc.Source)
	}
	if inc.Param != "*" {
		p, ok := Lookup(inc.Source, inc.Param)
		if !ok || p.Type != Reference {
			return inc, invalid(name, "%s is not a reference parameter of %s", inc.Param, inc.Source)
		}
	}
	return inc, nil
}

// parseClause parses name=raw as a condition on resources of types.
func (q *Query) parseClause(types []string, name, raw string, opt Options) (*Clause, error) {
	if strings.HasPrefix(name, "_has:") {
		return parseHas(types, name, raw, opt)
	}
	head, rest, chained := strings.Cut(name, ".")
	code, mod, _ := strings.Cut(head, ":")
	c := &Clause{Name: name, Code: code, Modifier: mod, Param: map[string]*Param{}}
	for _, t := range types {
		p, ok := Lookup(t, code)
		if !ok {
			if q != nil {
				return nil, q.unknown(name, opt, "unknown search parameter %q for %s", code, t)
			}
			return nil, invalid(name, "unknown search parameter %q for %s", code, t)
		}
		if p.Unsupported != "" {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
				Expression: name, Details: p.Unsupported}
		}
		c.Param[t] = p
	}
	p := c.Param[types[0]]
	if chained {
		if p.Type != Reference {
			return nil, invalid(name, "%s is not a reference parameter and cannot be chained", code)
		}
		if mod == "identifier" || mod == "missing" {
			return nil, invalid(name, "a chain cannot follow :%s", mod)
		}
		targets := p.Targets
		if mod != "" {
			if !fhir.IsResourceType(mod) {
				return nil, unsupported(name, "unknown modifier :%s", mod)
			}
			targets = []string{mod}
		}
		nextCode, _, _ := strings.Cut(strings.SplitN(rest, ".", 2)[0], ":")
		var usable []string
		for _, t := range targets {
			if _, ok := Lookup(t, nextCode); ok || strings.HasPrefix(rest, "_has:") {
				usable = append(usable, t)
			}
		}
		if len(usable) == 0 {
			return nil, invalid(name, "no target type of %s has the parameter %q", code, nextCode)
		}
		next, err := (*Query)(nil).parseClause(usable, rest, raw, opt)
		if err != nil {
			return nil, err
		}
		c.Chain = &Chain{Targets: usable, Next: next}
		return c, nil
	}
	if err := checkModifier(p, name, mod); err != nil {
		return nil, err
	}
	vals, err := parseValues(p, name, mod, raw)
	if err != nil {
		return nil, err
	}
	c.Values = vals
	return c, nil
}

func parseHas(types []string, name, raw string, opt Options) (*Clause, error) {
	// _has:Type:param:rest   (rest may itself be _has:...)
	parts := strings.SplitN(strings.TrimPrefix(name, "_has:"), ":", 3)
	if len(parts) != 3 || !fhir.IsResourceType(parts[0]) {
		return nil, invalid(name, "_has must be _has:Type:parameter:search-parameter")
	}
	typ, param, rest := parts[0], parts[1], parts[2]
	p, ok := Lookup(typ, param)
	if !ok || p.Type != Reference {
		return nil, invalid(name, "%s is not a reference parameter of %s", param, typ)
	}
	next, err := (*Query)(nil).parseClause([]string{typ}, rest, raw, opt)
	if err != nil {
		return nil, err
	}
	return &Clause{Name: name, Code: "_has", Has: &Has{Type: typ, Param: param, Next: next}}, nil
}

func checkModifier(p *Param, name, mod string) error {
	if mod == "" {
		return nil
	}
	if p.Code == "_id" && mod != "missing" {
		return unsupported(name, "_id takes no modifier")
	}
	for _, m := range p.Modifiers() {
		if m == mod {
			return nil
		}
	}
	return unsupported(name, "the modifier :%s is not supported on %s (a %s parameter)", mod, p.Code, p.Type)
}

// splitEscaped splits s on sep, honouring backslash escapes (\, \| \$ \\), and unescapes the parts.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			next := s[i+1]
			if next == sep || next == ',' || next == '|' || next == '$' || next == '\\' {
				if next == sep {
					cur.WriteByte(next)
				} else {
					cur.WriteByte('\\')
					cur.WriteByte(next)
				}
				i++
				continue
			}
		}
		if c == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

// unescape removes the remaining backslash escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func parseValues(p *Param, name, mod, raw string) ([]Value, error) {
	if mod == "missing" {
		if raw != "true" && raw != "false" {
			return nil, invalid(name, ":missing takes true or false")
		}
		return []Value{{Raw: raw}}, nil
	}
	var out []Value
	for _, alt := range splitEscaped(raw, ',') {
		if alt == "" {
			continue
		}
		v, err := parseValue(p, name, mod, alt)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, invalid(name, "no value")
	}
	return out, nil
}

func hasPrefix(s string) (string, string) {
	if len(s) > 2 {
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) && (s[2] >= '0' && s[2] <= '9' || s[2] == '-' || s[2] == '.' || s[2] == '+') {
				return p, s[2:]
			}
		}
	}
	return "", s
}

func parseValue(p *Param, name, mod, alt string) (Value, error) {
	v := Value{Raw: alt}
	switch p.Type {
	case Number, Date, Quantity:
		v.Prefix, v.Raw = hasPrefix(alt)
	}
	switch p.Type {
	case Date:
		if _, _, err := dateRange(v.Raw); err != nil {
			return v, invalid(name, "%q is not a date (yyyy, yyyy-mm, yyyy-mm-dd or a dateTime with a zone)", v.Raw)
		}
	case Number:
		if _, _, _, err := numberRange(v.Raw); err != nil {
			return v, invalid(name, "%q is not a number", v.Raw)
		}
	case Quantity:
		v.Parts = splitEscaped(v.Raw, '|')
		if len(v.Parts) != 1 && len(v.Parts) != 3 {
			return v, invalid(name, "a quantity is number, number|system|code or number||unit")
		}
		if _, _, _, err := numberRange(v.Parts[0]); err != nil {
			return v, invalid(name, "%q is not a number", v.Parts[0])
		}
		for i := range v.Parts {
			v.Parts[i] = unescape(v.Parts[i])
		}
	case Token:
		if mod == "of-type" {
			v.Parts = splitEscaped(alt, '|')
			if len(v.Parts) != 3 {
				return v, invalid(name, ":of-type takes type-system|type-code|value")
			}
		} else if mod != "text" {
			v.Parts = splitEscaped(alt, '|')
			if len(v.Parts) > 2 {
				return v, invalid(name, "a token is code, system|code, |code or system|")
			}
		}
		for i := range v.Parts {
			v.Parts[i] = unescape(v.Parts[i])
		}
		v.Raw = unescape(v.Raw)
	case Reference:
		if mod == "identifier" {
			v.Parts = splitEscaped(alt, '|')
			if len(v.Parts) > 2 {
				return v, invalid(name, ":identifier takes system|value or value")
			}
			for i := range v.Parts {
				v.Parts[i] = unescape(v.Parts[i])
			}
		}
		v.Raw = unescape(v.Raw)
	case Composite:
		v.Parts = splitEscaped(alt, '$')
		if len(v.Parts) != len(p.Components) {
			return v, invalid(name, "%s takes %d values joined by $", p.Code, len(p.Components))
		}
		for i, c := range p.Components {
			if _, err := parseValue(c.Param, name, "", v.Parts[i]); err != nil {
				return v, err
			}
		}
	case String, URI:
		v.Raw = unescape(v.Raw)
	case Special: // near: latitude|longitude[|distance[|units]]
		v.Parts = splitEscaped(alt, '|')
		if len(v.Parts) < 2 || len(v.Parts) > 4 {
			return v, invalid(name, "near takes latitude|longitude|distance|units")
		}
		for i, part := range v.Parts[:min(3, len(v.Parts))] {
			if i == 2 && part == "" {
				continue
			}
			if _, err := strconv.ParseFloat(part, 64); err != nil {
				return v, invalid(name, "%q is not a number", part)
			}
		}
		if len(v.Parts) == 4 {
			if _, ok := distanceUnits[v.Parts[3]]; !ok {
				return v, invalid(name, "unknown distance unit %q (km, m, [mi_i])", v.Parts[3])
			}
		}
	}
	return v, nil
}

// distanceUnits are the units near accepts, in kilometres (UCUM codes).
var distanceUnits = map[string]float64{"": 1, "km": 1, "m": 0.001, "[mi_i]": 1.609344, "mi": 1.609344}
