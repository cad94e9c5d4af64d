package rest_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// transaction (https://hl7.org/fhir/R4/http.html#transaction): all entries or none, in the order of
// #trules (DELETE, POST, PUT and PATCH, GET), with the references between entries rewritten.

// withFullURL returns an entry with a fullUrl.
func withFullURL(fullURL, e string) string {
	return `{"fullUrl":"` + fullURL + `",` + strings.TrimPrefix(e, "{")
}

// transactionBundle decodes a transaction-response.
func transactionBundle(t *testing.T, resp *rest.Response, entries int) *resttest.Bundle {
	t.Helper()
	resttest.WantStatus(t, resp, 200)
	b := resttest.DecodeBundle(t, resp.Body)
	if b.Type != "transaction-response" || len(b.Entry) != entries {
		t.Fatalf("%s with %d entries, want a transaction-response of %d: %s", b.Type, len(b.Entry), entries, resp.Body)
	}
	return b
}

// createdRef returns "Type/id" of an entry's location, and fails the test unless it is version 1.
func createdRef(t *testing.T, e resttest.Entry) string {
	t.Helper()
	m := createdLocation.FindStringSubmatch(e.Response.Location)
	if m == nil || m[3] != "1" || e.Response.Status != "201 Created" {
		t.Fatalf("entry %+v, want 201 Created at version 1", e.Response)
	}
	return m[1] + "/" + m[2]
}

