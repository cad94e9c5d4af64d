package rest_test

import (
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// read (https://hl7.org/fhir/R4/http.html#read) and conditional read (#cread).

func TestRead(t *testing.T) {
	t.Parallel()

	t.Run("200 with the current version", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "First", "female"))
		at := env.Clock.Advance(time.Minute)
		env.Put(t, patient("p1", "Second", "female"))

		resp := env.Read(t, "Patient", "p1")
		resttest.WantStatus(t, resp, 200)
		if resp.VersionID != "2" || !resp.LastModified.Equal(at) {
			t.Errorf("version %q at %v, want 2 at %v", resp.VersionID, resp.LastModified, at)
		}
		if stored := env.Stored(t, "Patient", "p1"); string(resp.Body) != string(stored.Body) {
			t.Errorf("read %s, stored %s", resp.Body, stored.Body)
		}
		if resp.Location != "" {
			t.Errorf("a read has Location %q", resp.Location)
		}
	})

	for _, tc := range []struct {
		name, typ, id    string
		status           int
		code, expression string
	}{
		{"unknown id", "Patient", "does-not-exist", 404, "not-found", ""},
		{"unknown type", "Foo", "p1", 404, "not-supported", ""},
		{"id with a forbidden character", "Patient", "a_b", 400, "value", "id"},
		{"id too long", "Patient", strings.Repeat("a", 65), 400, "value", "id"},
		{"ids are case-sensitive", "Patient", "P1", 404, "not-found", ""},
		{"another type with the same id", "Observation", "p1", 404, "not-found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "Read", "female"))
			err := env.Fail(t, &rest.Request{Interaction: rest.Read, Type: tc.typ, ID: tc.id})
			resttest.WantError(t, err, tc.status, tc.code, tc.expression)
		})
	}

	t.Run("the longest id is 64 characters", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		id := strings.Repeat("a", 64)
		env.Put(t, patient(id, "Long", "female"))
		if got := idOf(t, env.Read(t, "Patient", id)); got != id {
			t.Errorf("read id %q", got)
		}
	})
}

func TestConditionalRead(t *testing.T) {
	t.Parallel()
	// The resource is written half a second past Epoch: HTTP dates (If-Modified-Since) have no fractions.
	written := resttest.Epoch.Add(500 * time.Millisecond)
	for _, tc := range []struct {
		name            string
		ifNoneMatch     string
		ifModifiedSince time.Time
		status          int
	}{
		{name: "If-None-Match current version", ifNoneMatch: `W/"1"`, status: 304},
		{name: "If-None-Match strong tag", ifNoneMatch: `"1"`, status: 304},
		{name: "If-None-Match other version", ifNoneMatch: `W/"9"`, status: 200},
		{name: "If-None-Match list", ifNoneMatch: `W/"4", W/"1"`, status: 304},
		{name: "If-None-Match star", ifNoneMatch: `*`, status: 304},
		{name: "If-None-Match garbage", ifNoneMatch: `W/"one"`, status: 200},
		{name: "If-Modified-Since later", ifModifiedSince: written.Add(time.Hour), status: 304},
		{name: "If-Modified-Since earlier", ifModifiedSince: written.Add(-time.Hour), status: 200},
		{name: "If-Modified-Since the second of the write", ifModifiedSince: written.Truncate(time.Second), status: 304},
		{name: "If-Modified-Since the second before", ifModifiedSince: written.Truncate(time.Second).Add(-time.Second), status: 200},
		{name: "If-None-Match wins over If-Modified-Since", ifNoneMatch: `W/"9"`, ifModifiedSince: written.Add(time.Hour), status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Clock.Advance(written.Sub(resttest.Epoch))
			env.Put(t, patient("p1", "Cond", "female"))
			env.Clock.Advance(time.Hour) // the read comes later

			resp := env.Must(t, &rest.Request{Interaction: rest.Read, Type: "Patient", ID: "p1",
				IfNoneMatch: tc.ifNoneMatch, IfModifiedSince: tc.ifModifiedSince})
			resttest.WantStatus(t, resp, tc.status)
			if resp.VersionID != "1" || !resp.LastModified.Equal(written) {
				t.Errorf("version %q at %v, want 1 at %v (the validators of what the client has)", resp.VersionID, resp.LastModified, written)
			}
			switch {
			case tc.status == 304 && resp.Body != nil:
				t.Errorf("304 with a body: %s", resp.Body)
			case tc.status == 200 && idOf(t, resp) != "p1":
				t.Errorf("200 without the resource: %s", resp.Body)
			}
		})
	}
}
