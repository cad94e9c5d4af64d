package gateway

// The HTTP side of the FHIR REST API (https://hl7.org/fhir/R4/http.html), through a real server on
// 127.0.0.1 over a real embedded store: how HTTP becomes a rest.Request (headers, bodies, media types,
// Prefer, conditional headers) and a rest.Response or an error becomes HTTP (status, headers,
// OperationOutcome, content negotiation). What each interaction does is tested beside the service, in
// fhir/rest/*_test.go; here each case only needs to show that the gateway carries it over HTTP.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/store"
)

// ---------------------------------------------------------------------------------------------------
// Helpers

// jobj is a decoded JSON object.
type jobj = map[string]any

// jarray is a decoded JSON array.
type jarray = []any

func toJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jat walks a decoded JSON value along keys (string) and indexes (int); nil when absent.
func jat(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(jobj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.(jarray)
			if !ok || k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		default:
			panic(fmt.Sprintf("at: bad path element %T", p))
		}
	}
	return v
}

// jstr is jat() as a string ("" when absent or not a string).
func jstr(v any, path ...any) string {
	s, _ := jat(v, path...).(string)
	return s
}

func jlist(v any) jarray {
	a, _ := v.(jarray)
	return a
}

func patientRes(id, family, gender string) jobj {
	p := jobj{
		"resourceType": "Patient",
		"active":       true,
		"name":         jarray{jobj{"use": "official", "family": family, "given": jarray{"Ann", "Marie"}}},
		"gender":       gender,
		"birthDate":    "1974-12-25",
	}
	if id != "" {
		p["id"] = id
	}
	return p
}

// create POSTs a resource and returns its server id and the returned body.
func (ts *testServer) create(t testing.TB, res jobj) (string, jobj) {
	t.Helper()
	typ := res["resourceType"].(string)
	r := ts.do(t, "POST", "/"+typ, toJSON(t, res))
	r.wantStatus(t, 201)
	body := r.json(t)
	id := jstr(body, "id")
	if id == "" {
		t.Fatalf("created %s has no id: %s", typ, r.body)
	}
	return id, body
}

// put PUTs a resource to its id and checks the status.
func (ts *testServer) put(t testing.TB, res jobj, wantStatus int, headers ...string) result {
	t.Helper()
	r := ts.do(t, "PUT", "/"+res["resourceType"].(string)+"/"+res["id"].(string), toJSON(t, res), headers...)
	r.wantStatus(t, wantStatus)
	return r
}

