package scope

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const labCategory = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

// want describes the expected outcome of parsing one token: a resource scope (ctx set), another scope
// (other), or an invalid token (bad: a fragment of the reason).
type want struct {
	ctx   Context
	typ   string
	perms Perm
	v1    bool
	query url.Values
	other bool
	bad   string
}

func ok(ctx Context, typ string, perms Perm) want { return want{ctx: ctx, typ: typ, perms: perms} }
func v1(ctx Context, typ string, perms Perm) want {
	return want{ctx: ctx, typ: typ, perms: perms, v1: true}
}
func granular(ctx Context, typ string, perms Perm, q url.Values) want {
	return want{ctx: ctx, typ: typ, perms: perms, query: q}
}
func other() want            { return want{other: true} }
func bad(reason string) want { return want{bad: reason} }

func TestParseToken(t *testing.T) {
	cases := []struct {
		name, in string
		want     want
	}{
		// v2 permission subsets, each context.
		{"v2 patient rs", "patient/Observation.rs", ok(Patient, "Observation", Read|Search)},
		{"v2 user rs", "user/Observation.rs", ok(User, "Observation", Read|Search)},
		{"v2 system rs", "system/Observation.rs", ok(System, "Observation", Read|Search)},
		{"v2 c", "patient/Observation.c", ok(Patient, "Observation", Create)},
		{"v2 r", "patient/Observation.r", ok(Patient, "Observation", Read)},
		{"v2 u", "patient/Observation.u", ok(Patient, "Observation", Update)},
		{"v2 d", "patient/Observation.d", ok(Patient, "Observation", Delete)},
		{"v2 s", "patient/Observation.s", ok(Patient, "Observation", Search)},
		{"v2 cu", "user/Patient.cu", ok(User, "Patient", Create|Update)},
		{"v2 cud", "patient/Observation.cud", ok(Patient, "Observation", Create|Update|Delete)},
		{"v2 cruds", "user/Encounter.cruds", ok(User, "Encounter", All)},
		{"v2 rd", "system/Binary.rd", ok(System, "Binary", Read|Delete)},
		{"v2 wildcard type patient", "patient/*.rs", ok(Patient, "*", Read|Search)},
		{"v2 wildcard type user", "user/*.cruds", ok(User, "*", All)},
		{"v2 wildcard type system", "system/*.s", ok(System, "*", Search)},

		// v1.
		{"v1 read", "patient/Observation.read", v1(Patient, "Observation", Read|Search)},
		{"v1 write", "patient/Observation.write", v1(Patient, "Observation", Create|Update|Delete)},
		{"v1 star perms", "patient/Observation.*", v1(Patient, "Observation", All)},
		{"v1 star star user", "user/*.*", v1(User, "*", All)},
		{"v1 star star patient", "patient/*.*", v1(Patient, "*", All)},
		{"v1 wildcard read", "patient/*.read", v1(Patient, "*", Read|Search)},
		{"v1 user write", "user/MedicationRequest.write", v1(User, "MedicationRequest", Create|Update|Delete)},
		{"v1 bulk system read", "system/*.read", v1(System, "*", Read|Search)},
		{"v1 system write", "system/Patient.write", v1(System, "Patient", Create|Update|Delete)},

		// Granular v2.
		{"granular raw", "patient/Observation.rs?category=" + labCategory,
			granular(Patient, "Observation", Read|Search, url.Values{"category": {labCategory}})},
		{"granular encoded", "patient/Observation.rs?category=" + url.QueryEscape(labCategory),
			granular(Patient, "Observation", Read|Search, url.Values{"category": {labCategory}})},
		{"granular partly encoded", "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory",
			granular(Patient, "Observation", Read|Search, url.Values{"category": {labCategory}})},
		{"granular AND", "patient/Observation.rs?category=" + labCategory + "&status=final",
			granular(Patient, "Observation", Read|Search, url.Values{"category": {labCategory}, "status": {"final"}})},
		{"granular same param twice", "user/Condition.rs?category=problem-list-item&category=health-concern",
			granular(User, "Condition", Read|Search, url.Values{"category": {"problem-list-item", "health-concern"}})},
		{"granular OR list value", "patient/Condition.rs?category=encounter-diagnosis,health-concern",
			granular(Patient, "Condition", Read|Search, url.Values{"category": {"encounter-diagnosis,health-concern"}})},
		{"granular plus is space", "patient/Observation.rs?code:text=blood+pressure",
			granular(Patient, "Observation", Read|Search, url.Values{"code:text": {"blood pressure"}})},
		{"granular encoded plus", "patient/Observation.rs?date=ge2020-01-01T00:00:00%2B01:00",
			granular(Patient, "Observation", Read|Search, url.Values{"date": {"ge2020-01-01T00:00:00+01:00"}})},
		{"granular on wildcard type", "patient/*.rs?_tag=http://example.org/tags|research",
			granular(Patient, "*", Read|Search, url.Values{"_tag": {"http://example.org/tags|research"}})},
		{"granular on write letters", "user/Observation.cu?category=vital-signs",
			granular(User, "Observation", Create|Update, url.Values{"category": {"vital-signs"}})},
		{"granular single letter", "system/Observation.s?status=final",
			granular(System, "Observation", Search, url.Values{"status": {"final"}})},

		// Invalid granular.
		{"granular on v1 read", "patient/Observation.read?category=laboratory", bad("needs v2")},
		{"granular on v1 star", "patient/Observation.*?category=laboratory", bad("needs v2")},
		{"granular on v1 write", "user/*.write?category=laboratory", bad("needs v2")},
		{"granular empty query", "patient/Observation.rs?", bad("empty granular restriction")},
		{"granular no equals", "patient/Observation.rs?category", bad("no '=value'")},
		{"granular empty name", "patient/Observation.rs?=laboratory", bad("empty parameter name")},
		{"granular empty value", "patient/Observation.rs?category=", bad("empty value")},
		{"granular empty part", "patient/Observation.rs?category=laboratory&&status=final", bad("empty parameter")},
		{"granular trailing amp", "patient/Observation.rs?category=laboratory&", bad("empty parameter")},
		{"granular bad percent", "patient/Observation.rs?category=%zz", bad("percent-encoding")},
		{"granular include widens", "patient/Observation.rs?_include=Observation:subject", bad("result parameter")},
		{"granular revinclude modifier", "patient/Patient.rs?_revinclude:iterate=Observation:subject", bad("result parameter")},
		{"granular count", "patient/Observation.rs?category=laboratory&_count=1", bad("result parameter")},
		{"granular question mark in value", "patient/Observation.rs?category=a?b",
			granular(Patient, "Observation", Read|Search, url.Values{"category": {"a?b"}})},

		// Invalid permissions.
		{"perms out of order sr", "patient/Observation.sr", bad("order")},
		{"perms out of order dc", "user/Observation.dc", bad("order")},
		{"perms repeated letter", "patient/Observation.rrs", bad("order")},
		{"perms unknown letter", "patient/Observation.rx", bad("unknown permission \"x\"")},
		{"perms empty", "patient/Observation.", bad("empty permissions")},
		{"perms upper case letters", "patient/Observation.RS", bad("unknown permission")},
		{"perms upper case v1", "patient/Observation.READ", bad("unknown permission")},
		{"perms title case v1", "patient/Observation.Read", bad("unknown permission")},
		{"perms readwrite", "patient/Observation.readwrite", bad("unknown permission")},
		{"perms all word", "patient/Observation.all", bad("unknown permission")},
		{"perms double dot", "patient/Observation..read", bad("unknown permission \".\"")},
		{"perms trailing slash", "patient/Observation.read/", bad("unknown permission")},
		{"perms star then letters", "user/*.*rs", bad("unknown permission")},

		// Invalid resource types and structure.
		{"unknown type", "patient/Foo.read", bad("unknown resource type \"Foo\"")},
		{"lower case type", "patient/observation.read", bad("unknown resource type \"observation\"")},
		{"upper case type", "patient/OBSERVATION.rs", bad("unknown resource type")},
		{"abstract type", "patient/DomainResource.rs", bad("unknown resource type")},
		{"double star type", "patient/**.read", bad("unknown resource type")},
		{"missing dot", "patient/Observation", bad("missing '.'")},
		{"missing dot wildcard", "user/*", bad("missing '.'")},
		{"context only", "patient/", bad("missing '.'")},
		{"missing type", "patient/.rs", bad("missing resource type")},
		{"extra slash before type", "patient//Observation.read", bad("'/' in the resource type")},
		{"instance in type", "patient/Observation/123.read", bad("'/' in the resource type")},
		{"no slash", "patient", bad("missing '/'")},
		{"capitalised context", "Patient/Observation.read", bad("unknown context \"Patient\"")},
		{"upper case context", "USER/*.read", bad("unknown context")},
		{"unknown context", "practitioner/Observation.read", bad("unknown scope")},
		{"empty context", "/Observation.read", bad("unknown scope")},
		{"query before slash", "patient?x=1", bad("missing '/'")},

		// Other scopes.
		{"openid", "openid", other()},
		{"fhirUser", "fhirUser", other()},
		{"profile", "profile", other()},
		{"launch", "launch", other()},
		{"launch patient", "launch/patient", other()},
		{"launch encounter", "launch/encounter", other()},
		{"launch other type", "launch/imagingstudy", other()},
		{"launch with role", "launch/patient?role=http://example.org/roles/subject", other()},
		{"offline_access", "offline_access", other()},
		{"online_access", "online_access", other()},
		{"fhirUser wrong case", "fhiruser", bad("unknown scope")},
		{"openid wrong case", "OpenID", bad("unknown scope")},
		{"email not supported", "email", bad("unknown scope")},
		{"launch capitalised type", "launch/Patient", bad("unknown launch context")},
		{"launch unknown type", "launch/foo", bad("unknown launch context")},
		{"launch empty type", "launch/", bad("unknown launch context")},
		{"launch other param", "launch/patient?x=y", bad("only ?role")},
		{"launch empty role", "launch/patient?role=", bad("only ?role")},
		{"launch query without slash", "launch?role=x", bad("unknown scope")},

		// Characters outside the RFC 6749 scope-token alphabet.
		{"double quote", `patient/Observation.rs?code="x"`, bad("not allowed in a scope token")},
		{"backslash", `patient/Observation.rs?code=a\,b`, bad("not allowed in a scope token")},
		{"non ascii", "patient/Observation.rs?code=é", bad("not allowed in a scope token")},
		{"control char", "openid\x00", bad("not allowed in a scope token")},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			set := Parse(c.in)
			n := len(set.Resource) + len(set.Other) + len(set.Invalid)
			if n != 1 {
				t.Fatalf("Parse(%q) = %+v, want exactly one entry", c.in, set)
			}
			switch {
			case c.want.bad != "":
				if len(set.Invalid) != 1 {
					t.Fatalf("Parse(%q) = %+v, want invalid (%s)", c.in, set, c.want.bad)
				}
				inv := set.Invalid[0]
				if inv.Raw != c.in || !strings.Contains(inv.Reason, c.want.bad) {
					t.Fatalf("Parse(%q) invalid = %+v, want reason containing %q", c.in, inv, c.want.bad)
				}
			case c.want.other:
				if !slices.Equal(set.Other, []string{c.in}) {
					t.Fatalf("Parse(%q) = %+v, want other scope", c.in, set)
				}
			default:
				if len(set.Resource) != 1 {
					t.Fatalf("Parse(%q) = %+v, want a resource scope", c.in, set)
				}
				got := set.Resource[0]
				exp := Scope{Context: c.want.ctx, Type: c.want.typ, Perms: c.want.perms, V1: c.want.v1, Query: c.want.query}
				if got.Raw != c.in || !got.Equal(exp) {
					t.Fatalf("Parse(%q) = %+v, want %+v", c.in, got, exp)
				}
				if got.Restricted() != (c.want.query != nil) {
					t.Fatalf("Restricted() = %v", got.Restricted())
				}
			}
		})
	}
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
}

