// Package scope parses SMART App Launch scopes (v1 and v2 grammars, granular v2 scopes, launch-context and
// identity scopes) and answers which granted scopes permit an interaction on a resource type.
//
// A scope string (the `scope` claim, or the `scp` array) is parsed token by token: a token that is unknown
// or malformed is reported in Set.Invalid and ignored, the others are used (a server ignores what it does
// not understand). Resource scopes are
//
//	("patient" | "user" | "system") "/" (ResourceType | "*") "." perms ["?" param "=" value *("&" param "=" value)]
//
// with perms either v2 letters (a non-empty subset of "cruds", in that order) or a v1 word ("read" = rs,
// "write" = cud, "*" = cruds). A granular restriction (the query part) is only allowed on a v2 scope; it is
// kept parsed in Scope.Query for the caller to evaluate with the search engine: several params of one scope
// are AND-ed, several scopes on one type are OR-ed.
//
// Everything here fails closed: a scope that cannot be understood exactly grants nothing.
package scope

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"fhirgate/fhir"
)

// Context is the first part of a resource scope: whose data the scope is about.
type Context string

// The three SMART contexts.
const (
	Patient Context = "patient" // data about the patient in context
	User    Context = "user"    // data the signed-in user may access
	System  Context = "system"  // backend services: the client's configured policy
)

// Perm is a set of SMART v2 permission letters.
type Perm uint8

// The permission letters, in the order "cruds".
const (
	Create Perm = 1 << iota // c: create
	Read                    // r: read, vread, instance history
	Update                  // u: update (also update-as-create), patch
	Delete                  // d: delete
	Search                  // s: type, system and compartment search; type and system history

	All = Create | Read | Update | Delete | Search
)

const letters = "cruds"

// String returns the letters of p in the order "cruds" (e.g. "rs"); bits outside All are ignored.
func (p Perm) String() string {
	var b [5]byte
	n := 0
	for i := range len(letters) {
		if p&(1<<i) != 0 {
			b[n] = letters[i]
			n++
		}
	}
	return string(b[:n])
}

// PermFor maps a FHIR R4 restful-interaction code to the permission it needs. "operation" (e.g.
// $everything) needs Search on each type it returns. It returns 0 for interactions that need no single
// permission by themselves (capabilities; batch and transaction, whose entries are checked one by one) and
// for unknown codes; Allowed refuses a request for permission 0.
func PermFor(interaction string) Perm {
	switch interaction {
	case "read", "vread", "history-instance":
		return Read
	case "search", "search-type", "search-system", "history-type", "history-system", "operation":
		return Search
	case "create":
		return Create
	case "update", "patch":
		return Update
	case "delete":
		return Delete
	}
	return 0
}

// Scope is one resource scope.
type Scope struct {
	// Raw is the token as granted.
	Raw string
	// Context is patient, user or system.
	Context Context
	// Type is an R4 resource type (case-sensitive) or "*" for every type, present and future.
	Type string
	// Perms is never 0 on a parsed scope.
	Perms Perm
	// V1 marks a scope written in the v1 grammar (.read, .write, .*).
	V1 bool
	// Query is the granular restriction of a v2 scope, decoded as a URL query string ("+" is a space, as
	// in a search URL); nil when there is none. Its params are AND-ed; a value may itself hold a
	// comma-separated OR list, with the usual search meaning. Shared: do not modify.
	Query url.Values
}

// Restricted reports whether the scope carries a granular restriction: it then grants its permissions
// only on resources that match Query.
func (sc Scope) Restricted() bool { return len(sc.Query) > 0 }