// stored returns the number of versions the store holds: what refused requests must leave unchanged.
func (ts *testServer) stored(t testing.TB) int {
	t.Helper()
	vs, err := ts.store.History(t.Context(), store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// wantOutcome checks an error response: status, FHIR JSON, an OperationOutcome with the issue code, and
// the expression when want is non-empty.
func (r result) wantOutcome(t testing.TB, status int, code, expression string) (gotExpr, details string) {
	t.Helper()
	r.wantStatus(t, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") &&
		!strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want FHIR JSON", ct)
	}
	gotCode, gotExpr, details := r.issue(t)
	if code != "" && gotCode != code {
		t.Errorf("issue code %q, want %q: %s", gotCode, code, r.body)
	}
	if expression != "" && gotExpr != expression {
		t.Errorf("issue expression %q, want %q: %s", gotExpr, expression, r.body)
	}
	return gotExpr, details
}

// wantVersionHeaders checks ETag and Last-Modified against a resource body's meta.
func (r result) wantVersionHeaders(t testing.TB, body jobj) {
	t.Helper()
	vid := jstr(body, "meta", "versionId")
	if vid == "" {
		t.Fatalf("no meta.versionId in %v", body)
	}
	if got, want := r.header.Get("ETag"), `W/"`+vid+`"`; got != want {
		t.Errorf("ETag %q, want %q", got, want)
	}
	lu, err := time.Parse(time.RFC3339Nano, jstr(body, "meta", "lastUpdated"))
	if err != nil {
		t.Fatalf("meta.lastUpdated %q: %v", jstr(body, "meta", "lastUpdated"), err)
	}
	lm, err := http.ParseTime(r.header.Get("Last-Modified"))
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", r.header.Get("Last-Modified"), err)
	}
	if !lm.Equal(lu.Truncate(time.Second)) {
		t.Errorf("Last-Modified %v, want meta.lastUpdated %v (to the second)", lm, lu)
	}
}

// wantNoBody checks that a response has no body.
func (r result) wantNoBody(t testing.TB) {
	t.Helper()
	if len(r.body) != 0 {
		t.Errorf("want no body, got %q", r.body)
	}
}

func bundleEntries(b jobj) jarray {
	e, _ := b["entry"].(jarray)
	return e
}

func bundleLink(b jobj, rel string) string {
	for _, l := range jlist(b["link"]) {
		if jstr(l, "relation") == rel {
			return jstr(l, "url")
		}
	}
	return ""
}

var locationRE = regexp.MustCompile(`^(.*)/Patient/([A-Za-z0-9\-.]{1,64})/_history/(\d+)$`)

// ---------------------------------------------------------------------------------------------------
// The Response as HTTP: status, ETag, Last-Modified, Location, Content-Location, body

func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("create is 201 with Location, Content-Location, ETag and Last-Modified", func(t *testing.T) {
		r := ts.do(t, "POST", "/Patient", toJSON(t, patientRes("", "Chalmers", "male")))
		r.wantStatus(t, 201)
		r.wantFHIRJSON(t)
		body := r.json(t)
		id := jstr(body, "id")
		want := ts.base + "/Patient/" + id + "/_history/1"
		if got := r.header.Get("Location"); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if got := r.header.Get("Content-Location"); got != want {
			t.Errorf("Content-Location %q, want %q", got, want)
		}
		r.wantVersionHeaders(t, body)

		back := ts.do(t, "GET", "/Patient/"+id, nil)
		back.wantStatus(t, 200)
		back.wantFHIRJSON(t)
		if !reflect.DeepEqual(back.json(t), body) {
			t.Errorf("read differs from the create response:\nread   %s\ncreate %s", back.body, r.body)
		}
		back.wantVersionHeaders(t, body)
		if back.header.Get("Location") != "" || back.header.Get("Content-Location") != "" {
			t.Errorf("a read has Location %q, Content-Location %q", back.header.Get("Location"), back.header.Get("Content-Location"))
		}
	})

	t.Run("update is 200 with ETag and Last-Modified, and no Location", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "One", "female"))
		r := ts.put(t, patientRes(id, "Two", "female"), 200)
		r.wantFHIRJSON(t)
		body := r.json(t)
		if jstr(body, "meta", "versionId") != "2" || jstr(body, "name", 0, "family") != "Two" {
			t.Errorf("update returned %s", r.body)
		}
		r.wantVersionHeaders(t, body)
		if r.header.Get("Location") != "" || r.header.Get("Content-Location") != "" {
			t.Errorf("a 200 update has Location %q, Content-Location %q", r.header.Get("Location"), r.header.Get("Content-Location"))
		}
	})

	t.Run("update as create is 201 with Location", func(t *testing.T) {
		const id = "put-as-create"
		r := ts.put(t, patientRes(id, "New", "male"), 201)
		if got, want := r.header.Get("Location"), ts.base+"/Patient/"+id+"/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		r.wantVersionHeaders(t, r.json(t))
	})

	t.Run("vread has the ETag of its version", func(t *testing.T) {
		id, v1 := ts.create(t, patientRes("", "Before", "female"))
		ts.put(t, patientRes(id, "After", "female"), 200)
		r := ts.do(t, "GET", "/Patient/"+id+"/_history/1", nil)
		r.wantStatus(t, 200)
		if !reflect.DeepEqual(r.json(t), v1) {
			t.Errorf("vread 1 %s, want %v", r.body, v1)
		}
		r.wantVersionHeaders(t, v1)
	})

	t.Run("delete is 204 without a body", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "Doomed", "male"))
		r := ts.do(t, "DELETE", "/Patient/"+id, nil)
		r.wantStatus(t, 204)
		r.wantNoBody(t)
		if got := r.header.Get("ETag"); got != `W/"2"` {
			t.Errorf("ETag %q, want the deletion's W/\"2\"", got)
		}
	})

	t.Run("a Bundle answer has no ETag", func(t *testing.T) {
		r := ts.do(t, "POST", "", toJSON(t, jobj{"resourceType": "Bundle", "type": "transaction", "entry": jarray{
			jobj{"resource": patientRes("", "Tx", "male"), "request": jobj{"method": "POST", "url": "Patient"}}}}))
		r.wantStatus(t, 200)
		r.wantFHIRJSON(t)
		b := r.json(t)
		if jstr(b, "type") != "transaction-response" || jstr(bundleEntries(b)[0], "response", "etag") != `W/"1"` {
			t.Errorf("transaction-response %s", r.body)
		}
		if r.header.Get("ETag") != "" || r.header.Get("Location") != "" {
			t.Errorf("a Bundle response carries ETag %q, Location %q (entry.response says them)", r.header.Get("ETag"), r.header.Get("Location"))
		}
	})

	t.Run("Bundle links work over HTTP", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "V1", "female"))
		ts.put(t, patientRes(id, "V2", "female"), 200)
		r := ts.do(t, "GET", "/Patient/"+id+"/_history?_count=1", nil)
		r.wantStatus(t, 200)
		next := bundleLink(r.json(t), "next")
		if !strings.HasPrefix(next, ts.base+"/Patient/"+id+"/_history?") {
			t.Fatalf("next link %q is not under this server's base %s", next, ts.base)
		}
		page := ts.do(t, "GET", next, nil)
		page.wantStatus(t, 200)
		if es := bundleEntries(page.json(t)); len(es) != 1 || jstr(es[0], "resource", "meta", "versionId") != "1" {
			t.Errorf("the next page %s, want version 1", page.body)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// Errors as HTTP: the status of the error's kind, and an OperationOutcome

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	noCode := jobj{"resourceType": "Observation", "status": "final", "subject": jobj{"reference": "Patient/p1"}}

	for _, tc := range []struct {
		name             string
		method, path     string
		body             []byte
		headers          []string
		status           int
		code, expression string
	}{
		{name: "400 names the element", method: "POST", path: "/Patient", body: toJSON(t, patientRes("", "X", "x")), status: 400,
			expression: "Patient.gender"},
		{name: "400 even with Prefer: return=minimal", method: "POST", path: "/Patient", body: toJSON(t, patientRes("", "X", "x")),
			headers: []string{"Prefer: return=minimal"}, status: 400, expression: "Patient.gender"},
		{name: "404 of an unknown id", method: "GET", path: "/Patient/does-not-exist", status: 404, code: "not-found"},
		{name: "404 of an unknown type", method: "GET", path: "/Foo/1", status: 404, code: "not-supported"},
		{name: "404 of an unknown path", method: "GET", path: "/Patient/1/_history/1/x", status: 404},
		{name: "412 names If-Match", method: "PUT", path: "/Patient/never", body: toJSON(t, patientRes("never", "N", "male")),
			headers: []string{`If-Match: W/"1"`}, status: 412, code: "conflict", expression: "If-Match"},
		// 400 for what R4's own rules refuse, 422 for what the server's rules refuse in valid R4 (a patch whose
		// result would break the rules).
		{name: "400 names the missing element", method: "POST", path: "/Observation", body: toJSON(t, noCode), status: 400,
			code: "required", expression: "Observation.code"},
		{name: "transaction errors name the entry", method: "POST", path: "", body: toJSON(t, jobj{"resourceType": "Bundle",
			"type": "transaction", "entry": jarray{jobj{"resource": patientRes("tx-c", "C", "x"),
				"request": jobj{"method": "PUT", "url": "Patient/tx-c"}}}}), status: 400, expression: "Bundle.entry[0].resource.gender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, tc.method, tc.path, tc.body, tc.headers...)
			r.wantOutcome(t, tc.status, tc.code, tc.expression)
			r.wantFHIRJSON(t)
		})
	}

	t.Run("410 of a deleted resource", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "Gone", "male"))
		ts.do(t, "DELETE", "/Patient/"+id, nil).wantStatus(t, 204)
		ts.do(t, "GET", "/Patient/"+id, nil).wantOutcome(t, 410, "deleted", "")
	})

	for _, tc := range []struct{ name, method, path string }{
		{"PUT on metadata", "PUT", "/metadata"},
		{"PUT on the base", "PUT", ""},
		{"POST on an instance", "POST", "/Patient/1"},
	} {
		t.Run("405 with Allow: "+tc.name, func(t *testing.T) {
			r := ts.do(t, tc.method, tc.path, toJSON(t, patientRes("1", "M", "male")))
			r.wantOutcome(t, 405, "not-supported", "")
			r.wantFHIRJSON(t)
			if r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header (RFC 9110 §15.5.6: the server MUST send Allow)")
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------------
// Request bodies: media types and size

func TestRequestBody(t *testing.T) {
	t.Parallel()
	big := patientRes("", "Big", "male")
	big["text"] = jobj{"status": "generated",
		"div": `<div xmlns="http://www.w3.org/1999/xhtml">` + strings.Repeat("x", 1<<20) + `</div>`}

	for _, tc := range []struct {
		name    string
		method  string
		body    []byte
		headers []string
		status  int
		code    string
	}{
		{"XML Content-Type", "POST", []byte(`<Patient xmlns="http://hl7.org/fhir"/>`), []string{"Content-Type: application/fhir+xml"}, 415, "not-supported"},
		{"plain XML Content-Type", "POST", []byte(`<Patient xmlns="http://hl7.org/fhir"/>`), []string{"Content-Type: application/xml"}, 415, "not-supported"},
		{"other FHIR version", "POST", toJSON(t, patientRes("", "V", "male")), []string{"Content-Type: application/fhir+json; fhirVersion=5.0"},
			415, "not-supported"},
		{"other charset", "POST", toJSON(t, patientRes("", "V", "male")), []string{"Content-Type: application/fhir+json; charset=latin1"},
			415, "not-supported"},
		{"JSON Patch is for PATCH only", "POST", []byte(`[]`), []string{"Content-Type: application/json-patch+json"}, 415, "not-supported"},
		{"PATCH as text/plain", "PATCH", []byte(`gender=other`), []string{"Content-Type: text/plain"}, 415, "not-supported"},
		{"body over the limit", "POST", toJSON(t, big), nil, 413, "too-long"},
		{"malformed JSON", "POST", []byte(`{"resourceType":"Patient","gender":`), nil, 400, "structure"},
		{"not an object", "POST", []byte(`["Patient"]`), nil, 400, "structure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t)
			path := "/Patient"
			if tc.method == "PATCH" {
				id, _ := ts.create(t, patientRes("", "P", "female"))
				path += "/" + id
			}
			before := ts.stored(t)
			ts.do(t, tc.method, path, tc.body, tc.headers...).wantOutcome(t, tc.status, tc.code, "")
			if n := ts.stored(t); n != before {
				t.Errorf("%d versions stored, want %d", n, before)
			}
		})
	}

	t.Run("chunked body over the limit", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		before := ts.stored(t)
		// No Content-Length: the limit must hold while reading.
		req, err := http.NewRequest("POST", ts.base+"/Patient", io.MultiReader(bytes.NewReader(toJSON(t, big))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		// Its own connection: a body that cannot be replayed is not retried on a fresh one if a pooled
		// connection turns out to be closed.
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result{status: resp.StatusCode, header: resp.Header, body: b}.wantOutcome(t, 413, "too-long", "")
		if n := ts.stored(t); n != before {
			t.Errorf("%d versions stored, want %d", n, before)
		}
	})

	for _, tc := range []struct {
		name, ctype string
		body        []byte
	}{
		{"JSON Patch", "Content-Type: application/json-patch+json", []byte(`[{"op":"replace","path":"/gender","value":"male"}]`)},
		{"FHIRPath Patch", "Content-Type: application/fhir+json", toJSON(t, jobj{"resourceType": "Parameters", "parameter": jarray{
			jobj{"name": "operation", "part": jarray{
				jobj{"name": "type", "valueCode": "replace"},
				jobj{"name": "path", "valueString": "Patient.gender"},
				jobj{"name": "value", "valueCode": "male"},
			}}}})},
	} {
		t.Run("PATCH with "+tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t)
			id, _ := ts.create(t, patientRes("", "Patchy", "female"))
			r := ts.do(t, "PATCH", "/Patient/"+id, tc.body, tc.ctype)
			r.wantStatus(t, 200)
			r.wantFHIRJSON(t)
			b := r.json(t)
			if jstr(b, "gender") != "male" {
				t.Errorf("patched %s", r.body)
			}
			r.wantVersionHeaders(t, b)
		})
	}

	t.Run("no Content-Type is FHIR JSON", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		req, err := http.NewRequest("POST", ts.base+"/Patient", bytes.NewReader(toJSON(t, patientRes("", "Bare", "male"))))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Errorf("status %d, want 201", resp.StatusCode)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// Conditional headers: If-None-Match, If-Modified-Since, If-Match, If-None-Exist

func TestConditionalHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		header string
		status int
	}{
		{"If-None-Match current version", `If-None-Match: W/"1"`, 304},
		{"If-None-Match other version", `If-None-Match: W/"9"`, 200},
		{"If-None-Match list", `If-None-Match: W/"4", W/"1"`, 304},
		{"If-Modified-Since in the future", "If-Modified-Since: " + future, 304},
		{"If-Modified-Since in the past", "If-Modified-Since: " + past, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, created := ts.create(t, patientRes("", "Read", "female"))
			r := ts.do(t, "GET", "/Patient/"+id, nil, tc.header)
			r.wantStatus(t, tc.status)
			r.wantVersionHeaders(t, created)
			if tc.status == 304 {
				r.wantNoBody(t)
			} else if jstr(r.json(t), "id") != id {
				t.Errorf("200 without the resource: %s", r.body)
			}
		})
	}

	t.Run("malformed If-Modified-Since", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "Read", "female"))
		ts.do(t, "GET", "/Patient/"+id, nil, "If-Modified-Since: yesterday").wantOutcome(t, 400, "value", "If-Modified-Since")
	})

	t.Run("If-Match", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "One", "female"))
		ts.do(t, "PUT", "/Patient/"+id, toJSON(t, patientRes(id, "Stale", "female")), `If-Match: W/"2"`).
			wantOutcome(t, 412, "conflict", "If-Match")
		r := ts.put(t, patientRes(id, "Two", "female"), 200, `If-Match: W/"1"`)
		if got := r.header.Get("ETag"); got != `W/"2"` {
			t.Errorf("ETag %q, want W/\"2\"", got)
		}
	})

	t.Run("If-None-Exist", func(t *testing.T) {
		res := patientRes("", "Exists", "female")
		res["identifier"] = jarray{jobj{"system": "http://example.org/mrn", "value": "ine-1"}}
		id, _ := ts.create(t, res)
		r := ts.do(t, "POST", "/Patient", toJSON(t, res), "If-None-Exist: identifier=http://example.org/mrn|ine-1")
		r.wantStatus(t, 200)
		if got := jstr(r.json(t), "id"); got != id {
			t.Errorf("answered %s, want the existing %s", got, id)
		}
		// The Location names the match, and so does Content-Location: the body is that version.
		want := ts.base + "/Patient/" + id + "/_history/1"
		if r.header.Get("Location") != want || r.header.Get("Content-Location") != want {
			t.Errorf("Location %q, Content-Location %q; want both %q", r.header.Get("Location"), r.header.Get("Content-Location"), want)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// HEAD

func TestHead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("HEAD has the headers and no body", func(t *testing.T) {
		id, created := ts.create(t, patientRes("", "Head", "female"))
		r := ts.do(t, "HEAD", "/Patient/"+id, nil)
		r.wantStatus(t, 200)
		r.wantFHIRJSON(t)
		r.wantVersionHeaders(t, created)
		r.wantNoBody(t)

		// The Go client never reads a HEAD body: look at the bytes on the wire.
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "HEAD /fhir/Patient/%s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", id)
		raw, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		head, rest, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
			t.Fatalf("raw HEAD response %q", raw)
		}
		if len(rest) != 0 {
			t.Errorf("HEAD response carries %d body bytes", len(rest))
		}
	})

	t.Run("HEAD of an unknown id", func(t *testing.T) {
		r := ts.do(t, "HEAD", "/Patient/nope", nil)
		r.wantStatus(t, 404)
		r.wantNoBody(t)
	})
}