func TestParseSet(t *testing.T) {
	cases := []struct {
		name, in string
		resource []string // canonical forms
		other    []string
		invalid  []string
	}{
		{"empty", "", nil, nil, nil},
		{"only spaces", " \t\n ", nil, nil, nil},
		{"openid fhirUser", "openid fhirUser", nil, []string{"openid", "fhirUser"}, nil},
		{"inferno standalone", "launch/patient openid fhirUser offline_access patient/*.rs",
			[]string{"patient/*.rs"}, []string{"launch/patient", "openid", "fhirUser", "offline_access"}, nil},
		{"tabs and runs of whitespace", "  patient/Observation.rs\t\topenid\r\n launch/patient  \t",
			[]string{"patient/Observation.rs"}, []string{"openid", "launch/patient"}, nil},
		{"duplicates dropped", "patient/*.rs openid patient/*.rs openid patient/Foo.rs patient/Foo.rs",
			[]string{"patient/*.rs"}, []string{"openid"}, []string{"patient/Foo.rs"}},
		{"granular raw and encoded are duplicates",
			"patient/Observation.rs?category=" + labCategory + " patient/Observation.rs?category=" + url.QueryEscape(labCategory),
			[]string{"patient/Observation.rs?category=" + labCategory}, nil, nil},
		{"granular param order irrelevant",
			"patient/Observation.rs?status=final&category=laboratory patient/Observation.rs?category=laboratory&status=final",
			[]string{"patient/Observation.rs?category=laboratory&status=final"}, nil, nil},
		{"v1 and v2 spellings both kept", "patient/Observation.read patient/Observation.rs",
			[]string{"patient/Observation.read", "patient/Observation.rs"}, nil, nil},
		{"invalid does not spoil the rest", "patient/Observation.sr launch/patient patient/Condition.rs bogus",
			[]string{"patient/Condition.rs"}, []string{"launch/patient"}, []string{"patient/Observation.sr", "bogus"}},
		{"order kept", "user/Patient.r system/*.read patient/Observation.s",
			[]string{"user/Patient.r", "system/*.read", "patient/Observation.s"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkSet(t, Parse(c.in), c.resource, c.other, c.invalid)
		})
	}
}

