package rest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/fhir/store"
)

// create (https://hl7.org/fhir/R4/http.html#create) and conditional create (#ccreate).

func createReq(body string) *rest.Request {
	return &rest.Request{Interaction: rest.Create, Type: "Patient", Body: []byte(body), ContentType: "application/fhir+json"}
}

func TestCreate(t *testing.T) {
	t.Parallel()

	t.Run("201 with a server id, version 1, Location and the time of the clock", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t, resttest.SequentialIDs("srv-"))
		now := env.Clock.Advance(1500 * time.Millisecond)
		// The client's id and meta.versionId/lastUpdated are the server's to set; its profile stays.
		in := `{"resourceType":"Patient","id":"client-chosen","meta":{"versionId":"7","lastUpdated":"2001-01-01T00:00:00Z",` +
			`"profile":["http://example.org/p"]},"name":[{"family":"Chalmers"}],"gender":"male"}`
		resp := env.Create(t, in)

		if got, want := resp.Location, resttest.BaseURL+"/Patient/srv-1/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if resp.VersionID != "1" || !resp.LastModified.Equal(now) {
			t.Errorf("version %q at %v, want 1 at %v", resp.VersionID, resp.LastModified, now)
		}
		for path, want := range map[string]string{
			"id": "srv-1", "meta.versionId": "1", "meta.lastUpdated": fhir.FormatInstant(now),
			"meta.profile.0": "http://example.org/p", "name.0.family": "Chalmers", "gender": "male",
		} {
			if got := resttest.Str(t, resp.Body, path); got != want {
				t.Errorf("%s %q, want %q", path, got, want)
			}
		}
		stored := env.Stored(t, "Patient", "srv-1")
		if stored == nil || stored.VersionID != 1 || stored.Method != "POST" || !stored.Created {
			t.Fatalf("stored %+v, want version 1 created by POST", stored)
		}
		if string(stored.Body) != string(resp.Body) {
			t.Errorf("the response is not what was stored:\nresponse %s\nstored   %s", resp.Body, stored.Body)
		}
		if env.Stored(t, "Patient", "client-chosen") != nil {
			t.Error("the client's id was used")
		}
		back := env.Read(t, "Patient", "srv-1")
		if string(back.Body) != string(resp.Body) || back.VersionID != "1" || !back.LastModified.Equal(now) {
			t.Errorf("read %s (%s, %v) differs from the create's answer", back.Body, back.VersionID, back.LastModified)
		}
	})

	t.Run("two creates get distinct ids", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t) // random ids, as in production
		a := idOf(t, env.Create(t, patient("", "A", "female")))
		b := idOf(t, env.Create(t, patient("", "B", "female")))
		if a == b {
			t.Fatalf("both creates got id %q", a)
		}
		if n := len(env.Versions(t, "Patient", "")); n != 2 {
			t.Errorf("%d versions stored, want 2", n)
		}
	})

	noCode := `{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/p1"}}`
	for _, tc := range []struct {
		name             string
		typ, body        string
		status           int
		code, expression string
	}{
		{"wrong type in URL", "Patient", observation("", "Patient/p1"), 400, "structure", "resourceType"},
		{"unknown type", "Foo", `{"resourceType":"Foo"}`, 404, "not-supported", ""},
		{"malformed JSON", "Patient", `{"resourceType":"Patient","gender":`, 400, "structure", ""},
		{"not an object", "Patient", `["Patient"]`, 400, "structure", ""},
		{"invalid gender", "Patient", patient("", "X", "x"), 400, "", "Patient.gender"},
		{"unknown element", "Patient", `{"resourceType":"Patient","colour":"blue"}`, 400, "", ""},
		{"observation without code", "Observation", noCode, 400, "required", "Observation.code"}, // R4's own rules: 400
		{"empty body", "Patient", ``, 400, "required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			err := env.Fail(t, &rest.Request{Interaction: rest.Create, Type: tc.typ, Body: []byte(tc.body)})
			resttest.WantError(t, err, tc.status, tc.code, tc.expression)
			if vs := env.Versions(t, "", ""); len(vs) != 0 {
				t.Errorf("a refused create stored %v", resttest.Refs(vs))
			}
		})
	}

	t.Run("a business rule refuses", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Service.AddRule("Patient", func(body []byte) error {
			if resttest.Str(t, body, "gender") == "unknown" {
				return &fhir.Error{Kind: fhir.KindUnprocessable, Code: "business-rule", Expression: "Patient.gender", Details: "gender required"}
			}
			return nil
		})
		resttest.WantError(t, env.Fail(t, createReq(patient("", "R", "unknown"))), 422, "business-rule", "Patient.gender")
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("a refused create stored %v", resttest.Refs(vs))
		}
		env.Create(t, patient("", "R", "female")) // the rule lets others through
	})

	t.Run("observers are told of each committed version, by the time Do returns", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		var told []string
		env.Service.OnCommit(func(_ context.Context, vs []*store.Version) { told = append(told, resttest.Refs(vs)...) })
		env.Fail(t, createReq(patient("", "X", "x")))
		id := idOf(t, env.Create(t, patient("", "Y", "male")))
		if want := []string{"Patient/" + id + "/_history/1"}; !slices.Equal(told, want) {
			t.Errorf("observers were told %v, want %v (and nothing of the refused create)", told, want)
		}
	})
}