// String returns the canonical form of the scope: v1 scopes keep their v1 word, query params are sorted
// by name (values of one param keep their order) and percent-encoded where needed. Parsing the canonical
// form gives back an Equal scope.
func (sc Scope) String() string {
	var b strings.Builder
	b.Grow(len(sc.Context) + len(sc.Type) + 8)
	b.WriteString(string(sc.Context))
	b.WriteByte('/')
	b.WriteString(sc.Type)
	b.WriteByte('.')
	b.WriteString(permText(sc.Perms, sc.V1))
	if len(sc.Query) > 0 {
		keys := make([]string, 0, len(sc.Query))
		for k := range sc.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sep := byte('?')
		for _, k := range keys {
			for _, v := range sc.Query[k] {
				b.WriteByte(sep)
				sep = '&'
				escape(&b, k)
				b.WriteByte('=')
				escape(&b, v)
			}
		}
	}
	return b.String()
}

func permText(p Perm, v1 bool) string {
	if v1 {
		switch p {
		case Read | Search:
			return "read"
		case Create | Update | Delete:
			return "write"
		case All:
			return "*"
		}
	}
	return p.String()
}

// Equal reports whether two scopes grant the same thing (everything but Raw is compared).
func (sc Scope) Equal(o Scope) bool {
	if sc.Context != o.Context || sc.Type != o.Type || sc.Perms != o.Perms || sc.V1 != o.V1 ||
		len(sc.Query) != len(o.Query) {
		return false
	}
	for k, v := range sc.Query {
		w, ok := o.Query[k]
		if !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// Invalid is a token that was not understood; it grants nothing. It is an error.
type Invalid struct {
	Raw, Reason string
}

func (i Invalid) Error() string { return "invalid scope " + strconv.Quote(i.Raw) + ": " + i.Reason }

// Set is a parsed scope string.
type Set struct {
	// Resource holds the resource scopes, in the order granted, without duplicates.
	Resource []Scope
	// Other holds the launch-context and identity scopes (openid, fhirUser, profile, launch,
	// launch/patient, launch/encounter, launch/<lowercase type>[?role=uri], offline_access,
	// online_access), as granted, without duplicates.
	Other []string
	// Invalid holds the tokens not understood, without duplicates.
	Invalid []Invalid
}

// Parse parses a space-separated scope string (the `scope` claim or token-response member). Any run of
// ASCII whitespace (space, tab, CR, LF, FF, VT) separates tokens.
func Parse(s string) Set {
	var p parser
	p.addString(s)
	return p.set
}

// ParseList parses the `scp` claim form. An element holding whitespace is split like Parse would, so
// ParseList(l) equals Parse(strings.Join(l, " ")).
func ParseList(scopes []string) Set {
	var p parser
	for _, s := range scopes {
		p.addString(s)
	}
	return p.set
}

// Has reports whether the non-resource scope name (e.g. "openid", "launch/patient") was granted. A
// launch/<type>?role=... token also counts as launch/<type>. Resource permissions are answered by Allowed.
func (s Set) Has(name string) bool {
	for _, o := range s.Other {
		if o == name {
			return true
		}
		if q := strings.IndexByte(o, '?'); q >= 0 && o[:q] == name {
			return true
		}
	}
	return false
}

// Allowed returns the scopes that grant permission p on resource type typ in one of the given contexts
// (the caller says which apply: e.g. Patient for a patient-context request, User for a user's, System
// for a backend service). A scope of type "*" matches every type. Scopes are a union: when p has several
// letters, the result holds every scope contributing one of them, and is nil unless together they cover
// all of p. A nil or empty result means refused; so does p == 0 or no context.
//
// Returned scopes may be Restricted: see Restrictions for a single-letter p.
func (s Set) Allowed(typ string, p Perm, contexts ...Context) []Scope {
	p &= All
	if p == 0 || typ == "" || len(contexts) == 0 {
		return nil
	}
	grants := func(sc *Scope) bool {
		return sc.Perms&p != 0 && (sc.Type == typ || sc.Type == "*") && slices.Contains(contexts, sc.Context)
	}
	n := 0
	var got Perm
	for i := range s.Resource {
		if grants(&s.Resource[i]) {
			n++
			got |= s.Resource[i].Perms & p
		}
	}
	if got != p {
		return nil
	}
	out := make([]Scope, 0, n)
	for i := range s.Resource {
		if grants(&s.Resource[i]) {
			out = append(out, s.Resource[i])
		}
	}
	return out
}

// Restrictions interprets the result of Allowed for a single permission letter: all is true when one of
// the scopes is unrestricted (every resource of the type is granted); otherwise a resource is granted
// only if it matches at least one of queries (OR), each query's params AND-ed. No scopes: nothing
// granted (queries nil, all false).
func Restrictions(scopes []Scope) (queries []url.Values, all bool) {
	for _, sc := range scopes {
		if !sc.Restricted() {
			return nil, true
		}
		queries = append(queries, sc.Query)
	}
	return queries, false
}

// Needed returns a scope that would grant p on typ in context ctx, in the v2 form with only the letters
// of p (e.g. "patient/Observation.r"), for 403 messages. It returns "" when p holds no letter.
func Needed(ctx Context, typ string, p Perm) string {
	if p&All == 0 {
		return ""
	}
	return string(ctx) + "/" + typ + "." + p.String()
}

// parser accumulates a Set, dropping duplicates.
type parser struct {
	set       Set
	seenScope map[string]bool
	seenOther map[string]bool
	seenBad   map[string]bool
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *parser) addString(s string) {
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		if j > i {
			p.add(s[i:j])
		}
		i = j
	}
}

func (p *parser) add(tok string) {
	if reason := tokenChars(tok); reason != "" {
		p.bad(tok, reason)
		return
	}
	head := tok
	if k := strings.IndexAny(tok, "/?"); k >= 0 {
		head = tok[:k]
	}
	switch Context(head) {
	case Patient, User, System:
		sc, reason := parseResource(tok)
		if reason != "" {
			p.bad(tok, reason)
			return
		}
		// Without a query part a valid token is already canonical.
		key := tok
		if sc.Query != nil {
			key = sc.String()
		}
		if p.seenScope == nil {
			p.seenScope = make(map[string]bool)
		}
		if !p.seenScope[key] {
			p.seenScope[key] = true
			p.set.Resource = append(p.set.Resource, sc)
		}
		return
	}
	if reason := otherScope(tok, head); reason != "" {
		p.bad(tok, reason)
		return
	}
	if p.seenOther == nil {
		p.seenOther = make(map[string]bool)
	}
	if !p.seenOther[tok] {
		p.seenOther[tok] = true
		p.set.Other = append(p.set.Other, tok)
	}
}

func (p *parser) bad(tok, reason string) {
	if p.seenBad == nil {
		p.seenBad = make(map[string]bool)
	}
	if !p.seenBad[tok] {
		p.seenBad[tok] = true
		p.set.Invalid = append(p.set.Invalid, Invalid{Raw: tok, Reason: reason})
	}
}

// tokenChars checks the RFC 6749 §3.3 scope-token alphabet: %x21 / %x23-5B / %x5D-7E.
func tokenChars(tok string) string {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "character " + strconv.Quote(string(c)) + " not allowed in a scope token (RFC 6749 §3.3); percent-encode it"
		}
	}
	return ""
}

