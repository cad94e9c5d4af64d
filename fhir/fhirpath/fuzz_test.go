package fhirpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"fhirgate/internal/sharedtest"
)

var fuzzSeeds = []string{
	"Patient.name.given",
	"(Observation.value as Quantity) | (Observation.value as SampledData)",
	"Observation.subject.where(resolve() is Patient)",
	"Condition.abatement.as(Age) | Condition.abatement.as(Range)",
	"Bundle.entry[0].resource",
	"Patient.deceased.exists() and Patient.deceased != false",
	"Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value",
	"value.as(DateTime) | value.as(Period)",
	"%resource.referenceSeq.chromosome",
	"descendants().where($this is string).count() > 2 implies true",
	"iif(a.exists(), 'x' & b, {}) ~ 'X'",
	"-(1.5 + 2) * 3 div 2 mod 7 / 0",
	"`div`.text | @2020-01-01T10:00Z | @T10:00 | 'a\\u00e9\\'b'",
	"note.select($this.text).distinct().skip(1).take(2).combine(%context)",
	"/* comment */ a // line",
	"a.memberOf('http://x')",
	"((((a))))[0][1]",
	"a.b.c.d.e.f.g",
	"x is System.String or x as FHIR.Quantity",
	"Observation.performer.where(resolve() is Resource) | Observation.note.text | Observation.note.text",
	"Observation.identifier.value.extension | (Observation.value as Quantity).unit | subject.ofType(Reference)",
	"@2015.is(Date) and @2015-02-04T14:34:28.123+10:00 > @T14:34 or @2015T.precision() = 4",
	"4.0000 'g' = 4000.0 'mg' and 7 days ~ 1 week and (-5.5 'mg').abs() < 6 'mg'",
	"@1973-12-25 + 7 days - 1 'wk' + 0.1 's'",
	"1.587.lowBoundary(6) | @2014-01-01T08.highBoundary(17) | @T10:30.lowBoundary(9)",
	"(1|2|3).aggregate($this + $total, 0) | (3|1).sort(-$this) | name.repeat(given)",
	"'abc'.matches('^a.c$') and 'x'.replaceMatches('(x)', '$1y').indexOf('y') >= 0",
	"'a,b'.split(',').join('|').encode('base64').decode('base64').escape('html').unescape('json')",
	"%`vs-administrative-gender` | %`ext-patient-birthTime` | 1.type().name | today() | now() | timeOfDay()",
	"'1 day'.toQuantity('h') | '2.5'.toDecimal().round(1) | 16.sqrt().power(2).ln().exp().log(10)",
	"(1|2).exclude(2).intersect(1).subsetOf(1|2) and (1|2).supersetOf(1)",
	"iif(true, 'a').toChars().trim() | conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')",
}

// FuzzCompile checks that Compile never panics or hangs, that its errors are *SyntaxError, that
// compiled expressions evaluate on a small resource without panicking, and that expressions with a plan
// evaluate by it exactly as by the general evaluator.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	if dir, ok := sharedtest.Find(); ok {
		if _, err := os.Stat(filepath.Join(dir, "definitions", "search-parameters.json")); err == nil {
			for _, sp := range loadSearchParams(f) {
				if sp.Expression != "" {
					f.Add(sp.Expression)
				}
				for _, c := range sp.Components {
					f.Add(c)
				}
			}
		}
	}
	doc := decodeJSON(f, []byte(inlineResource))
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) error %T is not a *SyntaxError", src, err)
			}
			if se.Pos < 0 || se.Pos > len(src) && se.Pos != MaxExpressionLength {
				t.Fatalf("Compile(%q): position %d out of range", src, se.Pos)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q, want %q", e.String(), src)
		}
		if _, err := e.Evaluate(doc); err != nil {
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("Evaluate(%q) error %T is not an *EvalError", src, err)
			}
		}
		if e.plan != nil {
			if d, ok := evalBoth(e, doc, rootNode(doc)); !ok {
				t.Fatalf("%q: plan: %s", src, d)
			}
		}
	})
}
