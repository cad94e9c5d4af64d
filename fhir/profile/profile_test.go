package profile_test

import (
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/profile"
)

const (
	vitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	bodyWeight = "http://hl7.org/fhir/StructureDefinition/bodyweight"
	bloodPress = "http://hl7.org/fhir/StructureDefinition/bp"
)

// weight is a body weight Observation conforming to bodyweight; edit replaces one part of it.
func weight(edit ...string) string {
	parts := map[string]string{
		"category":  `"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]`,
		"code":      `"code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]}`,
		"value":     `"valueQuantity":{"value":70.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}`,
		"effective": `"effectiveDateTime":"2024-01-30"`,
	}
	for i := 0; i+1 < len(edit); i += 2 {
		parts[edit[i]] = edit[i+1]
	}
	var b strings.Builder
	b.WriteString(`{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/p1"}`)
	for _, k := range []string{"category", "code", "value", "effective"} {
		if parts[k] != "" {
			b.WriteString("," + parts[k])
		}
	}
	b.WriteString("}")
	return b.String()
}

func validate(t *testing.T, set *profile.Set, url, body string) []fhir.Issue {
	t.Helper()
	p, ok := set.Lookup(url)
	if !ok {
		t.Fatalf("profile %s not loaded", url)
	}
	res, err := profile.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return p.Validate(res)
}

func errorsOf(issues []fhir.Issue) []string {
	var out []string
	for _, is := range issues {
		if is.Severity == "error" {
			out = append(out, is.Expression+" | "+is.Details)
		}
	}
	return out
}

func TestCoreProfiles(t *testing.T) {
	t.Parallel()
	set := profile.Core()
	urls := set.URLs()
	if len(urls) != 46 {
		t.Errorf("%d core profiles, want 46 (the 48 constraint profiles on resources and types, less the two published without a snapshot)", len(urls))
	}
	for _, u := range []string{vitalSigns, bodyWeight, bloodPress, "http://hl7.org/fhir/StructureDefinition/SimpleQuantity"} {
		if !slices.Contains(urls, u) {
			t.Errorf("%s missing", u)
		}
	}
	if _, ok := set.Lookup(vitalSigns + "|4.0.1"); !ok {
		t.Error("url|version not indexed")
	}
}

// TestCoreSlicing: what the core vital-signs profiles say of Observations, each failure named by element,
// slice and profile.
func TestCoreSlicing(t *testing.T) {
	t.Parallel()
	set := profile.Core()
	for _, tc := range []struct {
		name, url, body string
		want            []string // substrings of the errors, in order; none: conforms
	}{
		{"a body weight conforms to vitalsigns", vitalSigns, weight(), nil},
		{"and to bodyweight", bodyWeight, weight(), nil},
		{"no category", vitalSigns, weight("category", ""), []string{
			"Observation.category | Observation.category: minimum 1, found 0 (profile vitalsigns)",
			"Observation.category | Observation.category: slice VSCat: minimum 1, found 0 (profile vitalsigns)"}},
		{"another category only", vitalSigns, weight("category",
			`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]`),
			[]string{"Observation.category | Observation.category: slice VSCat: minimum 1, found 0 (profile vitalsigns)"}},
		{"the vital-signs category twice", vitalSigns, weight("category",
			`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]},`+
				`{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]`),
			[]string{"slice VSCat: maximum 1, found 2"}},
		{"the wrong code for a body weight", bodyWeight, weight("code", `"code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]}`),
			[]string{"Observation.code.coding | Observation.code.coding: slice BodyWeightCode: minimum 1, found 0 (profile bodyweight)"}},
		{"a weight as a string: closed slicing of value[x]", bodyWeight, weight("value", `"valueString":"heavy"`),
			[]string{"Observation.valueString | Observation.value[x]: the value matches no slice, and the slicing is closed"}},
		{"a unit outside the required binding", bodyWeight, weight("value",
			`"valueQuantity":{"value":70,"unit":"m","system":"http://unitsofmeasure.org","code":"m"}`),
			[]string{"Observation.valueQuantity.code | Observation.value[x]:valueQuantity.code: the code is not in the value set http://hl7.org/fhir/ValueSet/ucum-bodyweight"}},
		{"a fixed system broken", bodyWeight, weight("value",
			`"valueQuantity":{"value":70,"unit":"kg","system":"http://example.org/units","code":"kg"}`),
			[]string{`Observation.valueQuantity.system | Observation.value[x]:valueQuantity.system: the value must be "http://unitsofmeasure.org"`}},
		{"an invariant: effective precise to the day", vitalSigns, weight("effective", `"effectiveDateTime":"2024"`),
			[]string{"Observation.effectiveDateTime | Observation.effective[x]: constraint vs-1 failed"}},
		{"an invariant: a value or a reason", vitalSigns, weight("value", ""),
			[]string{"Observation | Observation: constraint vs-2 failed"}},
		{"blood pressure without its diastolic component", bloodPress,
			`{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-30",` +
				`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
				`"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},` +
				`"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
			[]string{"Observation.component: minimum 2, found 1", "Observation.component: slice DiastolicBP: minimum 1, found 0"}},
		{"a resource of another type", vitalSigns, `{"resourceType":"Patient"}`, []string{"the profile constrains Observation, not Patient"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := errorsOf(validate(t, set, tc.url, tc.body))
			if len(got) != len(tc.want) {
				t.Fatalf("errors\n  %s\nwant %d:\n  %s", strings.Join(got, "\n  "), len(tc.want), strings.Join(tc.want, "\n  "))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("error %d\n  %s\nwant it to contain\n  %s", i, got[i], w)
				}
			}
		})
	}
}
