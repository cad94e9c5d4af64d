package fhirpath

import (
	"slices"
	"testing"
)

// TestExamples evaluates expressions on the official R4 examples. The expected values were written
// by hand from reading the example files.
func TestExamples(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		expr      string
		want      []string // Node.String() of each result
		wantTypes []string // optional: Node.Type of each result
		wantKeys  []string // optional: Node.Key of each result
	}{
		{
			name: "value as Quantity", file: "Observation-example.json",
			expr:      "Observation.value as Quantity",
			want:      []string{`{"code":"[lb_av]","system":"http://unitsofmeasure.org","unit":"lbs","value":185}`},
			wantTypes: []string{"Quantity"}, wantKeys: []string{"valueQuantity"},
		},
		{
			name: "choice value then child", file: "Observation-example.json",
			expr: "Observation.value.unit", want: []string{"lbs"},
		},
		{
			name: "value as string on a Quantity is empty", file: "Observation-example.json",
			expr: "(Observation.value as string) | (Observation.value as CodeableConcept).text", want: []string{},
		},
		{
			name: "subject where resolve is Patient", file: "Observation-example.json",
			expr: "(Observation.subject.where(resolve() is Patient))",
			want: []string{`{"reference":"Patient/example"}`}, wantKeys: []string{"subject"},
		},
		{
			name: "subject where resolve is Group", file: "Observation-herd1.json",
			expr: "Observation.subject.where(resolve() is Group).reference", want: []string{"Group/herd1"},
		},
		{
			name: "subject Group is not a Patient", file: "Observation-herd1.json",
			expr: "Observation.subject.where(resolve() is Patient)", want: []string{},
		},
		{
			name: "contained subject resolves", file: "Observation-10minute-apgar-score.json",
			expr: "Observation.subject.where(resolve() is Patient).resolve().name.given",
			want: []string{"Peter", "James"},
		},
		{
			name: "contained medication", file: "MedicationRequest-medrx0301.json",
			expr: "MedicationRequest.medication.resolve().code.coding.code", want: []string{"430127000"},
		},
		{
			name: "wrong resource type yields nothing", file: "Observation-example.json",
			expr: "Patient.name", want: []string{},
		},
		{
			name: "given names flattened in order", file: "Patient-example.json",
			expr: "Patient.name.given", want: []string{"Peter", "James", "Jim", "Peter", "James"},
			wantTypes: []string{"string", "string", "string", "string", "string"},
		},
		{
			name: "indexer on names", file: "Patient-example.json",
			expr: "Patient.name[1].given", want: []string{"Jim"},
		},
		{
			name: "first and last", file: "Patient-example.json",
			expr: "Patient.name.first().family | Patient.name.last().family", want: []string{"Chalmers", "Windsor"},
		},
		{
			name: "union removes duplicates", file: "Patient-example.json",
			expr: "Patient.name[0].given | Patient.name[2].given", want: []string{"Peter", "James"},
		},
		{
			name: "count", file: "Patient-example.json",
			expr: "Patient.telecom.count()", want: []string{"4"},
		},
		{
			name: "telecom where system phone", file: "Patient-example.json",
			expr: "Patient.telecom.where(system='phone').value",
			want: []string{"(03) 5555 6473", "(03) 3410 5613", "(03) 5555 8834"},
		},
		{
			name: "Resource prefix", file: "Patient-example.json",
			expr: "Resource.id | DomainResource.id", want: []string{"example"},
		},
		{
			name: "primitive extension", file: "Patient-example.json",
			expr:      "Patient.birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value",
			want:      []string{"1974-12-25T14:35:45-05:00"},
			wantTypes: []string{"dateTime"}, wantKeys: []string{"valueDateTime"},
		},
		{
			name: "extension on a nested primitive", file: "Patient-example.json",
			expr: "Patient.contact.name.family.extension.where(url='http://hl7.org/fhir/StructureDefinition/humanname-own-prefix').value",
			want: []string{"VV"},
		},
		{
			name: "deceased false", file: "Patient-example.json",
			expr: "Patient.deceased.exists() and Patient.deceased != false", want: []string{"false"},
		},
		{
			name: "deceased dateTime", file: "Patient-pat3.json",
			expr: "Patient.deceased.exists() and Patient.deceased != false", want: []string{"true"},
		},
		{
			name: "deceased as dateTime", file: "Patient-pat3.json",
			expr: "(Patient.deceased as dateTime)", want: []string{"2015-02-14T13:42:00+10:00"}, wantTypes: []string{"dateTime"},
		},
		{
			name: "deceased is boolean", file: "Patient-example.json",
			expr: "Patient.deceased is boolean", want: []string{"true"},
		},
		{
			name: "extension by url", file: "Patient-animal.json",
			expr: "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-animal').extension('species').value.coding.code",
			want: []string{"canislf"},
		},
		{
			name: "extension where url", file: "Patient-animal.json",
			expr: "Patient.extension.where(url='http://hl7.org/fhir/StructureDefinition/patient-animal').extension.url",
			want: []string{"species", "breed", "genderStatus"},
		},
		{
			name: "abatement as Age", file: "Condition-f202.json",
			expr: "Condition.abatement.as(Age)", want: []string{`{"code":"a","system":"http://unitsofmeasure.org","unit":"years","value":54}`},
			wantTypes: []string{"Age"},
		},
		{
			name: "Age is a Quantity", file: "Condition-f202.json",
			expr: "Condition.onset.as(Quantity).value", want: []string{"52"},
		},
		{
			name: "abatement as Range is empty", file: "Condition-f202.json",
			expr: "Condition.abatement.as(Range)", want: []string{},
		},
		{
			name: "abatement as string", file: "Condition-f201.json",
			expr: "Condition.abatement.as(string)", want: []string{"around April 9, 2013"},
		},
		{
			name: "onset as dateTime or Period", file: "Condition-f204.json",
			expr: "Condition.abatement.as(dateTime) | Condition.abatement.as(Period)", want: []string{"2013-03-20"},
		},
		{
			name: "onset string", file: "Condition-example2.json",
			expr: "Condition.onset.as(string)", want: []string{"approximately November 2012"},
		},
		{
			name: "first bundle entry", file: "Bundle-father.json",
			expr: "Bundle.entry[0].resource", wantTypes: []string{"Composition"},
			wantKeys: []string{"resource"},
			want:     nil, // checked by type and key only (large value)
		},
		{
			name: "first bundle entry id", file: "Bundle-father.json",
			expr: "Bundle.entry[0].resource.id", want: []string{"180f219f-97a8-486d-99d9-ed631fe4fc57"},
		},
		{
			name: "bundle entries of a type", file: "Bundle-father.json",
			expr: "Bundle.entry.resource.ofType(Patient).id", want: []string{"d1"},
		},
		{
			name: "component values", file: "Observation-blood-pressure.json",
			expr: "(Observation.component.value as Quantity).value", want: []string{"107", "60"},
		},
		{
			name: "component where code", file: "Observation-blood-pressure.json",
			expr: "Observation.component.where(code.coding.code contains '8462-4').value.unit", want: []string{"mmHg"},
		},
		{
			name: "appointment actors by type", file: "Appointment-example.json",
			expr: "Appointment.participant.actor.where(resolve() is Location).display", want: []string{"South Wing, second floor"},
		},
		{
			name: "startsWith", file: "Patient-example.json",
			expr: "Patient.name.where(family.startsWith('Wind')).given.first()", want: []string{"Peter"},
		},
		{
			name: "hasValue", file: "Patient-example.json",
			expr: "Patient.gender.hasValue() and Patient.telecom.first().value.hasValue().not()", want: []string{"true"},
		},
		{
			name: "exists with criteria", file: "Patient-example.json",
			expr: "Patient.address.exists(city = 'PleasantVille')", want: []string{"true"},
		},
		{
			name: "empty", file: "Patient-example.json",
			expr: "Patient.photo.empty()", want: []string{"true"},
		},
		{
			name: "percent resource inside where", file: "Patient-example.json",
			expr: "Patient.name.where(%resource.gender = 'male').use", want: []string{"official", "usual", "maiden"},
		},
		{
			name: "children and descendants", file: "Patient-example.json",
			expr: "Patient.managingOrganization.children() | Patient.managingOrganization.descendants()",
			want: []string{"Organization/1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := loadExample(t, tc.file)
			expr, err := compileSearch(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := expr.Evaluate(doc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !slices.Equal(strs(got), tc.want) {
				t.Errorf("%s\n got %q\nwant %q", tc.expr, strs(got), tc.want)
			}
			if tc.wantTypes != nil && !slices.Equal(types(got), tc.wantTypes) {
				t.Errorf("%s: types %q, want %q", tc.expr, types(got), tc.wantTypes)
			}
			if tc.wantKeys != nil {
				var keys []string
				for _, n := range got {
					keys = append(keys, n.Key)
				}
				if !slices.Equal(keys, tc.wantKeys) {
					t.Errorf("%s: keys %q, want %q", tc.expr, keys, tc.wantKeys)
				}
			}
		})
	}
}

// TestNotMeaningfulBehaviour shows on examples how the listed special expressions evaluate.
func TestNotMeaningfulBehaviour(t *testing.T) {
	t.Run("Bundle-composition yields a resource", func(t *testing.T) {
		got, err := MustCompile("Bundle.entry[0].resource").Evaluate(loadExample(t, "Bundle-father.json"))
		if err != nil || len(got) != 1 || got[0].Type != "Composition" {
			t.Fatalf("got %v, %v", types(got), err)
		}
	})
	t.Run("Patient-deceased yields an unlocated boolean", func(t *testing.T) {
		got, err := MustCompile("Patient.deceased.exists() and Patient.deceased != false").Evaluate(loadExample(t, "Patient-pat3.json"))
		if err != nil || len(got) != 1 || got[0].Value != true || got[0].Located() {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("Location-near yields the position", func(t *testing.T) {
		got, err := MustCompile("Location.position").Evaluate(loadExample(t, "Location-1.json"))
		if err != nil || len(got) != 1 {
			t.Fatalf("got %v, %v", strs(got), err)
		}
		if _, ok := got[0].Value.(map[string]any)["latitude"]; !ok {
			t.Fatalf("no latitude in %s", got[0])
		}
	})
}
