package rest_test

import (
	"slices"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// patch (https://hl7.org/fhir/R4/http.html#patch): JSON Patch (RFC 6902) and FHIRPath Patch
// (https://hl7.org/fhir/R4/fhirpatch.html). If-Match is in ifmatch_test.go.

const jsonPatch = "application/json-patch+json"

// fhirPathPatch returns a FHIRPath Patch Parameters resource of one operation.
func fhirPathPatch(op, path, valueCode string) string {
	return mustJSON(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": []any{
		map[string]any{"name": "type", "valueCode": op},
		map[string]any{"name": "path", "valueString": path},
		map[string]any{"name": "value", "valueCode": valueCode},
	}}}})
}

func TestPatch(t *testing.T) {
	t.Parallel()

	t.Run("JSON Patch replace is version 2", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Patchy", "female"))
		now := env.Clock.Advance(time.Minute)
		resp := env.Patch(t, "Patient", "p1", `[{"op":"replace","path":"/gender","value":"male"}]`)
		resttest.WantStatus(t, resp, 200)
		if resp.VersionID != "2" || !resp.LastModified.Equal(now) {
			t.Errorf("version %q at %v, want 2 at %v", resp.VersionID, resp.LastModified, now)
		}
		for path, want := range map[string]string{"gender": "male", "meta.versionId": "2", "name.0.family": "Patchy",
			"meta.lastUpdated": fhir.FormatInstant(now)} {
			if got := resttest.Str(t, resp.Body, path); got != want {
				t.Errorf("%s %q, want %q", path, got, want)
			}
		}
		v := env.Stored(t, "Patient", "p1")
		if v.VersionID != 2 || v.Method != "PATCH" || string(v.Body) != string(resp.Body) {
			t.Errorf("stored version %d by %s: %s", v.VersionID, v.Method, v.Body)
		}
	})

	t.Run("JSON Patch test, add and remove", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Patchy", "female"))
		resp := env.Patch(t, "Patient", "p1", `[{"op":"test","path":"/gender","value":"female"},`+
			`{"op":"add","path":"/birthDate","value":"1980-02-03"},{"op":"remove","path":"/telecom"}]`)
		if got := resttest.Str(t, resp.Body, "birthDate"); got != "1980-02-03" {
			t.Errorf("birthDate %q", got)
		}
		if resttest.Has(t, env.Stored(t, "Patient", "p1").Body, "telecom") {
			t.Error("telecom not removed")
		}
	})

	t.Run("FHIRPath Patch", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Patchy", "female"))
		resp := env.Must(t, &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "p1",
			Body: []byte(fhirPathPatch("replace", "Patient.gender", "other")), ContentType: "application/fhir+json"})
		resttest.WantStatus(t, resp, 200)
		if resttest.Str(t, resp.Body, "gender") != "other" || resp.VersionID != "2" {
			t.Errorf("patched version %q: %s", resp.VersionID, resp.Body)
		}
		if got := resttest.Str(t, env.Stored(t, "Patient", "p1").Body, "gender"); got != "other" {
			t.Errorf("stored gender %q", got)
		}
	})

	// Refused patches of Patient/p1 (version 1, female): an error, and the store as it was.
	for _, tc := range []struct {
		name             string
		body, ctype      string
		status           int
		code, expression string
	}{
		{"result invalid", `[{"op":"replace","path":"/gender","value":"x"}]`, jsonPatch, 422, "", "Patient.gender"}, // understood, cannot apply
		{"failing test op", `[{"op":"test","path":"/gender","value":"male"},{"op":"replace","path":"/gender","value":"other"}]`,
			jsonPatch, 422, "processing", ""},
		{"test op on an absent path", `[{"op":"test","path":"/deceasedBoolean","value":true}]`, jsonPatch, 422, "processing", ""},
		{"replace of an absent path", `[{"op":"replace","path":"/deceasedBoolean","value":true}]`, jsonPatch, 422, "processing", ""},
		{"remove of an absent path", `[{"op":"remove","path":"/deceasedBoolean"}]`, jsonPatch, 422, "processing", ""},
		{"not a JSON Patch", `{"op":"replace"}`, jsonPatch, 400, "invalid", ""},
		{"unknown op", `[{"op":"frobnicate","path":"/gender"}]`, jsonPatch, 400, "invalid", ""},
		{"changes the id", `[{"op":"replace","path":"/id","value":"other-id"}]`, jsonPatch, 422, "processing", ""},
		{"removes resourceType", `[{"op":"remove","path":"/resourceType"}]`, jsonPatch, 422, "processing", ""},
		{"text/plain", `gender=other`, "text/plain", 415, "not-supported", ""},
		{"empty patch", ``, jsonPatch, 400, "required", ""},
		{"FHIR JSON that is not Parameters", `{"resourceType":"Patient","gender":"other"}`, "application/fhir+json", 400, "structure",
			"resourceType"},
		{"FHIR JSON that is not JSON", `{"resourceType":`, "application/fhir+json", 400, "structure", ""},
		{"FHIRPath Patch to an invalid code", fhirPathPatch("replace", "Patient.gender", "x"), "application/fhir+json", 422, "",
			"Patient.gender"},
		{"FHIRPath Patch of an unknown type", fhirPathPatch("frobnicate", "Patient.gender", "male"), "application/fhir+json", 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "Patchy", "female"))
			err := env.Fail(t, &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "p1", Body: []byte(tc.body), ContentType: tc.ctype})
			resttest.WantError(t, err, tc.status, tc.code, tc.expression)
			if v := env.Stored(t, "Patient", "p1"); v.VersionID != 1 || resttest.Str(t, v.Body, "gender") != "female" {
				t.Errorf("a refused patch changed the resource: version %d, %s", v.VersionID, v.Body)
			}
		})
	}

	t.Run("a patch that removes a required element is 422", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, observation("o1", "Patient/p1"))
		err := env.Fail(t, &rest.Request{Interaction: rest.Patch, Type: "Observation", ID: "o1",
			Body: []byte(`[{"op":"remove","path":"/code"}]`), ContentType: jsonPatch})
		resttest.WantError(t, err, 422, "required", "Observation.code")
		if v := env.Stored(t, "Observation", "o1"); v.VersionID != 1 {
			t.Errorf("version %d after a refused patch", v.VersionID)
		}
	})

	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, env *resttest.Env)
		status int
		code   string
	}{
		{"unknown resource", func(*testing.T, *resttest.Env) {}, 404, "not-found"},
		{"deleted resource", func(t *testing.T, env *resttest.Env) {
			env.Put(t, patient("p1", "Gone", "male"))
			env.Delete(t, "Patient", "p1")
		}, 410, "deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			tc.setup(t, env)
			before := resttest.Refs(env.Versions(t, "", ""))
			err := env.Fail(t, &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "p1",
				Body: []byte(`[{"op":"replace","path":"/gender","value":"female"}]`), ContentType: jsonPatch})
			resttest.WantError(t, err, tc.status, tc.code, "")
			if after := resttest.Refs(env.Versions(t, "", "")); !slices.Equal(after, before) {
				t.Errorf("wrote: %v -> %v", before, after)
			}
		})
	}

	t.Run("an AuditEvent cannot be patched", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		err := env.Fail(t, &rest.Request{Interaction: rest.Patch, Type: "AuditEvent", ID: "a1",
			Body: []byte(`[{"op":"remove","path":"/agent"}]`), ContentType: jsonPatch})
		resttest.WantError(t, err, 405, "not-supported", "")
	})
}

