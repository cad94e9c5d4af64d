package rest_test

import (
	"slices"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// update (https://hl7.org/fhir/R4/http.html#update) and conditional update (#cond-update). If-Match is in
// ifmatch_test.go.

func TestUpdate(t *testing.T) {
	t.Parallel()

	t.Run("200 with version 2", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resttest.WantStatus(t, env.Put(t, patient("p1", "One", "female")), 201)
		now := env.Clock.Advance(time.Minute)
		resp := env.Put(t, patient("p1", "Two", "female"))

		resttest.WantStatus(t, resp, 200)
		if resp.VersionID != "2" || !resp.LastModified.Equal(now) || resp.Location != "" {
			t.Errorf("version %q at %v, Location %q; want 2 at %v and no Location", resp.VersionID, resp.LastModified, resp.Location, now)
		}
		for path, want := range map[string]string{"id": "p1", "meta.versionId": "2", "meta.lastUpdated": fhir.FormatInstant(now),
			"name.0.family": "Two"} {
			if got := resttest.Str(t, resp.Body, path); got != want {
				t.Errorf("%s %q, want %q", path, got, want)
			}
		}
		stored := env.Stored(t, "Patient", "p1")
		if stored.VersionID != 2 || stored.Method != "PUT" || stored.Created || string(stored.Body) != string(resp.Body) {
			t.Errorf("stored version %d by %s (created %v): %s", stored.VersionID, stored.Method, stored.Created, stored.Body)
		}
		if back := env.Read(t, "Patient", "p1"); string(back.Body) != string(resp.Body) {
			t.Errorf("read after the update %s", back.Body)
		}
	})

	t.Run("update as create is 201 with Location", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resp := env.Put(t, patient("new-by-put", "New", "male"))
		resttest.WantStatus(t, resp, 201)
		if got, want := resp.Location, resttest.BaseURL+"/Patient/new-by-put/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if resp.VersionID != "1" || resttest.Str(t, resp.Body, "meta.versionId") != "1" {
			t.Errorf("version %q: %s", resp.VersionID, resp.Body)
		}
		if v := env.Stored(t, "Patient", "new-by-put"); v == nil || !v.Created || v.Method != "PUT" {
			t.Errorf("stored %+v, want a version created by PUT", v)
		}
	})

	t.Run("meta.versionId and lastUpdated from the client are replaced", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "One", "female"))
		now := env.Clock.Advance(time.Hour)
		resp := env.Put(t, `{"resourceType":"Patient","id":"p1","meta":{"versionId":"9","lastUpdated":"2001-01-01T00:00:00Z"}}`)
		if got := resttest.Str(t, resp.Body, "meta.versionId"); got != "2" {
			t.Errorf("meta.versionId %q, want 2", got)
		}
		if got := resttest.Str(t, resp.Body, "meta.lastUpdated"); got != fhir.FormatInstant(now) {
			t.Errorf("meta.lastUpdated %q, want %s", got, fhir.FormatInstant(now))
		}
	})

	// Refused updates of Patient/p1 (version 1): an error, and the store as it was.
	for _, tc := range []struct {
		name             string
		req              rest.Request
		status           int
		code, expression string
	}{
		{"body id differs from the URL", rest.Request{ID: "p1", Body: []byte(patient("other", "X", "female"))}, 400, "value", "Patient.id"},
		{"body without id", rest.Request{ID: "p1", Body: []byte(patient("", "X", "female"))}, 400, "required", "Patient.id"},
		{"wrong type", rest.Request{ID: "p1", Body: []byte(`{"resourceType":"Observation","id":"p1"}`)}, 400, "structure", "resourceType"},
		{"invalid content", rest.Request{ID: "p1", Body: []byte(patient("p1", "X", "x"))}, 400, "", "Patient.gender"},
		{"empty body", rest.Request{ID: "p1"}, 400, "required", ""},
		{"invalid id in the URL", rest.Request{ID: "p_1", Body: []byte(patient("p_1", "X", "female"))}, 400, "value", "id"},
		{"unknown type", rest.Request{Type: "Foo", ID: "p1", Body: []byte(`{"resourceType":"Foo","id":"p1"}`)}, 404, "not-supported", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "One", "female"))
			req := tc.req
			req.Interaction = rest.Update
			if req.Type == "" {
				req.Type = "Patient"
			}
			resttest.WantError(t, env.Fail(t, &req), tc.status, tc.code, tc.expression)
			if got, want := resttest.Refs(env.Versions(t, "", "")), []string{"Patient/p1/_history/1"}; !slices.Equal(got, want) {
				t.Errorf("a refused update left %v, want %v", got, want)
			}
		})
	}

	t.Run("an AuditEvent cannot be updated", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		ae := `{"resourceType":"AuditEvent","id":"a1","type":{"code":"rest"},"recorded":"2024-01-31T10:00:00Z",` +
			`"agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`
		err := env.Fail(t, &rest.Request{Interaction: rest.Update, Type: "AuditEvent", ID: "a1", Body: []byte(ae)})
		resttest.WantError(t, err, 405, "not-supported", "")
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("stored %v", resttest.Refs(vs))
		}
	})
}

