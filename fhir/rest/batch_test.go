package rest_test

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// batch (https://hl7.org/fhir/R4/http.html#transaction): every entry runs on its own, in order, and
// answers with its own status and outcome. Transactions are in transaction_test.go.

// bundle returns a Bundle of a type ("batch", "transaction") with the entries, JSON objects.
func bundle(typ string, entries ...string) string {
	return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
}

// entry returns a Bundle entry: a request, and a resource unless it is "".
func entry(method, url, resource string) string {
	e := `{"request":{"method":"` + method + `","url":"` + url + `"}`
	if resource != "" {
		e += `,"resource":` + resource
	}
	return e + "}"
}

// binaryPatch returns a JSON Patch as a Bundle carries it: in a Binary.
func binaryPatch(patch string) string {
	return `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
		base64.StdEncoding.EncodeToString([]byte(patch)) + `"}`
}

var createdLocation = regexp.MustCompile(`^` + regexp.QuoteMeta(resttest.BaseURL) + `/(\w+)/([A-Za-z0-9\-.]{1,64})/_history/(\d+)$`)

func TestBatch(t *testing.T) {
	t.Parallel()

	t.Run("each entry succeeds or fails on its own", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resp := env.Post(t, bundle("batch",
			`{"fullUrl":"urn:uuid:3c3e9a7d-3d4a-4a8b-9a55-1f0f6f7c0a01","resource":`+patient("", "Good", "female")+
				`,"request":{"method":"POST","url":"Patient"}}`,
			entry("POST", "Patient", patient("", "Bad", "x")),
			entry("GET", "Patient/does-not-exist", ""),
		))
		resttest.WantStatus(t, resp, 200)
		if resp.VersionID != "" || resp.Location != "" {
			t.Errorf("a Bundle answer describes a version (%q, %q): the entries do", resp.VersionID, resp.Location)
		}
		b := resttest.DecodeBundle(t, resp.Body)
		if b.Type != "batch-response" || len(b.Entry) != 3 || len(resp.Entries) != 3 {
			t.Fatalf("%s with %d entries (%d results), want a batch-response of 3", b.Type, len(b.Entry), len(resp.Entries))
		}

		created := b.Entry[0].Response
		m := createdLocation.FindStringSubmatch(created.Location)
		if created.Status != "201 Created" || m == nil || m[1] != "Patient" || m[3] != "1" || created.Etag != `W/"1"` ||
			created.LastModified == "" {
			t.Errorf("valid create answered %+v", created)
		}
		if len(b.Entry[0].Resource) != 0 {
			t.Errorf("a write in a Bundle answers with the resource without Prefer: return=representation: %s", b.Entry[0].Resource)
		}

		if got := b.Entry[1].Response.Status; !strings.HasPrefix(got, "400 ") {
			t.Errorf("invalid create status %q", got)
		}
		if is := resttest.Issues(t, b.Entry[1].Response.Outcome); len(is[0].Expression) == 0 || is[0].Expression[0] != "Patient.gender" {
			t.Errorf("invalid create outcome %+v, want the expression Patient.gender", is)
		}

		if got := b.Entry[2].Response.Status; got != "404 Not Found" {
			t.Errorf("read of an unknown id status %q", got)
		}
		if is := resttest.Issues(t, b.Entry[2].Response.Outcome); is[0].Code != "not-found" {
			t.Errorf("read of an unknown id outcome %+v", is)
		}
		for i, r := range resp.Entries {
			if failed := r.Err != nil; failed != (i > 0) {
				t.Errorf("result %d: error %v", i, r.Err)
			}
		}

		// Only the valid create is stored.
		vs := env.Versions(t, "", "")
		if len(vs) != 1 || m == nil || vs[0].ID != m[2] || resttest.Str(t, vs[0].Body, "name.0.family") != "Good" {
			t.Errorf("stored %v, want the valid create (%s) only", resttest.Refs(vs), created.Location)
		}
	})

	// A failing entry after a PUT that succeeds: its status and outcome, and the PUT stored all the same.
	for _, tc := range []struct {
		name             string
		setup            string // a resource stored first, or ""
		entry            string
		status           string // prefix of the status line
		code, expression string
	}{
		{name: "no request", entry: `{"resource":` + patient("", "X", "male") + `}`, status: "400", code: "required",
			expression: "Bundle.entry[1].request"},
		{name: "unknown method", entry: entry("FETCH", "Patient/1", ""), status: "400", code: "value",
			expression: "Bundle.entry[1].request.method"},
		{name: "URL of another server", entry: entry("GET", "http://elsewhere.test/fhir/Patient/1", ""), status: "400", code: "value",
			expression: "Bundle.entry[1].request.url"},
		{name: "unknown path", entry: entry("GET", "Patient/1/foo", ""), status: "404", code: "not-supported",
			expression: "Bundle.entry[1].request.url"},
		{name: "method not allowed on the path", entry: entry("POST", "Patient/1", patient("1", "X", "male")), status: "405",
			code: "not-supported", expression: "Bundle.entry[1].request.url"},
		{name: "a batch inside a batch", entry: entry("POST", resttest.BaseURL+"/", bundle("batch")), status: "400",
			code: "not-supported", expression: "Bundle.entry[1].request.url"},
		{name: "invalid id", entry: entry("GET", "Patient/a_b", ""), status: "400", code: "value", expression: "Bundle.entry[1].request.url"},
		{name: "malformed ifModifiedSince", entry: `{"request":{"method":"GET","url":"Patient/ok","ifModifiedSince":"yesterday"}}`,
			status: "400", code: "value", expression: "Bundle.entry[1].request.ifModifiedSince"},
		{name: "patch data not base64", entry: entry("PATCH", "Patient/ok",
			`{"resourceType":"Binary","contentType":"application/json-patch+json","data":"%%%"}`),
			status: "400", code: "value", expression: "Bundle.entry[1].resource.data"},
		{name: "type differs from the URL", entry: entry("POST", "Patient", observation("", "Patient/ok")), status: "400",
			code: "structure", expression: "resourceType"},
		{name: "stale ifMatch", setup: patient("p1", "One", "female"),
			entry:  `{"resource":` + patient("p1", "Two", "female") + `,"request":{"method":"PUT","url":"Patient/p1","ifMatch":"W/\"7\""}}`,
			status: "412", code: "conflict", expression: "If-Match"},
		{name: "conditional create with two matches", setup: patientWith("p1", "One", "dup") + "\n" + patientWith("p2", "Two", "dup"),
			entry: `{"resource":` + patientWith("", "New", "dup") +
				`,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org/mrn|dup"}}`,
			status: "412", code: "multiple-matches", expression: "If-None-Exist"},
		{name: "delete of an AuditEvent", entry: entry("DELETE", "AuditEvent/a1", ""), status: "405", code: "not-supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			for _, r := range strings.Split(tc.setup, "\n") {
				if r != "" {
					env.Put(t, r)
				}
			}
			b := resttest.DecodeBundle(t, env.Post(t, bundle("batch", entry("PUT", "Patient/ok", patient("ok", "OK", "male")), tc.entry)).Body)
			if len(b.Entry) != 2 {
				t.Fatalf("%d entries", len(b.Entry))
			}
			if got := b.Entry[0].Response.Status; got != "201 Created" || env.Stored(t, "Patient", "ok") == nil {
				t.Errorf("the valid entry: %s, stored %v", got, env.Stored(t, "Patient", "ok"))
			}
			r := b.Entry[1].Response
			if !strings.HasPrefix(r.Status, tc.status+" ") {
				t.Errorf("status %q, want %s", r.Status, tc.status)
			}
			is := resttest.Issues(t, r.Outcome)
			if tc.code != "" && is[0].Code != tc.code {
				t.Errorf("issue code %q, want %q: %s", is[0].Code, tc.code, r.Outcome)
			}
			if tc.expression != "" && (len(is[0].Expression) == 0 || is[0].Expression[0] != tc.expression) {
				t.Errorf("issue expression %v, want %q: %s", is[0].Expression, tc.expression, r.Outcome)
			}
		})
	}

	t.Run("reads answer with the resource", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patientWith("p1", "Read", "m1"))
		b := resttest.DecodeBundle(t, env.Post(t, bundle("batch",
			entry("GET", "Patient/p1", ""),
			`{"request":{"method":"GET","url":"Patient/p1","ifNoneMatch":"W/\"1\""}}`,
			entry("GET", "Patient?identifier="+url.QueryEscape("http://example.org/mrn|m1"), ""),
			entry("GET", "Patient/p1/_history/1", ""),
		)).Body)
		if len(b.Entry) != 4 {
			t.Fatalf("%d entries", len(b.Entry))
		}
		read := b.Entry[0]
		if read.Response.Status != "200 OK" || read.Response.Etag != `W/"1"` || read.FullURL != resttest.BaseURL+"/Patient/p1" ||
			resttest.Str(t, read.Resource, "id") != "p1" {
			t.Errorf("read: %+v %s", read.Response, read.Resource)
		}
		if r := b.Entry[1]; r.Response.Status != "304 Not Modified" || len(r.Resource) != 0 {
			t.Errorf("conditional read: %+v %s", r.Response, r.Resource)
		}
		search := b.Entry[2]
		if search.Response.Status != "200 OK" || search.FullURL != "" {
			t.Errorf("search: %+v, fullUrl %q", search.Response, search.FullURL)
		}
		if got := resttest.DecodeBundle(t, search.Resource).Versions(t); len(got) != 1 || got[0] != "Patient/p1/_history/1" {
			t.Errorf("search found %v", got)
		}
		if r := b.Entry[3]; r.Response.Status != "200 OK" || resttest.Str(t, r.Resource, "meta.versionId") != "1" {
			t.Errorf("vread: %+v %s", r.Response, r.Resource)
		}
	})

	t.Run("entries run in order and see the writes before them", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		b := resttest.DecodeBundle(t, env.Post(t, bundle("batch",
			entry("GET", "Patient/p1", ""),
			entry("PUT", "Patient/p1", patient("p1", "One", "female")),
			entry("GET", "Patient/p1", ""),
			entry("DELETE", "Patient/p1", ""),
		)).Body)
		var got []string
		for _, e := range b.Entry {
			got = append(got, e.Response.Status)
		}
		if want := "404 Not Found,201 Created,200 OK,204 No Content"; strings.Join(got, ",") != want {
			t.Errorf("statuses %v, want %s", got, want)
		}
	})

	t.Run("Prefer: return=representation answers writes with the resource", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resp := env.Must(t, &rest.Request{Interaction: rest.Batch, Return: rest.ReturnRepresentation,
			Body: []byte(bundle("batch", entry("PUT", "Patient/p1", patient("p1", "One", "female"))))})
		e := resttest.DecodeBundle(t, resp.Body).Entry[0]
		if resttest.Str(t, e.Resource, "meta.versionId") != "1" || e.FullURL != resttest.BaseURL+"/Patient/p1" {
			t.Errorf("entry %+v: %s", e.Response, e.Resource)
		}
	})

	t.Run("Prefer: return=OperationOutcome answers writes with an outcome", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		resp := env.Must(t, &rest.Request{Interaction: rest.Batch, Return: rest.ReturnOutcome,
			Body: []byte(bundle("batch", entry("PUT", "Patient/p1", patient("p1", "One", "female"))))})
		e := resttest.DecodeBundle(t, resp.Body).Entry[0]
		if is := resttest.Issues(t, e.Response.Outcome); is[0].Severity != "information" || len(e.Resource) != 0 {
			t.Errorf("entry %+v: %s", e.Response, e.Resource)
		}
	})

	t.Run("patches carry a JSON Patch in a Binary, or a FHIRPath Patch", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "One", "female"))
		b := resttest.DecodeBundle(t, env.Post(t, bundle("batch",
			entry("PATCH", "Patient/p1", binaryPatch(`[{"op":"replace","path":"/gender","value":"male"}]`)),
			entry("PATCH", "Patient/p1", fhirPathPatch("replace", "Patient.gender", "other")),
		)).Body)
		for i, e := range b.Entry {
			if e.Response.Status != "200 OK" {
				t.Errorf("entry %d: %+v", i, e.Response)
			}
		}
		if v := env.Stored(t, "Patient", "p1"); v.VersionID != 3 || resttest.Str(t, v.Body, "gender") != "other" {
			t.Errorf("stored version %d: %s", v.VersionID, v.Body)
		}
	})

	t.Run("an empty batch", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		b := resttest.DecodeBundle(t, env.Post(t, `{"resourceType":"Bundle","type":"batch"}`).Body)
		if b.Type != "batch-response" || len(b.Entry) != 0 {
			t.Errorf("%s with %d entries", b.Type, len(b.Entry))
		}
	})

	t.Run("more entries than allowed is refused whole", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t, resttest.WithConfig(func(c *rest.Config) { c.MaxBundleEntries = 2 }))
		err := env.Fail(t, &rest.Request{Interaction: rest.Batch, Body: []byte(bundle("batch",
			entry("PUT", "Patient/a", patient("a", "A", "male")), entry("PUT", "Patient/b", patient("b", "B", "male")),
			entry("PUT", "Patient/c", patient("c", "C", "male"))))})
		resttest.WantError(t, err, 413, "too-costly", "Bundle.entry")
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("stored %v", resttest.Refs(vs))
		}
	})
}

// TestBatchEntryURLWithAbsoluteQueryValue: a relative request.url whose query holds a URL (a token's
// system, as in Patient?identifier=http://example.org/mrn|m1, which RFC 3986 allows unescaped in a
// query) is relative all the same; the service takes any URL containing "://" for an absolute one.
func TestBatchEntryURLWithAbsoluteQueryValue(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	env.Put(t, patientWith("p1", "Read", "m1"))
	b := resttest.DecodeBundle(t, env.Post(t, bundle("batch", entry("GET", "Patient?identifier=http://example.org/mrn|m1", ""))).Body)
	if got := b.Entry[0].Response.Status; got != "200 OK" {
		t.Fatalf("status %q: %s", got, b.Entry[0].Response.Outcome)
	}
	if got := resttest.DecodeBundle(t, b.Entry[0].Resource).Versions(t); len(got) != 1 {
		t.Errorf("search found %v", got)
	}
}