func TestConditionalPatch(t *testing.T) {
	t.Parallel()
	// Patients a (identifier ma), b and c (identifier dup) are stored first.
	for _, tc := range []struct {
		name, criteria   string
		status           int
		patched          string
		code, expression string
	}{
		{name: "one match is patched", criteria: "identifier=http://example.org/mrn|ma", status: 200, patched: "a"},
		{name: "no match is 404", criteria: "identifier=http://example.org/mrn|none", status: 404, code: "not-found", expression: "criteria"},
		{name: "two matches are 412", criteria: "identifier=http://example.org/mrn|dup", status: 412, code: "multiple-matches",
			expression: "criteria"},
		{name: "no criteria", status: 400, code: "required", expression: "criteria"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patientWith("a", "A", "ma"))
			env.Put(t, patientWith("b", "B", "dup"))
			env.Put(t, patientWith("c", "C", "dup"))
			before := resttest.Refs(env.Versions(t, "", ""))
			resp, err := env.Do(&rest.Request{Interaction: rest.Patch, Type: "Patient", Params: query(t, tc.criteria),
				Body: []byte(`[{"op":"replace","path":"/gender","value":"other"}]`), ContentType: jsonPatch})
			after := resttest.Refs(env.Versions(t, "", ""))
			if tc.status >= 400 {
				resttest.WantError(t, err, tc.status, tc.code, tc.expression)
				if !slices.Equal(after, before) {
					t.Errorf("wrote: %v -> %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resttest.WantStatus(t, resp, tc.status)
			if v := env.Stored(t, "Patient", tc.patched); v.VersionID != 2 || resttest.Str(t, v.Body, "gender") != "other" {
				t.Errorf("Patient/%s: version %d, %s", tc.patched, v.VersionID, v.Body)
			}
			if len(after) != len(before)+1 {
				t.Errorf("%v -> %v: want one version written", before, after)
			}
		})
	}
}