// ---------------------------------------------------------------------------------------------------
// Prefer

func TestPrefer(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	// check says what a created resource's answer must carry.
	resource := func(t *testing.T, r result) {
		r.wantFHIRJSON(t)
		if b := r.json(t); jstr(b, "resourceType") != "Patient" || jstr(b, "meta", "versionId") != "1" {
			t.Errorf("want the Patient, got %s", r.body)
		}
	}
	outcome := func(t *testing.T, r result) {
		r.wantFHIRJSON(t)
		if b := r.json(t); jstr(b, "resourceType") != "OperationOutcome" || jstr(b, "issue", 0, "severity") != "information" {
			t.Errorf("want an informational OperationOutcome, got %s", r.body)
		}
	}
	none := func(t *testing.T, r result) { r.wantNoBody(t) }
	for _, tc := range []struct {
		name   string
		prefer []string
		check  func(t *testing.T, r result)
	}{
		{"minimal", []string{"Prefer: return=minimal"}, none},
		{"OperationOutcome", []string{"Prefer: return=OperationOutcome"}, outcome},
		{"representation", []string{"Prefer: return=representation"}, resource},
		{"none is the resource", nil, resource},
		{"quoted", []string{`Prefer: return="minimal"`}, none},
		{"with handling", []string{"Prefer: handling=strict, return=minimal"}, none},
		{"with a parameter", []string{"Prefer: respond-async; return=minimal"}, none},
		{"unknown value is the default", []string{"Prefer: return=everything"}, resource},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/Patient", toJSON(t, patientRes("", "Pref", "other")), tc.prefer...)
			r.wantStatus(t, 201)
			m := locationRE.FindStringSubmatch(r.header.Get("Location"))
			if m == nil || m[1] != ts.base || m[3] != "1" {
				t.Fatalf("Location %q", r.header.Get("Location"))
			}
			if got := r.header.Get("ETag"); got != `W/"1"` {
				t.Errorf("ETag %q", got)
			}
			if r.header.Get("Last-Modified") == "" {
				t.Error("no Last-Modified")
			}
			tc.check(t, r)
			ts.do(t, "GET", "/Patient/"+m[2], nil).wantStatus(t, 200)
		})
	}

	t.Run("handling=strict refuses unknown search parameters", func(t *testing.T) {
		ts.do(t, "GET", "/Patient?nosuchparam=1", nil).wantStatus(t, 200)
		ts.do(t, "GET", "/Patient?nosuchparam=1", nil, "Prefer: handling=strict").wantOutcome(t, 400, "not-supported", "nosuchparam")
	})
}