func parseResource(tok string) (Scope, string) {
	slash := strings.IndexByte(tok, '/')
	if slash < 0 {
		return Scope{}, "missing '/' after the context"
	}
	sc := Scope{Raw: tok, Context: Context(tok[:slash])}
	rest := tok[slash+1:]
	query, hasQuery := "", false
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest, query, hasQuery = rest[:q], rest[q+1:], true
	}
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return Scope{}, "missing '.' between the resource type and the permissions"
	}
	typ, perms := rest[:dot], rest[dot+1:]
	switch {
	case typ == "":
		return Scope{}, "missing resource type"
	case strings.IndexByte(typ, '/') >= 0:
		return Scope{}, "unexpected '/' in the resource type"
	case typ != "*" && !fhir.IsResourceType(typ):
		return Scope{}, "unknown resource type " + strconv.Quote(typ) + " (R4 types are case-sensitive)"
	}
	sc.Type = typ
	switch perms {
	case "":
		return Scope{}, "empty permissions"
	case "read":
		sc.Perms, sc.V1 = Read|Search, true
	case "write":
		sc.Perms, sc.V1 = Create|Update|Delete, true
	case "*":
		sc.Perms, sc.V1 = All, true
	default:
		last := -1
		for i := 0; i < len(perms); i++ {
			k := strings.IndexByte(letters, perms[i])
			if k < 0 {
				return Scope{}, "unknown permission " + strconv.Quote(perms[i:i+1]) + " (v2: letters of \"cruds\"; v1: read, write, *)"
			}
			if k <= last {
				return Scope{}, "permission letters must be distinct and in the order c r u d s"
			}
			last = k
			sc.Perms |= 1 << k
		}
	}
	if hasQuery {
		if sc.V1 {
			return Scope{}, "a granular restriction needs v2 permissions (e.g. .rs, not .read)"
		}
		q, reason := parseQuery(query)
		if reason != "" {
			return Scope{}, reason
		}
		sc.Query = q
	}
	return sc, ""
}