func TestTransaction(t *testing.T) {
	t.Parallel()

	t.Run("urn:uuid references are rewritten whatever the order", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		const pURN = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
		// The Observation comes first: its reference resolves all the same.
		resp := env.Post(t, bundle("transaction",
			withFullURL("urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059", entry("POST", "Observation", observation("", pURN))),
			withFullURL(pURN, entry("POST", "Patient", patient("", "Linked", "female"))),
		))
		b := transactionBundle(t, resp, 2)
		obs, pat := createdRef(t, b.Entry[0]), createdRef(t, b.Entry[1])
		if !strings.HasPrefix(obs, "Observation/") || !strings.HasPrefix(pat, "Patient/") {
			t.Fatalf("entries answer for %s, %s: the answers keep the request order", obs, pat)
		}
		o := env.Stored(t, "Observation", strings.TrimPrefix(obs, "Observation/"))
		if got := resttest.Str(t, o.Body, "subject.reference"); got != pat {
			t.Errorf("subject.reference %q, want %s", got, pat)
		}
		if env.Stored(t, "Patient", strings.TrimPrefix(pat, "Patient/")) == nil {
			t.Errorf("%s not stored", pat)
		}
	})

	t.Run("absolute fullUrls and narrative links are rewritten", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		const pURL = "http://other.test/fhir/Patient/ext1"
		narrated := `{"resourceType":"Patient","id":"n1","text":{"status":"generated",` +
			`"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"` + pURL + `\">link</a></div>"}}`
		b := transactionBundle(t, env.Post(t, bundle("transaction",
			withFullURL(pURL, entry("POST", "Patient", patient("", "Ext", "male"))),
			entry("POST", "Observation", observation("", pURL)),
			entry("PUT", "Patient/n1", narrated),
		)), 3)
		pat := createdRef(t, b.Entry[0])
		o := env.Stored(t, "Observation", strings.TrimPrefix(createdRef(t, b.Entry[1]), "Observation/"))
		if got := resttest.Str(t, o.Body, "subject.reference"); got != pat {
			t.Errorf("subject.reference %q, want %s", got, pat)
		}
		div := resttest.Str(t, env.Stored(t, "Patient", "n1").Body, "text.div")
		if !strings.Contains(div, `href="`+pat+`"`) {
			t.Errorf("narrative %s, want the link to %s", div, pat)
		}
	})

	t.Run("a PATCH may reference a resource the transaction creates", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "Patched", "female"))
		const orgURN = "urn:uuid:0e3b3b6a-58a5-4d4c-9c0b-2f6b0c1f5a11"
		b := transactionBundle(t, env.Post(t, bundle("transaction",
			entry("PATCH", "Patient/p1", binaryPatch(`[{"op":"add","path":"/managingOrganization","value":{"reference":"`+orgURN+`"}}]`)),
			withFullURL(orgURN, entry("POST", "Organization", `{"resourceType":"Organization","name":"Org"}`)),
		)), 2)
		org := createdRef(t, b.Entry[1])
		if b.Entry[0].Response.Status != "200 OK" || b.Entry[0].Response.Etag != `W/"2"` {
			t.Errorf("patch %+v", b.Entry[0].Response)
		}
		if got := resttest.Str(t, env.Stored(t, "Patient", "p1").Body, "managingOrganization.reference"); got != org {
			t.Errorf("managingOrganization %q, want %s", got, org)
		}
	})

	// Conditional references ("Patient?identifier=...") resolve to the one match; Patient a has the
	// identifier ma, b and c share dup.
	for _, tc := range []struct {
		name, criteria string
		want           string // the reference stored, or "" for a refused transaction
		status         int
		code           string
	}{
		{"a conditional reference to one match", "identifier=http://example.org/mrn|ma", "Patient/a", 200, ""},
		{"a conditional reference to no match", "identifier=http://example.org/mrn|none", "", 404, "not-found"},
		{"a conditional reference to two matches", "identifier=http://example.org/mrn|dup", "", 412, "multiple-matches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patientWith("a", "A", "ma"))
			env.Put(t, patientWith("b", "B", "dup"))
			env.Put(t, patientWith("c", "C", "dup"))
			before := resttest.Refs(env.Versions(t, "", ""))
			resp, err := env.Do(&rest.Request{Interaction: rest.Transaction, Body: []byte(bundle("transaction",
				entry("PUT", "Observation/o1", observation("o1", "Patient?"+tc.criteria))))})
			if tc.want == "" {
				resttest.WantError(t, err, tc.status, tc.code, "Bundle.entry[0]")
				if after := resttest.Refs(env.Versions(t, "", "")); !slices.Equal(after, before) {
					t.Errorf("wrote: %v -> %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			transactionBundle(t, resp, 1)
			if got := resttest.Str(t, env.Stored(t, "Observation", "o1").Body, "subject.reference"); got != tc.want {
				t.Errorf("subject.reference %q, want %s", got, tc.want)
			}
		})
	}

	t.Run("one invalid entry fails the whole transaction", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		err := env.Fail(t, &rest.Request{Interaction: rest.Transaction, Body: []byte(bundle("transaction",
			entry("PUT", "Patient/tx-a", patient("tx-a", "A", "female")),
			entry("PUT", "Patient/tx-b", patient("tx-b", "B", "male")),
			entry("PUT", "Patient/tx-c", patient("tx-c", "C", "x")),
		))})
		resttest.WantError(t, err, 400, "", "Bundle.entry[2].resource.gender")
		if vs := env.Versions(t, "", ""); len(vs) != 0 {
			t.Errorf("a failed transaction stored %v", resttest.Refs(vs))
		}
	})

	// Refused transactions: the error names the entry, and the store holds Patient/tx-exists version 1
	// and nothing else, whatever the entries before the refused one did.
	for _, tc := range []struct {
		name       string
		body       string
		status     int
		expression string // prefix
	}{
		{"same resource written twice", bundle("transaction",
			entry("PUT", "Patient/x", patient("x", "X1", "male")),
			entry("PUT", "Patient/x", patient("x", "X2", "male"))), 400, "Bundle.entry[1]"},
		{"delete and update of the same resource", bundle("transaction",
			entry("PUT", "Patient/tx-exists", patient("tx-exists", "Changed", "male")),
			entry("DELETE", "Patient/tx-exists", "")), 400, "Bundle.entry["},
		{"unknown method", bundle("transaction",
			entry("PUT", "Patient/m1", patient("m1", "M", "male")),
			entry("FETCH", "Patient/m1", "")), 400, "Bundle.entry[1].request.method"},
		{"entry without request", bundle("transaction",
			entry("PUT", "Patient/m2", patient("m2", "M", "male")),
			`{"resource":`+patient("", "NoReq", "male")+`}`), 400, "Bundle.entry[1].request"},
		{"PUT id differs from the URL", bundle("transaction",
			entry("PUT", "Patient/m3", patient("m4", "M", "male"))), 400, "Bundle.entry[0]"},
		{"stale ifMatch, found at commit", bundle("transaction",
			entry("PUT", "Patient/m5", patient("m5", "M", "male")),
			`{"resource":`+patient("tx-exists", "Stale", "male")+`,"request":{"method":"PUT","url":"Patient/tx-exists","ifMatch":"W/\"7\""}}`),
			412, "Bundle.entry[1]"},
		{"unknown type", bundle("transaction",
			entry("PUT", "Patient/m6", patient("m6", "M", "male")),
			entry("POST", "Foo", `{"resourceType":"Foo"}`)), 404, "Bundle.entry[1]"},
		{"a transaction inside a transaction", bundle("transaction",
			entry("PUT", "Patient/m9", patient("m9", "M", "male")),
			entry("POST", resttest.BaseURL+"/", bundle("transaction"))), 400, "Bundle.entry[1].request.url"},
		{"a conditional create with two matches", bundle("transaction",
			entry("PUT", "Patient/d1", patientWith("d1", "D1", "dup")),
			`{"resource":`+patientWith("", "New", "exists")+
				`,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org/mrn|twice"}}`),
			412, "Bundle.entry[1]"},
		{"a conditional patch without a match", bundle("transaction",
			entry("PUT", "Patient/m10", patient("m10", "M", "male")),
			entry("PATCH", "Patient?identifier="+url.QueryEscape("http://example.org/mrn|none"),
				binaryPatch(`[{"op":"replace","path":"/gender","value":"female"}]`))), 404, "Bundle.entry[1]"},
		{"a failing JSON Patch test", bundle("transaction",
			entry("PUT", "Patient/m11", patient("m11", "M", "male")),
			entry("PATCH", "Patient/tx-exists", binaryPatch(`[{"op":"test","path":"/gender","value":"female"}]`))), 422, "Bundle.entry[1]"},
		{"deleting an AuditEvent", bundle("transaction",
			entry("PUT", "Patient/m12", patient("m12", "M", "male")),
			entry("DELETE", "AuditEvent/a1", "")), 405, "Bundle.entry[1]"},
		{"a collection Bundle", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://example.org/Patient/m7","resource":` +
			patient("m7", "M", "male") + `}]}`, 400, "Bundle.type"},
		{"not a Bundle", patient("m8", "M", "male"), 400, ""},
		{"malformed JSON", `{"resourceType":"Bundle","type":"transaction","entry":[`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("tx-exists", "Exists", "male"))
			env.Put(t, patientWith("tw1", "Twice", "twice"))
			env.Put(t, patientWith("tw2", "Twice", "twice"))
			before := resttest.Refs(env.Versions(t, "", ""))
			err := env.Fail(t, &rest.Request{Interaction: rest.Transaction, Body: []byte(tc.body)})
			fe := resttest.WantError(t, err, tc.status, "", "")
			if !strings.HasPrefix(fe.Expression, tc.expression) {
				t.Errorf("expression %q, want %s...", fe.Expression, tc.expression)
			}
			if after := resttest.Refs(env.Versions(t, "", "")); !slices.Equal(after, before) {
				t.Errorf("a failed transaction wrote: %v -> %v", before, after)
			}
		})
	}

	t.Run("processing order DELETE, POST, PUT, GET", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("a", "A", "female"))
		b := transactionBundle(t, env.Post(t, bundle("transaction",
			entry("GET", "Patient/b", ""),
			entry("PUT", "Patient/b", patient("b", "Written", "male")),
			entry("DELETE", "Patient/a", ""),
			entry("GET", "Patient/a", ""),
		)), 4)
		var got []string
		for _, e := range b.Entry {
			got = append(got, e.Response.Status)
		}
		if want := "200 OK,201 Created,204 No Content,410 Gone"; strings.Join(got, ",") != want {
			t.Errorf("statuses %v, want %s: the reads run after the writes", got, want)
		}
		if res := b.Entry[0].Resource; resttest.Str(t, res, "name.0.family") != "Written" {
			t.Errorf("the GET did not see the PUT of the same transaction: %s", res)
		}
		if !env.Stored(t, "Patient", "a").Deleted || env.Stored(t, "Patient", "b") == nil {
			t.Error("the writes are not stored")
		}
	})

	t.Run("a failed read does not undo the writes", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		b := transactionBundle(t, env.Post(t, bundle("transaction",
			entry("PUT", "Patient/p1", patient("p1", "One", "female")),
			entry("GET", "Patient/nope", ""),
		)), 2)
		if b.Entry[1].Response.Status != "404 Not Found" || env.Stored(t, "Patient", "p1") == nil {
			t.Errorf("read %+v; Patient/p1 stored: %v", b.Entry[1].Response, env.Stored(t, "Patient", "p1") != nil)
		}
	})

	t.Run("entries answer with version and time; the Bundle with neither", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("tx-exists", "Exists", "male"))
		now := env.Clock.Advance(time.Minute)
		resp := env.Post(t, bundle("transaction", entry("PUT", "Patient/tx-exists", patient("tx-exists", "Second", "male"))))
		e := transactionBundle(t, resp, 1).Entry[0].Response
		if e.Status != "200 OK" || e.Etag != `W/"2"` || e.LastModified != fhir.FormatInstant(now) {
			t.Errorf("entry %+v, want 200 OK, W/\"2\" at %s", e, fhir.FormatInstant(now))
		}
		if resp.VersionID != "" || !resp.LastModified.IsZero() {
			t.Errorf("the Bundle answer carries version %q at %v (entry.response says it)", resp.VersionID, resp.LastModified)
		}
	})

	t.Run("conditional create, update and delete", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patientWith("a", "A", "ma"))
		env.Put(t, patientWith("b", "B", "mb"))
		before := len(env.Versions(t, "", ""))
		ifNoneExist := func(ident string) string {
			return `{"resource":` + patientWith("", "New", ident) +
				`,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org/mrn|` + ident + `"}}`
		}
		crit := func(ident string) string {
			return "Patient?identifier=" + url.QueryEscape("http://example.org/mrn|"+ident)
		}
		b := transactionBundle(t, env.Post(t, bundle("transaction",
			ifNoneExist("ma"),  // matches a: nothing written
			ifNoneExist("new"), // no match: created
			entry("PUT", crit("mb"), patientWith("", "B2", "mb")), // matches b: updated
			entry("PUT", crit("mc"), patientWith("c", "C", "mc")), // no match: created at the body's id
			entry("DELETE", crit("none"), ""),                     // no match: nothing
		)), 5)
		var got []string
		for _, e := range b.Entry {
			got = append(got, e.Response.Status+" "+e.Response.Etag)
		}
		want := []string{`200 OK W/"1"`, `201 Created W/"1"`, `200 OK W/"2"`, `201 Created W/"1"`, `204 No Content `}
		if !slices.Equal(got, want) {
			t.Errorf("answers\n got %q\nwant %q", got, want)
		}
		if v := env.Stored(t, "Patient", "b"); v.VersionID != 2 || resttest.Str(t, v.Body, "name.0.family") != "B2" {
			t.Errorf("Patient/b %d: %s", v.VersionID, v.Body)
		}
		if env.Stored(t, "Patient", "c") == nil {
			t.Error("Patient/c not created")
		}
		if after := len(env.Versions(t, "", "")); after != before+3 {
			t.Errorf("%d versions written, want 3", after-before)
		}
	})
}

// TestTransactionConditionalURLWithAbsoluteQueryValue: the conditional update of a transaction names its
// criteria in request.url, and a token's system there is a URL (see TestBatchEntryURLWithAbsoluteQueryValue).
func TestTransactionConditionalURLWithAbsoluteQueryValue(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	env.Put(t, patientWith("a", "A", "ma"))
	resp, err := env.Do(&rest.Request{Interaction: rest.Transaction, Body: []byte(bundle("transaction",
		entry("PUT", "Patient?identifier=http://example.org/mrn|ma", patientWith("", "A2", "ma"))))})
	if err != nil {
		t.Fatalf("%v: %s", err, rest.ErrorOutcome(err))
	}
	transactionBundle(t, resp, 1)
	if v := env.Stored(t, "Patient", "a"); v.VersionID != 2 {
		t.Errorf("Patient/a at version %d, want 2", v.VersionID)
	}
}