// ---------------------------------------------------------------------------------------------------
// content negotiation

func TestNegotiation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	for _, tc := range []struct {
		name    string
		query   string
		headers []string
		status  int
		ctype   string // media type of a 200
		mention string // a 406/400 OperationOutcome must mention this
	}{
		{name: "_format=xml", query: "_format=xml", status: 406, mention: "XML"},
		{name: "_format=application/fhir+xml", query: "_format=" + url.QueryEscape("application/fhir+xml"), status: 406, mention: "XML"},
		{name: "_format=ttl", query: "_format=ttl", status: 406, mention: "Turtle"},
		{name: "Accept fhir+xml", headers: []string{"Accept: application/fhir+xml"}, status: 406, mention: "XML"},
		{name: "Accept text/html", headers: []string{"Accept: text/html"}, status: 406},
		{name: "Accept application/json", headers: []string{"Accept: application/json"}, status: 200, ctype: "application/json"},
		{name: "Accept fhir+json", headers: []string{"Accept: application/fhir+json"}, status: 200, ctype: "application/fhir+json"},
		{name: "Accept fhir+json fhirVersion 4.0", headers: []string{"Accept: application/fhir+json; fhirVersion=4.0"}, status: 200,
			ctype: "application/fhir+json"},
		{name: "Accept any", headers: []string{"Accept: */*"}, status: 200, ctype: "application/fhir+json"},
		{name: "Accept xml preferred, json acceptable", headers: []string{"Accept: application/fhir+xml, application/fhir+json;q=0.5"},
			status: 200, ctype: "application/fhir+json"},
		{name: "_format=json", query: "_format=json", status: 200, ctype: "application/fhir+json"},
		{name: "_format=json overrides Accept", query: "_format=json", headers: []string{"Accept: application/fhir+xml"}, status: 200,
			ctype: "application/fhir+json"},
		{name: "_format=application/json", query: "_format=" + url.QueryEscape("application/json"), status: 200, ctype: "application/json"},
		{name: "_pretty=maybe", query: "_pretty=maybe", status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := ts.create(t, patientRes("", "Neg", "female"))
			p := "/Patient/" + id
			if tc.query != "" {
				p += "?" + tc.query
			}
			r := ts.do(t, "GET", p, nil, tc.headers...)
			if tc.status != 200 {
				r.wantOutcome(t, tc.status, "", "")
				if _, _, details := r.issue(t); !strings.Contains(details, tc.mention) {
					t.Errorf("details %q do not mention %q", details, tc.mention)
				}
				return
			}
			r.wantStatus(t, 200)
			ct := r.header.Get("Content-Type")
			mt, _, _ := strings.Cut(ct, ";")
			if mt != tc.ctype {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
				t.Errorf("Content-Type %q lacks charset=utf-8", ct)
			}
			if jstr(r.json(t), "id") != id {
				t.Errorf("body %s", r.body)
			}
		})
	}

	t.Run("_pretty", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "Neg", "female"))
		path := "/Patient/" + id
		plain := ts.do(t, "GET", path, nil)
		pretty := ts.do(t, "GET", path+"?_pretty=true", nil)
		notPretty := ts.do(t, "GET", path+"?_pretty=false", nil)
		pretty.wantStatus(t, 200)
		if !bytes.Contains(pretty.body, []byte("\n  \"")) {
			t.Errorf("_pretty=true body is not indented: %s", pretty.body)
		}
		if bytes.Contains(notPretty.body, []byte("\n")) || bytes.Contains(plain.body, []byte("\n")) {
			t.Errorf("body indented without _pretty=true: %s", notPretty.body)
		}
		if !reflect.DeepEqual(pretty.json(t), plain.json(t)) {
			t.Error("_pretty changed the content")
		}
	})

	t.Run("_format and _pretty are no search criteria", func(t *testing.T) {
		// A conditional delete by _format alone would otherwise match everything.
		id, _ := ts.create(t, patientRes("", "Kept", "female"))
		ts.do(t, "DELETE", "/Patient?_format=json&_pretty=true", nil).wantOutcome(t, 400, "required", "criteria")
		ts.do(t, "GET", "/Patient/"+id, nil).wantStatus(t, 200)
	})

	t.Run("negotiated type on an error", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/nope", nil, "Accept: application/json")
		r.wantStatus(t, 404)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("error Content-Type %q, want the negotiated application/json", ct)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// metadata

func TestCapabilities(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.do(t, "GET", "/metadata", nil)
	r.wantStatus(t, 200)
	r.wantFHIRJSON(t)
	cs := r.json(t)
	if jstr(cs, "resourceType") != "CapabilityStatement" || jstr(cs, "fhirVersion") != "4.0.1" {
		t.Fatalf("capabilities: %s", r.body)
	}
	if jstr(cs, "kind") != "instance" || jstr(cs, "status") != "active" || jstr(cs, "implementation", "url") != ts.base {
		t.Errorf("kind %q status %q implementation.url %q", jstr(cs, "kind"), jstr(cs, "status"), jstr(cs, "implementation", "url"))
	}
	var formats []string
	for _, f := range jlist(cs["format"]) {
		formats = append(formats, f.(string))
	}
	if !slices.Contains(formats, "json") {
		t.Errorf("format %v lacks json", formats)
	}
	if slices.Contains(formats, "xml") {
		t.Errorf("format %v claims xml, which the server refuses with 406", formats)
	}
	rest := jat(cs, "rest", 0)
	if jstr(rest, "mode") != "server" {
		t.Errorf("rest.mode %q", jstr(rest, "mode"))
	}
	codes := func(v any) []string {
		var out []string
		for _, i := range jlist(v) {
			out = append(out, jstr(i, "code"))
		}
		slices.Sort(out)
		return out
	}
	sys := codes(jat(rest, "interaction"))
	for _, want := range []string{"transaction", "batch", "history-system"} {
		if !slices.Contains(sys, want) {
			t.Errorf("system interactions %v lack %s", sys, want)
		}
	}
	resources := jlist(jat(rest, "resource"))
	if len(resources) != 146 {
		t.Errorf("%d resources, want the 146 of R4", len(resources))
	}
	var patient any
	for _, res := range resources {
		if jstr(res, "type") == "Patient" {
			patient = res
		}
	}
	if patient == nil {
		t.Fatal("no Patient")
	}
	want := []string{"create", "delete", "history-instance", "history-type", "patch", "read", "search-type", "update", "vread"}
	if got := codes(jat(patient, "interaction")); !slices.Equal(got, want) {
		t.Errorf("Patient interactions %v, want exactly %v", got, want)
	}
	if jstr(patient, "versioning") != "versioned-update" || jat(patient, "readHistory") != true || jat(patient, "updateCreate") != true {
		t.Errorf("Patient versioning %v", patient)
	}

	t.Run("HEAD metadata", func(t *testing.T) {
		r := ts.do(t, "HEAD", "/metadata", nil)
		r.wantStatus(t, 200)
		r.wantNoBody(t)
	})
}

// ---------------------------------------------------------------------------------------------------
// misc

func TestMisc(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("type path with a trailing slash", func(t *testing.T) {
		// docs/standards.md §1.1: accept [base]/[type] with and without a trailing /.
		r := ts.do(t, "POST", "/Patient/", toJSON(t, patientRes("", "Slash", "male")))
		r.wantStatus(t, 201)
		if m := locationRE.FindStringSubmatch(r.header.Get("Location")); m == nil || m[1] != ts.base {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
	})
	t.Run("base with a trailing slash", func(t *testing.T) {
		r := ts.do(t, "POST", "/", toJSON(t, jobj{"resourceType": "Bundle", "type": "batch"}))
		r.wantStatus(t, 200)
		if jstr(r.json(t), "type") != "batch-response" {
			t.Errorf("%s", r.body)
		}
	})

	t.Run("X-Request-Id echoed", func(t *testing.T) {
		r := ts.do(t, "GET", "/metadata", nil, "X-Request-Id: abc")
		if got := r.header.Get("X-Request-Id"); got != "abc" {
			t.Errorf("X-Request-Id %q, want abc", got)
		}
	})
	t.Run("X-Request-Id assigned", func(t *testing.T) {
		a := ts.do(t, "GET", "/metadata", nil).header.Get("X-Request-Id")
		b := ts.do(t, "GET", "/Patient/nope", nil).header.Get("X-Request-Id")
		uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
		if !uuid.MatchString(a) || !uuid.MatchString(b) || a == b {
			t.Errorf("assigned X-Request-Ids %q, %q: want distinct UUIDs", a, b)
		}
	})

	for _, tc := range []struct{ path, want string }{
		{"healthz", `"ok"`},
		{"readyz", `"ready"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := ts.do(t, "GET", ts.Server.URL+"/"+tc.path, nil)
			r.wantStatus(t, 200)
			if !bytes.Contains(r.body, []byte(tc.want)) {
				t.Errorf("%s body %s", tc.path, r.body)
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		ts.do(t, "GET", "/Patient/nope", nil).wantStatus(t, 404)
		ts.do(t, "GET", "/metadata", nil).wantStatus(t, 200)
		r := ts.do(t, "GET", ts.Server.URL+"/metrics", nil)
		r.wantStatus(t, 200)
		for _, want := range []string{
			`fhirgate_requests_total{interaction="read",status="404",type="Patient"} `,
			`fhirgate_requests_total{interaction="capabilities",status="200",type=""}`,
			`fhirgate_request_duration_seconds_bucket{interaction="read"`,
		} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}