func checkSet(t *testing.T, set Set, resource, other, invalid []string) {
	t.Helper()
	var gotRes, gotBad []string
	for _, sc := range set.Resource {
		gotRes = append(gotRes, sc.String())
	}
	for _, inv := range set.Invalid {
		gotBad = append(gotBad, inv.Raw)
	}
	if !slices.Equal(gotRes, resource) || !slices.Equal(set.Other, other) || !slices.Equal(gotBad, invalid) {
		t.Fatalf("got resource %q other %q invalid %q\nwant resource %q other %q invalid %q",
			gotRes, set.Other, gotBad, resource, other, invalid)
	}
}

func TestParseList(t *testing.T) {
	cases := []struct {
		name     string
		in       []string
		resource []string
		other    []string
		invalid  []string
	}{
		{"nil", nil, nil, nil, nil},
		{"scp array", []string{"openid", "fhirUser", "patient/Observation.rs", "launch/patient"},
			[]string{"patient/Observation.rs"}, []string{"openid", "fhirUser", "launch/patient"}, nil},
		{"duplicates across elements", []string{"patient/*.rs", "patient/*.rs", "x", "x"},
			[]string{"patient/*.rs"}, nil, []string{"x"}},
		{"element holding spaces is split", []string{"openid fhirUser", " patient/*.read "},
			[]string{"patient/*.read"}, []string{"openid", "fhirUser"}, nil},
		{"empty elements ignored", []string{"", "  ", "openid"}, nil, []string{"openid"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := ParseList(c.in)
			checkSet(t, set, c.resource, c.other, c.invalid)
			joined := Parse(strings.Join(c.in, " "))
			checkSet(t, joined, c.resource, c.other, c.invalid)
		})
	}
}