func TestConditionalCreate(t *testing.T) {
	t.Parallel()

	// Each case stores the Patients with the identifiers of have, then creates one with If-None-Exist.
	for _, tc := range []struct {
		name     string
		have     []string // identifiers of the Patients stored first
		criteria string
		status   int    // of the create, or of its error
		code     string // of the error
		expr     string
		matched  int // index in have of the Patient returned for one match
	}{
		{name: "no match creates", have: []string{"other"}, criteria: "identifier=http://example.org/mrn|new", status: 201},
		{name: "one match returns it and writes nothing", have: []string{"m1", "other"}, criteria: "identifier=http://example.org/mrn|m1",
			status: 200, matched: 0},
		{name: "two matches are 412", have: []string{"dup", "dup"}, criteria: "identifier=http://example.org/mrn|dup", status: 412,
			code: "multiple-matches", expr: "If-None-Exist"},
		{name: "an unknown parameter is 400", criteria: "nosuchparam=123", status: 400, code: "not-supported", expr: "nosuchparam"},
		{name: "malformed criteria are 400", criteria: "identifier=%zz", status: 400, code: "value", expr: "If-None-Exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t, resttest.SequentialIDs("c"))
			var ids []string
			for i, ident := range tc.have {
				ids = append(ids, idOf(t, env.Create(t, patientWith("", "Have"+string(rune('A'+i)), ident))))
			}
			env.Clock.Advance(time.Second)
			before := resttest.Refs(env.Versions(t, "", ""))
			req := createReq(patientWith("", "New", "new"))
			req.IfNoneExist = tc.criteria
			resp, err := env.Do(req)
			after := resttest.Refs(env.Versions(t, "", ""))
			switch tc.status {
			case 201:
				if err != nil {
					t.Fatal(err)
				}
				resttest.WantStatus(t, resp, 201)
				if got := resttest.Str(t, resp.Body, "name.0.family"); got != "New" || len(after) != len(before)+1 {
					t.Errorf("created %s; store %v", resp.Body, after)
				}
			case 200:
				if err != nil {
					t.Fatal(err)
				}
				resttest.WantStatus(t, resp, 200)
				match := ids[tc.matched]
				if got := idOf(t, resp); got != match || resp.VersionID != "1" || resp.Location != env.URL("Patient/"+match+"/_history/1") {
					t.Errorf("answered %s (version %q, Location %q), want the match %s", resp.Body, resp.VersionID, resp.Location, match)
				}
				if !slices.Equal(after, before) {
					t.Errorf("a matched conditional create wrote: %v -> %v", before, after)
				}
			default:
				resttest.WantError(t, err, tc.status, tc.code, tc.expr)
				if !slices.Equal(after, before) {
					t.Errorf("a refused conditional create wrote: %v -> %v", before, after)
				}
			}
		})
	}

	t.Run("a deleted match does not count", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		gone := idOf(t, env.Create(t, patientWith("", "Gone", "g1")))
		env.Delete(t, "Patient", gone)
		req := createReq(patientWith("", "New", "g1"))
		req.IfNoneExist = "identifier=http://example.org/mrn|g1"
		resp := env.Must(t, req)
		resttest.WantStatus(t, resp, 201)
		if idOf(t, resp) == gone {
			t.Error("the create reused the deleted resource's id")
		}
	})
}
