package scope

import (
	"strings"
	"testing"
)

// FuzzParse: no input may panic; every resource scope must re-render to a canonical form that parses back
// to an Equal scope (and renders identically); every token lands in exactly one bucket; ParseList of the
// tokens agrees with Parse; Allowed never grants through a scope that does not cover the request.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"openid fhirUser launch/patient offline_access patient/*.rs",
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
		"patient/Observation.rs?category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory&status=final",
		"user/*.* system/*.read patient/Observation.write user/Patient.cruds",
		"patient/Observation.sr patient/Foo.read patient/observation.read patient//Observation.read patient/Observation",
		"patient/Observation.read?category=x patient/Observation.rs? patient/Observation.rs?a&&b=",
		"patient/Observation.rs?code:text=blood+pressure&date=ge2020%2B01:00&code=100%25",
		"launch/imagingstudy?role=http://example.org/r launch/Patient launch/ launch",
		"\tpatient/*.rs \r\n openid\x00 é \"x\" a\\b",
		"patient/Observation.rs?_include=Observation:subject patient/*.rs?%zz=1",
		"patient/*.rs?%3F=%26&%3D=%20",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set := Parse(s)
		tokens := strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
		if n := len(set.Resource) + len(set.Other) + len(set.Invalid); n > len(tokens) {
			t.Fatalf("%d entries from %d tokens", n, len(tokens))
		}
		if len(tokens) > 0 && len(set.Resource)+len(set.Other)+len(set.Invalid) == 0 {
			t.Fatalf("tokens %q vanished", tokens)
		}
		list := ParseList(tokens)
		if len(list.Resource) != len(set.Resource) || len(list.Other) != len(set.Other) || len(list.Invalid) != len(set.Invalid) {
			t.Fatalf("ParseList disagrees with Parse: %+v vs %+v", list, set)
		}
		for _, inv := range set.Invalid {
			if inv.Reason == "" || inv.Raw == "" {
				t.Fatalf("invalid entry without raw or reason: %+v", inv)
			}
		}
		for _, o := range set.Other {
			again := Parse(o)
			if len(again.Other) != 1 || again.Other[0] != o {
				t.Fatalf("other scope %q re-parses to %+v", o, again)
			}
		}
		for _, sc := range set.Resource {
			if sc.Perms == 0 || sc.Perms&^All != 0 || sc.Type == "" {
				t.Fatalf("bad scope %+v", sc)
			}
			if sc.V1 && sc.Restricted() {
				t.Fatalf("granular v1 scope %+v", sc)
			}
			if sc.Query != nil && len(sc.Query) == 0 {
				t.Fatalf("empty non-nil query %+v", sc)
			}
			c := sc.String()
			again := Parse(c)
			if len(again.Resource) != 1 || len(again.Other)+len(again.Invalid) != 0 {
				t.Fatalf("canonical %q of %q re-parses to %+v", c, sc.Raw, again)
			}
			if !again.Resource[0].Equal(sc) {
				t.Fatalf("canonical %q of %q re-parses to %+v, want %+v", c, sc.Raw, again.Resource[0], sc)
			}
			if c2 := again.Resource[0].String(); c2 != c {
				t.Fatalf("canonical form not stable: %q then %q", c, c2)
			}
			for _, p := range []Perm{Create, Read, Update, Delete, Search} {
				typ := sc.Type
				if typ == "*" {
					typ = "Observation"
				}
				got := set.Allowed(typ, p, sc.Context)
				if sc.Perms&p != 0 && len(got) == 0 {
					t.Fatalf("%q does not grant %v on %s", sc.Raw, p, typ)
				}
				for _, g := range got {
					if g.Perms&p == 0 || g.Context != sc.Context || (g.Type != typ && g.Type != "*") {
						t.Fatalf("Allowed(%s, %v, %s) returned %+v", typ, p, sc.Context, g)
					}
				}
			}
		}
	})
}