func TestHas(t *testing.T) {
	set := Parse("openid fhirUser launch/patient launch/imagingstudy?role=http://example.org/r patient/*.rs bogus")
	cases := []struct {
		name string
		want bool
	}{
		{"openid", true},
		{"fhirUser", true},
		{"launch/patient", true},
		{"launch/imagingstudy", true},
		{"launch/imagingstudy?role=http://example.org/r", true},
		{"launch", false},
		{"launch/encounter", false},
		{"offline_access", false},
		{"profile", false},
		{"patient/*.rs", false}, // resource scopes are answered by Allowed
		{"bogus", false},
		{"", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := set.Has(c.name); got != c.want {
				t.Fatalf("Has(%q) = %v, want %v", c.name, got, c.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		name     string
		scopes   string
		typ      string
		perm     Perm
		contexts []Context
		want     []string // Raw of the granting scopes; nil = refused
	}{
		{"exact grant", "patient/Observation.rs", "Observation", Read, []Context{Patient}, []string{"patient/Observation.rs"}},
		{"other type refused", "patient/Observation.rs", "Condition", Read, []Context{Patient}, nil},
		{"letter missing refused", "patient/Observation.r", "Observation", Search, []Context{Patient}, nil},
		{"union read from one search from another r", "patient/Observation.r patient/Observation.s", "Observation", Read, []Context{Patient}, []string{"patient/Observation.r"}},
		{"union read from one search from another s", "patient/Observation.r patient/Observation.s", "Observation", Search, []Context{Patient}, []string{"patient/Observation.s"}},
		{"union covers rs together", "patient/Observation.r patient/Observation.s", "Observation", Read | Search, []Context{Patient}, []string{"patient/Observation.r", "patient/Observation.s"}},
		{"union incomplete refused", "patient/Observation.r patient/Condition.s", "Observation", Read | Search, []Context{Patient}, nil},
		{"several scopes grant", "patient/*.rs patient/Observation.r", "Observation", Read, []Context{Patient}, []string{"patient/*.rs", "patient/Observation.r"}},
		{"user scope not in patient context", "user/Observation.rs", "Observation", Read, []Context{Patient}, nil},
		{"patient scope not in user context", "patient/Observation.rs", "Observation", Read, []Context{User}, nil},
		{"user scope when user allowed", "user/Observation.rs patient/Condition.rs", "Observation", Read, []Context{Patient, User}, []string{"user/Observation.rs"}},
		{"system scope only for system", "system/*.read", "Patient", Read, []Context{User, Patient}, nil},
		{"system scope for backend", "system/*.read", "Patient", Search, []Context{System}, []string{"system/*.read"}},
		{"no context refused", "patient/*.cruds", "Observation", Read, nil, nil},
		{"wildcard type matches any type", "patient/*.rs", "MedicationRequest", Search, []Context{Patient}, []string{"patient/*.rs"}},
		{"wildcard type matches Binary", "user/*.cruds", "Binary", Delete, []Context{User}, []string{"user/*.cruds"}},
		{"wildcard type does not add perms", "patient/*.rs", "Observation", Create, []Context{Patient}, nil},
		{"star request needs star scope", "patient/Observation.s", "*", Search, []Context{Patient}, nil},
		{"star request with star scope", "patient/*.s", "*", Search, []Context{Patient}, []string{"patient/*.s"}},
		{"v1 write does not imply read", "patient/Observation.write", "Observation", Read, []Context{Patient}, nil},
		{"v1 write does not imply search", "patient/Observation.write", "Observation", Search, []Context{Patient}, nil},
		{"v1 write grants create", "patient/Observation.write", "Observation", Create, []Context{Patient}, []string{"patient/Observation.write"}},
		{"v1 write grants delete", "patient/Observation.write", "Observation", Delete, []Context{Patient}, []string{"patient/Observation.write"}},
		{"v2 cud does not imply read", "user/Observation.cud", "Observation", Read, []Context{User}, nil},
		{"v1 read grants search", "patient/Observation.read", "Observation", Search, []Context{Patient}, []string{"patient/Observation.read"}},
		{"v1 read does not grant update", "patient/*.read", "Observation", Update, []Context{Patient}, nil},
		{"v1 star star grants all", "user/*.*", "Patient", Update, []Context{User}, []string{"user/*.*"}},
		{"invalid scope grants nothing", "patient/Observation.sr patient/Foo.rs", "Observation", Read, []Context{Patient}, nil},
		{"zero perm refused", "patient/*.cruds", "Observation", 0, []Context{Patient}, nil},
		{"empty type refused", "patient/*.cruds", "", Read, []Context{Patient}, nil},
		{"other scopes grant nothing", "openid fhirUser launch/patient", "Patient", Read, []Context{Patient, User, System}, nil},
		{"granular returned", "patient/Observation.rs?category=laboratory", "Observation", Search, []Context{Patient}, []string{"patient/Observation.rs?category=laboratory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Parse(c.scopes).Allowed(c.typ, c.perm, c.contexts...)
			var raws []string
			for _, sc := range got {
				raws = append(raws, sc.Raw)
			}
			if !slices.Equal(raws, c.want) {
				t.Fatalf("Allowed(%q, %v, %v) on %q = %q, want %q", c.typ, c.perm, c.contexts, c.scopes, raws, c.want)
			}
		})
	}
}

func TestRestrictions(t *testing.T) {
	lab := "patient/Observation.rs?category=" + labCategory
	social := "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history"
	cases := []struct {
		name    string
		scopes  string
		perm    Perm
		all     bool
		queries []string // canonical form of each query
	}{
		{"unrestricted", "patient/Observation.rs", Read, true, nil},
		{"one restriction", lab, Search, false, []string{"category=" + labCategory}},
		{"restrictions OR-ed", lab + " " + social, Read, false, []string{
			"category=" + labCategory,
			"category=http://terminology.hl7.org/CodeSystem/observation-category|social-history"}},
		{"unrestricted wins", lab + " patient/*.rs", Read, true, nil},
		{"restriction only on another letter", lab + " patient/Observation.c", Create, true, nil},
		{"params AND-ed in one query", "patient/Observation.rs?category=laboratory&status=final", Read, false,
			[]string{"category=laboratory&status=final"}},
		{"nothing granted", "patient/Condition.rs", Read, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qs, all := Restrictions(Parse(c.scopes).Allowed("Observation", c.perm, Patient))
			var got []string
			for _, q := range qs {
				got = append(got, Scope{Context: Patient, Type: "X", Perms: Read, Query: q}.String()[len("patient/X.r?"):])
			}
			if all != c.all || !slices.Equal(got, c.queries) {
				t.Fatalf("Restrictions = %q, %v; want %q, %v", got, all, c.queries, c.all)
			}
		})
	}
}

func TestScopeString(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"v2 unchanged", "patient/Observation.rs", "patient/Observation.rs"},
		{"v1 read kept", "user/*.read", "user/*.read"},
		{"v1 write kept", "patient/Observation.write", "patient/Observation.write"},
		{"v1 star kept", "user/*.*", "user/*.*"},
		{"granular raw kept readable", "patient/Observation.rs?category=" + labCategory, "patient/Observation.rs?category=" + labCategory},
		{"granular decoded", "patient/Observation.rs?category=" + url.QueryEscape(labCategory), "patient/Observation.rs?category=" + labCategory},
		{"params sorted", "patient/Observation.rs?status=final&category=laboratory", "patient/Observation.rs?category=laboratory&status=final"},
		{"repeated param order kept", "patient/Observation.rs?code=b&code=a", "patient/Observation.rs?code=b&code=a"},
		{"space encoded", "patient/Observation.rs?code:text=blood+pressure", "patient/Observation.rs?code:text=blood%20pressure"},
		{"plus encoded", "patient/Observation.rs?date=ge2020-01-01T00:00:00%2B01:00", "patient/Observation.rs?date=ge2020-01-01T00:00:00%2B01:00"},
		{"ampersand and equals encoded", "patient/Observation.rs?code=a%26b%3Dc", "patient/Observation.rs?code=a%26b%3Dc"},
		{"percent encoded", "patient/Observation.rs?code=100%25", "patient/Observation.rs?code=100%25"},
		{"non ascii encoded", "patient/Observation.rs?code=%C3%A9", "patient/Observation.rs?code=%C3%A9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := Parse(c.in)
			if len(set.Resource) != 1 {
				t.Fatalf("Parse(%q) = %+v", c.in, set)
			}
			sc := set.Resource[0]
			if got := sc.String(); got != c.want {
				t.Fatalf("String() = %q, want %q", got, c.want)
			}
			again := Parse(sc.String())
			if len(again.Resource) != 1 || !again.Resource[0].Equal(sc) {
				t.Fatalf("re-parse of %q = %+v, want %+v", sc.String(), again, sc)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	base := Scope{Context: Patient, Type: "Observation", Perms: Read | Search, Query: url.Values{"a": {"1", "2"}}}
	cases := []struct {
		name string
		o    Scope
		want bool
	}{
		{"same", Scope{Raw: "different raw", Context: Patient, Type: "Observation", Perms: Read | Search, Query: url.Values{"a": {"1", "2"}}}, true},
		{"context", Scope{Context: User, Type: "Observation", Perms: Read | Search, Query: url.Values{"a": {"1", "2"}}}, false},
		{"type", Scope{Context: Patient, Type: "*", Perms: Read | Search, Query: url.Values{"a": {"1", "2"}}}, false},
		{"perms", Scope{Context: Patient, Type: "Observation", Perms: Read, Query: url.Values{"a": {"1", "2"}}}, false},
		{"v1", Scope{Context: Patient, Type: "Observation", Perms: Read | Search, V1: true, Query: url.Values{"a": {"1", "2"}}}, false},
		{"value order", Scope{Context: Patient, Type: "Observation", Perms: Read | Search, Query: url.Values{"a": {"2", "1"}}}, false},
		{"other key", Scope{Context: Patient, Type: "Observation", Perms: Read | Search, Query: url.Values{"b": {"1", "2"}}}, false},
		{"no query", Scope{Context: Patient, Type: "Observation", Perms: Read | Search}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := base.Equal(c.o); got != c.want {
				t.Fatalf("Equal = %v, want %v", got, c.want)
			}
			if got := c.o.Equal(base); got != c.want {
				t.Fatalf("reverse Equal = %v, want %v", got, c.want)
			}
		})
	}
}

func TestPermString(t *testing.T) {
	cases := []struct {
		p    Perm
		want string
	}{
		{0, ""}, {Create, "c"}, {Read, "r"}, {Update, "u"}, {Delete, "d"}, {Search, "s"},
		{Read | Search, "rs"}, {Search | Read, "rs"}, {Create | Update | Delete, "cud"}, {All, "cruds"},
		{All | 0xe0, "cruds"}, {0x80, ""},
	}
	for _, c := range cases {
		t.Run("perm="+strconv.Itoa(int(c.p)), func(t *testing.T) {
			if got := c.p.String(); got != c.want {
				t.Fatalf("Perm(%#x).String() = %q, want %q", uint8(c.p), got, c.want)
			}
		})
	}
}

func TestPermFor(t *testing.T) {
	cases := []struct {
		interaction string
		want        Perm
	}{
		{"read", Read}, {"vread", Read}, {"history-instance", Read},
		{"search-type", Search}, {"search-system", Search}, {"search", Search},
		{"history-type", Search}, {"history-system", Search}, {"operation", Search},
		{"create", Create}, {"update", Update}, {"patch", Update}, {"delete", Delete},
		{"capabilities", 0}, {"batch", 0}, {"transaction", 0}, {"history", 0}, {"READ", 0}, {"", 0},
	}
	for _, c := range cases {
		t.Run("code="+c.interaction, func(t *testing.T) {
			if got := PermFor(c.interaction); got != c.want {
				t.Fatalf("PermFor(%q) = %v, want %v", c.interaction, got, c.want)
			}
		})
	}
}

func TestNeeded(t *testing.T) {
	cases := []struct {
		name string
		ctx  Context
		typ  string
		p    Perm
		want string
	}{
		{"read", Patient, "Observation", Read, "patient/Observation.r"},
		{"search", User, "Condition", Search, "user/Condition.s"},
		{"create", System, "Patient", Create, "system/Patient.c"},
		{"several letters", Patient, "Observation", Search | Read, "patient/Observation.rs"},
		{"no letter", Patient, "Observation", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Needed(c.ctx, c.typ, c.p)
			if got != c.want {
				t.Fatalf("Needed = %q, want %q", got, c.want)
			}
			if got == "" {
				return
			}
			// The suggested scope must itself parse and grant the request.
			if len(Parse(got).Allowed(c.typ, c.p, c.ctx)) == 0 {
				t.Fatalf("Needed scope %q does not grant the request", got)
			}
		})
	}
}

func TestInvalidError(t *testing.T) {
	set := Parse("patient/Observation.sr")
	if len(set.Invalid) != 1 {
		t.Fatalf("got %+v", set)
	}
	var err error = set.Invalid[0]
	if msg := err.Error(); !strings.HasPrefix(msg, `invalid scope "patient/Observation.sr": `) {
		t.Fatalf("Error() = %q", msg)
	}
}
