package rest_test

import (
	"net/url"
	"slices"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// Patient $everything (https://hl7.org/fhir/R4/patient-operation-everything.html): the patient, their
// compartment, and what these reference outside it; never another patient's data.

func everythingReq(id string, params url.Values) *rest.Request {
	return &rest.Request{Interaction: rest.Operation, Operation: "everything", Type: "Patient", ID: id, Params: params}
}

func TestEverything(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		params url.Values
		want   []string // "Type/id mode", in order
		total  int
	}{
		{"the record and what it references", nil,
			[]string{"Patient/p1 match", "Observation/o1 match", "Organization/org1 include"}, 2},
		{"_type", url.Values{"_type": {"Observation"}}, []string{"Observation/o1 match"}, 1},
		{"end before the observation", url.Values{"end": {"2023-01-01"}}, []string{"Patient/p1 match", "Organization/org1 include"}, 1},
		{"start before the observation", url.Values{"start": {"2024-01-01"}},
			[]string{"Patient/p1 match", "Observation/o1 match", "Organization/org1 include"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := searchEnv(t)
			b := runSearch(t, env, everythingReq("p1", tc.params))
			if got := modes(t, b); !slices.Equal(got, tc.want) {
				t.Errorf("entries\n got %v\nwant %v", got, tc.want)
			}
			if b.Total == nil || *b.Total != tc.total {
				t.Errorf("total %v, want %d", b.Total, tc.total)
			}
		})
	}

	t.Run("pages follow the next link", func(t *testing.T) {
		t.Parallel()
		env := searchEnv(t)
		b := runSearch(t, env, everythingReq("p1", url.Values{"_count": {"1"}}))
		var matches []string
		for pages := 1; ; pages++ {
			for _, m := range modes(t, b) {
				if m != "Organization/org1 include" {
					matches = append(matches, m)
				}
			}
			next := b.LinkURL("next")
			if next == "" {
				break
			}
			if pages > 3 {
				t.Fatalf("more pages than matches: %v", matches)
			}
			b = runSearch(t, env, resttest.Follow(t, next))
		}
		if want := []string{"Patient/p1 match", "Observation/o1 match"}; !slices.Equal(matches, want) {
			t.Errorf("matches over the pages %v, want %v", matches, want)
		}
	})

	for _, tc := range []struct {
		name             string
		id               string
		params           url.Values
		strict           bool
		status           int
		code, expression string
	}{
		{name: "unknown patient", id: "nope", status: 404, code: "not-found"},
		{name: "deleted patient", id: "gone", status: 410, code: "deleted"},
		{name: "start not a date", id: "p1", params: url.Values{"start": {"soon"}}, status: 400, code: "value", expression: "start"},
		{name: "_since not an instant", id: "p1", params: url.Values{"_since": {"yesterday"}}, status: 400, code: "value", expression: "_since"},
		{name: "_type unknown", id: "p1", params: url.Values{"_type": {"Foo"}}, status: 400, code: "value", expression: "_type"},
		{name: "_count zero", id: "p1", params: url.Values{"_count": {"0"}}, status: 400, code: "value", expression: "_count"},
		{name: "an unknown parameter, strict", id: "p1", params: url.Values{"foo": {"1"}}, strict: true, status: 400,
			code: "not-supported", expression: "foo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "One", "female"))
			env.Put(t, patient("gone", "Gone", "female"))
			env.Delete(t, "Patient", "gone")
			req := everythingReq(tc.id, tc.params)
			req.Strict = tc.strict
			resttest.WantError(t, env.Fail(t, req), tc.status, tc.code, tc.expression)
		})
	}
}