// resultParams shape a search result instead of selecting resources: they cannot restrict a scope (and
// _include/_revinclude would widen it to other types).
var resultParams = map[string]bool{
	"_sort": true, "_count": true, "_include": true, "_revinclude": true, "_summary": true, "_total": true,
	"_elements": true, "_contained": true, "_containedType": true, "_format": true, "_pretty": true,
}

func parseQuery(q string) (url.Values, string) {
	if q == "" {
		return nil, "empty granular restriction after '?'"
	}
	vals := url.Values{}
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			return nil, "empty parameter in the granular restriction"
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			return nil, "parameter " + strconv.Quote(part) + " has no '=value'"
		}
		name, err := url.QueryUnescape(part[:eq])
		if err != nil {
			return nil, "bad percent-encoding in parameter name " + strconv.Quote(part[:eq])
		}
		value, err := url.QueryUnescape(part[eq+1:])
		if err != nil {
			return nil, "bad percent-encoding in the value of " + strconv.Quote(name)
		}
		if name == "" {
			return nil, "empty parameter name in the granular restriction"
		}
		if value == "" {
			return nil, "empty value for " + strconv.Quote(name) + " in the granular restriction"
		}
		base := name
		if c := strings.IndexByte(base, ':'); c >= 0 {
			base = base[:c]
		}
		if resultParams[base] {
			return nil, "result parameter " + strconv.Quote(name) + " cannot restrict a scope"
		}
		vals[name] = append(vals[name], value)
	}
	return vals, ""
}

var launchTypes = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	for _, t := range fhir.ResourceTypes() {
		m[strings.ToLower(t)] = true
	}
	return m
})

// otherScope checks a non-resource token; head is the token up to its first '/' or '?'.
func otherScope(tok, head string) string {
	switch tok {
	case "openid", "fhirUser", "profile", "launch", "offline_access", "online_access":
		return ""
	}
	if head != "launch" || len(tok) == len(head) || tok[len(head)] != '/' {
		if strings.EqualFold(head, "patient") || strings.EqualFold(head, "user") || strings.EqualFold(head, "system") {
			return "unknown context " + strconv.Quote(head) + " (contexts are patient, user, system, in lower case)"
		}
		return "unknown scope"
	}
	rest := tok[len("launch/"):]
	typ, query, hasQuery := rest, "", false
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		typ, query, hasQuery = rest[:q], rest[q+1:], true
	}
	if !launchTypes()[typ] {
		return "unknown launch context " + strconv.Quote(typ) + " (launch/<resource type in lower case>)"
	}
	if hasQuery {
		name, value, ok := strings.Cut(query, "=")
		if !ok || name != "role" || value == "" || strings.IndexByte(value, '&') >= 0 {
			return "a launch context scope takes only ?role=<uri>"
		}
		if _, err := url.QueryUnescape(value); err != nil {
			return "bad percent-encoding in the role"
		}
	}
	return ""
}

// escape writes s percent-encoded for the canonical query: everything outside a readable safe set is
// encoded (so the result is always a valid scope token and decodes back to s).
func escape(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
}

func safe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/|,*@!$'();", c) >= 0
}