func TestConditionalUpdate(t *testing.T) {
	t.Parallel()
	// Patients a (identifier ma), b and c (identifier dup) are stored first; each case PUTs to Patient?criteria.
	for _, tc := range []struct {
		name             string
		criteria         string
		body             string
		status           int
		id               string // of the resource written
		code, expression string
	}{
		{name: "no match, no id, creates at a server id", criteria: "identifier=http://example.org/mrn|none",
			body: patientWith("", "New", "none"), status: 201, id: "u1"},
		{name: "no match, an id, creates at that id", criteria: "identifier=http://example.org/mrn|none",
			body: patientWith("chosen", "New", "none"), status: 201, id: "chosen"},
		{name: "no match, an invalid id", criteria: "identifier=http://example.org/mrn|none",
			body: patientWith("bad_id", "New", "none"), status: 400, code: "value", expression: "Patient.id"},
		{name: "one match, no id, updates it", criteria: "identifier=http://example.org/mrn|ma",
			body: patientWith("", "Changed", "ma"), status: 200, id: "a"},
		{name: "one match, its id, updates it", criteria: "identifier=http://example.org/mrn|ma",
			body: patientWith("a", "Changed", "ma"), status: 200, id: "a"},
		{name: "one match, another id", criteria: "identifier=http://example.org/mrn|ma",
			body: patientWith("b", "Changed", "ma"), status: 400, code: "value", expression: "Patient.id"},
		{name: "two matches", criteria: "identifier=http://example.org/mrn|dup",
			body: patientWith("", "Changed", "dup"), status: 412, code: "multiple-matches", expression: "criteria"},
		{name: "no criteria", body: patientWith("", "X", "x"), status: 400, code: "required", expression: "criteria"},
		{name: "only _format is no criteria", criteria: "_format=json", body: patientWith("", "X", "x"), status: 400,
			code: "required", expression: "criteria"},
		{name: "unknown parameter", criteria: "nosuch=1", body: patientWith("", "X", "x"), status: 400, code: "not-supported",
			expression: "nosuch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t, resttest.SequentialIDs("u"))
			env.Put(t, patientWith("a", "A", "ma"))
			env.Put(t, patientWith("b", "B", "dup"))
			env.Put(t, patientWith("c", "C", "dup"))
			before := resttest.Refs(env.Versions(t, "", ""))

			req := &rest.Request{Interaction: rest.Update, Type: "Patient", Params: query(t, tc.criteria), Body: []byte(tc.body)}
			resp, err := env.Do(req)
			after := resttest.Refs(env.Versions(t, "", ""))
			if tc.status >= 400 {
				resttest.WantError(t, err, tc.status, tc.code, tc.expression)
				if !slices.Equal(after, before) {
					t.Errorf("a refused conditional update wrote: %v -> %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resttest.WantStatus(t, resp, tc.status)
			if got := idOf(t, resp); got != tc.id {
				t.Errorf("wrote %s, want %s", got, tc.id)
			}
			wantVersion := uint64(1)
			if tc.status == 200 {
				wantVersion = 2
			}
			if v := env.Stored(t, "Patient", tc.id); v == nil || v.VersionID != wantVersion || resttest.Str(t, v.Body, "name.0.family") == "" {
				t.Fatalf("stored %+v, want version %d", v, wantVersion)
			}
			if len(after) != len(before)+1 {
				t.Errorf("%d versions written, want 1: %v", len(after)-len(before), after)
			}
		})
	}
}
