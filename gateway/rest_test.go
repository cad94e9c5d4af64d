package gateway

// HTTP behaviour of the FHIR REST core (https://hl7.org/fhir/R4/http.html), exercised through a real
// server on 127.0.0.1 over a real embedded store: status codes, headers and bodies of every interaction,
// checked against the checklist in docs/standards.md §1.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/internal/sharedtest"
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

func patientRes(id, family, gender string) jobj {
	p := jobj{
		"resourceType": "Patient",
		"active":       true,
		"name":         jarray{jobj{"use": "official", "family": family, "given": jarray{"Ann", "Marie"}}},
		"gender":       gender,
		"birthDate":    "1974-12-25",
		"telecom":      jarray{jobj{"system": "phone", "value": "(03) 5555 6473", "use": "work"}},
	}
	if id != "" {
		p["id"] = id
	}
	return p
}

func observationRes(subject string) jobj {
	return jobj{
		"resourceType": "Observation",
		"status":       "final",
		"code": jobj{"coding": jarray{jobj{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}},
			"text": "Body weight"},
		"subject":           jobj{"reference": subject},
		"effectiveDateTime": "2024-01-31T10:00:00Z",
		"valueQuantity":     jobj{"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
	}
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

// send is do() for goroutines: it reports errors instead of failing the test.
func (ts *testServer) send(method, path string, body []byte, headers ...string) (result, error) {
	req, err := http.NewRequest(method, ts.base+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b}, err
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

func jlist(v any) jarray {
	a, _ := v.(jarray)
	return a
}

// historyVersions lists "Type/id/_history/vid" for each entry of a history page (the deletion entries,
// which have no resource, as "Type/id/_history/vid (DELETE)" from the fullUrl and the etag).
func historyVersions(t testing.TB, b jobj) []string {
	t.Helper()
	var out []string
	for _, e := range bundleEntries(b) {
		if res, ok := jat(e, "resource").(jobj); ok {
			out = append(out, fmt.Sprintf("%s/%s/_history/%s", jstr(res, "resourceType"), jstr(res, "id"), jstr(res, "meta", "versionId")))
			continue
		}
		m := etagRE.FindStringSubmatch(jstr(e, "response", "etag"))
		if m == nil {
			t.Fatalf("deletion entry without a version etag: %v", e)
		}
		ref := jstr(e, "fullUrl") // absolute: keep the Type/id tail
		parts := strings.Split(ref, "/")
		if len(parts) < 2 {
			t.Fatalf("entry fullUrl %q", ref)
		}
		out = append(out, fmt.Sprintf("%s/%s/_history/%s (DELETE)", parts[len(parts)-2], parts[len(parts)-1], m[1]))
	}
	return out
}

var etagRE = regexp.MustCompile(`^W/"(\d+)"$`)

var locationRE = regexp.MustCompile(`^(.*)/Patient/([A-Za-z0-9\-.]{1,64})/_history/(\d+)$`)

// ---------------------------------------------------------------------------------------------------
// create

func TestCreate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("201 with Location, ETag, Last-Modified and a server id", func(t *testing.T) {
		in := patientRes("client-chosen", "Chalmers", "male")
		in["meta"] = jobj{"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z", "profile": jarray{"http://example.org/p"}}
		before := time.Now().Add(-time.Second)
		r := ts.do(t, "POST", "/Patient", toJSON(t, in))
		r.wantStatus(t, 201)
		r.wantFHIRJSON(t)
		body := r.json(t)
		id := jstr(body, "id")
		if id == "" || id == "client-chosen" {
			t.Fatalf("id %q: the server must assign its own id and ignore the incoming one", id)
		}
		if got, want := r.header.Get("Location"), ts.base+"/Patient/"+id+"/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if got := jstr(body, "meta", "versionId"); got != "1" {
			t.Errorf("meta.versionId %q, want \"1\" (incoming versionId ignored)", got)
		}
		lu, err := time.Parse(time.RFC3339Nano, jstr(body, "meta", "lastUpdated"))
		if err != nil {
			t.Fatalf("meta.lastUpdated: %v", err)
		}
		if lu.Before(before) || lu.After(time.Now().Add(time.Second)) {
			t.Errorf("meta.lastUpdated %v is not now (incoming lastUpdated must be ignored)", lu)
		}
		if got := jstr(body, "meta", "profile", 0); got != "http://example.org/p" {
			t.Errorf("meta.profile lost: %v", body["meta"])
		}
		if jstr(body, "name", 0, "family") != "Chalmers" || jstr(body, "gender") != "male" {
			t.Errorf("content not kept: %s", r.body)
		}
		r.wantVersionHeaders(t, body)

		back := ts.do(t, "GET", "/Patient/"+id, nil)
		back.wantStatus(t, 200)
		if !reflect.DeepEqual(back.json(t), body) {
			t.Errorf("read differs from the create response:\nread   %s\ncreate %s", back.body, r.body)
		}
		back.wantVersionHeaders(t, body)
	})

	t.Run("two creates get distinct ids", func(t *testing.T) {
		a, _ := ts.create(t, patientRes("", "A", "female"))
		b, _ := ts.create(t, patientRes("", "B", "female"))
		if a == b {
			t.Fatalf("both creates got id %q", a)
		}
	})

	big := patientRes("", "Big", "male")
	big["text"] = jobj{"status": "generated",
		"div": `<div xmlns="http://www.w3.org/1999/xhtml">` + strings.Repeat("x", 1<<20) + `</div>`}
	noCode := observationRes("Patient/p1")
	delete(noCode, "code")

	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		headers []string
		status  int
		code    string
		expr    string
	}{
		{name: "wrong type in URL", path: "/Patient", body: toJSON(t, observationRes("Patient/p1")),
			status: 400, code: "structure", expr: "resourceType"},
		{name: "unknown type", path: "/Foo", body: []byte(`{"resourceType":"Foo"}`), status: 404, code: "not-supported"},
		{name: "malformed JSON", path: "/Patient", body: []byte(`{"resourceType":"Patient","gender":`), status: 400, code: "structure"},
		{name: "not an object", path: "/Patient", body: []byte(`["Patient"]`), status: 400, code: "structure"},
		{name: "invalid gender", path: "/Patient", body: toJSON(t, patientRes("", "X", "x")), status: 400, expr: "Patient.gender"},
		{name: "unknown element", path: "/Patient", body: []byte(`{"resourceType":"Patient","colour":"blue"}`), status: 400},
		{name: "observation without code", path: "/Observation", body: toJSON(t, noCode), status: 422, code: "required"},
		{name: "empty body", path: "/Patient", body: []byte{}, status: 400},
		{name: "XML Content-Type", path: "/Patient", body: []byte(`<Patient xmlns="http://hl7.org/fhir"/>`),
			headers: []string{"Content-Type: application/fhir+xml"}, status: 415, code: "not-supported"},
		{name: "plain XML Content-Type", path: "/Patient", body: []byte(`<Patient xmlns="http://hl7.org/fhir"/>`),
			headers: []string{"Content-Type: application/xml"}, status: 415, code: "not-supported"},
		{name: "other FHIR version", path: "/Patient", body: toJSON(t, patientRes("", "V", "male")),
			headers: []string{"Content-Type: application/fhir+json; fhirVersion=5.0"}, status: 415, code: "not-supported"},
		{name: "body over the limit", path: "/Patient", body: toJSON(t, big), status: 413, code: "too-long"},
		{name: "If-None-Exist with an unknown parameter", path: "/Patient", body: toJSON(t, patientRes("", "C", "male")),
			headers: []string{"If-None-Exist: nosuchparam=123"}, status: 400, code: "not-supported",
			expr: "nosuchparam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "POST", tc.path, tc.body, tc.headers...)
			r.wantOutcome(t, tc.status, tc.code, tc.expr)
		})
	}

	t.Run("observation without code names the element", func(t *testing.T) {
		r := ts.do(t, "POST", "/Observation", toJSON(t, noCode))
		expr, details := r.wantOutcome(t, 422, "required", "")
		if expr != "Observation.code" && !(expr == "Observation" && strings.Contains(details, "code")) {
			t.Errorf("expression %q, details %q: the outcome must name Observation.code", expr, details)
		}
	})

	t.Run("chunked body over the limit", func(t *testing.T) {
		// No Content-Length: the limit must hold while reading.
		body := io.MultiReader(bytes.NewReader(toJSON(t, big)))
		req, err := http.NewRequest("POST", ts.base+"/Patient", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result{status: resp.StatusCode, header: resp.Header, body: b}.wantOutcome(t, 413, "too-long", "")
	})

	t.Run("nothing stored by the failures", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/_history", nil)
		r.wantStatus(t, 200)
		if n := len(bundleEntries(r.json(t))); n != 3 {
			t.Errorf("type history has %d entries, want the 3 successful creates: %s", n, r.body)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// read

func TestRead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, created := ts.create(t, patientRes("", "Read", "female"))

	t.Run("200 with ETag and Last-Modified", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/"+id, nil)
		r.wantStatus(t, 200)
		r.wantFHIRJSON(t)
		body := r.json(t)
		if jstr(body, "id") != id || jstr(body, "resourceType") != "Patient" {
			t.Errorf("read returned %s", r.body)
		}
		r.wantVersionHeaders(t, created)
	})

	for _, tc := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown id", "/Patient/does-not-exist", 404, "not-found"},
		{"unknown type", "/Foo/" + id, 404, "not-supported"},
		{"id with a forbidden character", "/Patient/a_b", 400, ""},
		{"id too long", "/Patient/" + strings.Repeat("a", 65), 400, ""},
		{"ids are case-sensitive", "/Patient/" + strings.ToUpper(id), 404, "not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "GET", tc.path, nil).wantOutcome(t, tc.status, tc.code, "")
		})
	}

	t.Run("HEAD has the headers and no body", func(t *testing.T) {
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
		conn.SetDeadline(time.Now().Add(5 * time.Second))
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
		{"If-None-Match star", `If-None-Match: *`, 304},
		{"If-Modified-Since in the future", "If-Modified-Since: " + future, 304},
		{"If-Modified-Since in the past", "If-Modified-Since: " + past, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "GET", "/Patient/"+id, nil, tc.header)
			r.wantStatus(t, tc.status)
			if got := r.header.Get("ETag"); got != `W/"1"` {
				t.Errorf("ETag %q, want W/\"1\"", got)
			}
			if tc.status == 304 {
				r.wantNoBody(t)
			} else if jstr(r.json(t), "id") != id {
				t.Errorf("200 without the resource: %s", r.body)
			}
		})
	}

	t.Run("malformed If-Modified-Since", func(t *testing.T) {
		ts.do(t, "GET", "/Patient/"+id, nil, "If-Modified-Since: yesterday").wantOutcome(t, 400, "", "")
	})
}

// ---------------------------------------------------------------------------------------------------
// vread

func TestVRead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, v1 := ts.create(t, patientRes("", "Before", "female"))
	p := patientRes(id, "After", "female")
	v2 := ts.put(t, p, 200).json(t)

	for _, tc := range []struct {
		vid    string
		family string
		want   jobj
	}{{"1", "Before", v1}, {"2", "After", v2}} {
		t.Run("version "+tc.vid, func(t *testing.T) {
			r := ts.do(t, "GET", "/Patient/"+id+"/_history/"+tc.vid, nil)
			r.wantStatus(t, 200)
			r.wantFHIRJSON(t)
			body := r.json(t)
			if jstr(body, "meta", "versionId") != tc.vid || jstr(body, "name", 0, "family") != tc.family {
				t.Errorf("vread %s returned %s", tc.vid, r.body)
			}
			if !reflect.DeepEqual(body, tc.want) {
				t.Errorf("vread %s differs from the write's response:\n%s\n%v", tc.vid, r.body, tc.want)
			}
			r.wantVersionHeaders(t, tc.want)
		})
	}

	for _, tc := range []struct{ name, path string }{
		{"unknown version", "/Patient/" + id + "/_history/9"},
		{"non-numeric version", "/Patient/" + id + "/_history/abc"},
		{"version zero", "/Patient/" + id + "/_history/0"},
		{"unknown resource", "/Patient/nope/_history/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "GET", tc.path, nil).wantOutcome(t, 404, "not-found", "")
		})
	}
}

// ---------------------------------------------------------------------------------------------------
// update

func TestUpdate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, _ := ts.create(t, patientRes("", "One", "female"))

	t.Run("200 version 2", func(t *testing.T) {
		r := ts.put(t, patientRes(id, "Two", "female"), 200)
		r.wantFHIRJSON(t)
		body := r.json(t)
		if jstr(body, "meta", "versionId") != "2" || jstr(body, "name", 0, "family") != "Two" || jstr(body, "id") != id {
			t.Errorf("update returned %s", r.body)
		}
		if got := r.header.Get("ETag"); got != `W/"2"` {
			t.Errorf("ETag %q, want W/\"2\"", got)
		}
		r.wantVersionHeaders(t, body)
		back := ts.do(t, "GET", "/Patient/"+id, nil)
		if !reflect.DeepEqual(back.json(t), body) {
			t.Errorf("read after update differs: %s", back.body)
		}
	})

	noID := patientRes("", "NoID", "female")
	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		headers []string
		status  int
		code    string
		expr    string
	}{
		{name: "body id differs from URL", path: "/Patient/" + id, body: toJSON(t, patientRes("other", "X", "female")),
			status: 400, expr: "Patient.id"},
		{name: "body without id", path: "/Patient/" + id, body: toJSON(t, noID), status: 400, expr: "Patient.id"},
		{name: "wrong type", path: "/Patient/" + id, body: toJSON(t, jobj{"resourceType": "Observation", "id": id}),
			status: 400, code: "structure", expr: "resourceType"},
		{name: "invalid content", path: "/Patient/" + id, body: toJSON(t, patientRes(id, "X", "x")), status: 400,
			expr: "Patient.gender"},
		{name: "empty body", path: "/Patient/" + id, body: []byte{}, status: 400},
		{name: "stale If-Match", path: "/Patient/" + id, body: toJSON(t, patientRes(id, "Stale", "female")),
			headers: []string{`If-Match: W/"1"`}, status: 412, code: "conflict"},
		{name: "malformed If-Match", path: "/Patient/" + id, body: toJSON(t, patientRes(id, "Bad", "female")),
			headers: []string{`If-Match: W/"two"`}, status: 400, expr: "If-Match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "PUT", tc.path, tc.body, tc.headers...).wantOutcome(t, tc.status, tc.code, tc.expr)
			cur := ts.do(t, "GET", "/Patient/"+id, nil)
			if v := jstr(cur.json(t), "meta", "versionId"); v != "2" {
				t.Errorf("a refused update changed the resource: now version %s", v)
			}
		})
	}

	// A version conflict names the If-Match header (or nothing), never the store's internal operation index.
	for _, tc := range []struct {
		name, method string
		body         []byte
		headers      []string
	}{
		{"PUT", "PUT", toJSON(t, patientRes(id, "Stale", "female")), nil},
		{"PATCH", "PATCH", []byte(`[{"op":"replace","path":"/gender","value":"male"}]`),
			[]string{"Content-Type: application/json-patch+json"}},
		{"DELETE", "DELETE", nil, nil},
	} {
		t.Run("412 expression of "+tc.name, func(t *testing.T) {
			r := ts.do(t, tc.method, "/Patient/"+id, tc.body, append(tc.headers, `If-Match: W/"1"`)...)
			expr, _ := r.wantOutcome(t, 412, "conflict", "")
			if expr != "" && expr != "If-Match" {
				t.Errorf("expression %q: want If-Match or none (OperationOutcome.issue.expression is a FHIRPath "+
					"into the request; %q is an internal store index)", expr, expr)
			}
			if v := jstr(ts.do(t, "GET", "/Patient/"+id, nil).json(t), "meta", "versionId"); v != "2" {
				t.Errorf("a refused %s changed the resource: version %s", tc.method, v)
			}
		})
	}

	t.Run("matching If-Match", func(t *testing.T) {
		r := ts.put(t, patientRes(id, "Three", "female"), 200, `If-Match: W/"2"`)
		if got := r.header.Get("ETag"); got != `W/"3"` {
			t.Errorf("ETag %q, want W/\"3\"", got)
		}
	})

	t.Run("update as create", func(t *testing.T) {
		r := ts.put(t, patientRes("new-by-put", "New", "male"), 201)
		if got, want := r.header.Get("Location"), ts.base+"/Patient/new-by-put/_history/1"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		body := r.json(t)
		if jstr(body, "id") != "new-by-put" || jstr(body, "meta", "versionId") != "1" {
			t.Errorf("update-as-create returned %s", r.body)
		}
		r.wantVersionHeaders(t, body)
		ts.do(t, "GET", "/Patient/new-by-put", nil).wantStatus(t, 200)
	})

	t.Run("If-Match on an unknown id", func(t *testing.T) {
		ts.do(t, "PUT", "/Patient/never", toJSON(t, patientRes("never", "N", "male")), `If-Match: W/"1"`).
			wantOutcome(t, 412, "conflict", "")
		ts.do(t, "GET", "/Patient/never", nil).wantStatus(t, 404)
	})
}

// ---------------------------------------------------------------------------------------------------
// delete

func TestDelete(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, _ := ts.create(t, patientRes("", "Doomed", "male"))

	t.Run("stale If-Match 412", func(t *testing.T) {
		ts.do(t, "DELETE", "/Patient/"+id, nil, `If-Match: W/"5"`).wantOutcome(t, 412, "conflict", "")
		ts.do(t, "GET", "/Patient/"+id, nil).wantStatus(t, 200)
	})
	t.Run("204", func(t *testing.T) {
		r := ts.do(t, "DELETE", "/Patient/"+id, nil)
		r.wantStatus(t, 204)
		r.wantNoBody(t)
	})
	t.Run("read is 410 deleted", func(t *testing.T) {
		ts.do(t, "GET", "/Patient/"+id, nil).wantOutcome(t, 410, "deleted", "")
	})
	t.Run("vread of the earlier version still 200", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/"+id+"/_history/1", nil)
		r.wantStatus(t, 200)
		if jstr(r.json(t), "name", 0, "family") != "Doomed" {
			t.Errorf("vread 1 after delete: %s", r.body)
		}
	})
	t.Run("vread of the deletion version is 410", func(t *testing.T) {
		ts.do(t, "GET", "/Patient/"+id+"/_history/2", nil).wantOutcome(t, 410, "deleted", "")
	})
	t.Run("second delete 204", func(t *testing.T) {
		r := ts.do(t, "DELETE", "/Patient/"+id, nil)
		r.wantStatus(t, 204)
		r.wantNoBody(t)
	})
	t.Run("delete of a never existing id 204", func(t *testing.T) {
		r := ts.do(t, "DELETE", "/Patient/never-existed", nil)
		r.wantStatus(t, 204)
		r.wantNoBody(t)
		ts.do(t, "GET", "/Patient/never-existed", nil).wantOutcome(t, 404, "not-found", "")
	})
	t.Run("PUT after delete is 201 version 3", func(t *testing.T) {
		r := ts.put(t, patientRes(id, "Back", "male"), 201)
		if got := jstr(r.json(t), "meta", "versionId"); got != "3" {
			t.Errorf("versionId %q, want 3", got)
		}
		if got, want := r.header.Get("Location"), ts.base+"/Patient/"+id+"/_history/3"; got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if got := r.header.Get("ETag"); got != `W/"3"` {
			t.Errorf("ETag %q", got)
		}
	})
	t.Run("instance history shows the deletion", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/"+id+"/_history", nil)
		r.wantStatus(t, 200)
		b := r.json(t)
		es := bundleEntries(b)
		if len(es) != 3 {
			t.Fatalf("%d entries, want 3: %s", len(es), r.body)
		}
		want := []struct {
			method, status, etag string
			resource             bool
		}{
			{"PUT", "201 Created", `W/"3"`, true}, // resurrection answered 201 Created
			{"DELETE", "204 No Content", `W/"2"`, false},
			{"POST", "201 Created", `W/"1"`, true},
		}
		for i, w := range want {
			e := es[i]
			if got := jstr(e, "request", "method"); got != w.method {
				t.Errorf("entry %d request.method %q, want %q", i, got, w.method)
			}
			if got := jstr(e, "response", "status"); got != w.status {
				t.Errorf("entry %d response.status %q, want %q", i, got, w.status)
			}
			if got := jstr(e, "response", "etag"); got != w.etag {
				t.Errorf("entry %d response.etag %q, want %q", i, got, w.etag)
			}
			if _, has := jat(e, "resource").(jobj); has != w.resource {
				t.Errorf("entry %d has resource = %v, want %v", i, has, w.resource)
			}
			if got, want := jstr(e, "fullUrl"), ts.base+"/Patient/"+id; got != want {
				t.Errorf("entry %d fullUrl %q, want %q", i, got, want)
			}
		}
		if got, want := jstr(es[1], "request", "url"), "Patient/"+id; got != want {
			t.Errorf("deletion request.url %q, want %q", got, want)
		}
		if got := jstr(es[0], "resource", "meta", "versionId"); got != "3" {
			t.Errorf("newest entry is version %q, want 3", got)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// history

func TestHistory(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	// Patient p: 5 versions; Patient q: 1; Observation o: 1. Writes 10 ms apart for _since.
	pID, _ := ts.create(t, patientRes("", "V1", "female"))
	var stamps []string // meta.lastUpdated of each write, in order
	var order []string  // Type/id/_history/vid of each write, in order
	record := func(b jobj) {
		stamps = append(stamps, jstr(b, "meta", "lastUpdated"))
		order = append(order, fmt.Sprintf("%s/%s/_history/%s", jstr(b, "resourceType"), jstr(b, "id"), jstr(b, "meta", "versionId")))
	}
	first := ts.do(t, "GET", "/Patient/"+pID, nil).json(t)
	record(first)
	for v := 2; v <= 5; v++ {
		time.Sleep(10 * time.Millisecond)
		record(ts.put(t, patientRes(pID, fmt.Sprintf("V%d", v), "female"), 200).json(t))
	}
	time.Sleep(10 * time.Millisecond)
	_, q := ts.create(t, patientRes("", "Q", "male"))
	record(q)
	time.Sleep(10 * time.Millisecond)
	_, o := ts.create(t, observationRes("Patient/"+pID))
	record(o)

	reversed := func(s []string) []string {
		out := slices.Clone(s)
		slices.Reverse(out)
		return out
	}
	filter := func(s []string, prefix string) []string {
		var out []string
		for _, x := range s {
			if strings.HasPrefix(x, prefix) {
				out = append(out, x)
			}
		}
		return out
	}

	for _, tc := range []struct {
		name, path, self string
		want             []string
	}{
		{"instance", "/Patient/" + pID + "/_history", "/Patient/" + pID + "/_history", reversed(filter(order, "Patient/"+pID+"/"))},
		{"type", "/Patient/_history", "/Patient/_history", reversed(filter(order, "Patient/"))},
		{"system", "/_history", "/_history", reversed(order)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "GET", tc.path, nil)
			r.wantStatus(t, 200)
			r.wantFHIRJSON(t)
			b := r.json(t)
			if jstr(b, "resourceType") != "Bundle" || jstr(b, "type") != "history" {
				t.Fatalf("not a history Bundle: %s", r.body)
			}
			if got := historyVersions(t, b); !slices.Equal(got, tc.want) {
				t.Errorf("versions\n got %v\nwant %v", got, tc.want)
			}
			if self := bundleLink(b, "self"); !strings.HasPrefix(self, ts.base+tc.self) {
				t.Errorf("self link %q, want %s...", self, ts.base+tc.self)
			}
			if next := bundleLink(b, "next"); next != "" {
				t.Errorf("unexpected next link %q on a complete page", next)
			}
			for i, e := range bundleEntries(b) {
				if jstr(e, "response", "lastModified") == "" || jstr(e, "request", "method") == "" {
					t.Errorf("entry %d lacks request.method or response.lastModified: %v", i, e)
				}
			}
		})
	}

	t.Run("instance history of an unknown id", func(t *testing.T) {
		ts.do(t, "GET", "/Patient/nope/_history", nil).wantOutcome(t, 404, "not-found", "")
	})

	t.Run("paging visits every version once, newest first", func(t *testing.T) {
		for _, path := range []string{"/Patient/" + pID + "/_history", "/_history"} {
			want := reversed(filter(order, "Patient/"+pID+"/"))
			if path == "/_history" {
				want = reversed(order)
			}
			r := ts.do(t, "GET", path+"?_count=2", nil)
			r.wantStatus(t, 200)
			b := r.json(t)
			if n := len(bundleEntries(b)); n != 2 {
				t.Fatalf("%s?_count=2: %d entries, want 2", path, n)
			}
			if self := bundleLink(b, "self"); !strings.Contains(self, "_count=2") {
				t.Errorf("self link %q does not show _count", self)
			}
			var got []string
			got = append(got, historyVersions(t, b)...)
			for pages := 1; bundleLink(b, "next") != ""; pages++ {
				if pages > 10 {
					t.Fatal("too many pages")
				}
				next := bundleLink(b, "next")
				if !strings.HasPrefix(next, ts.base+path) {
					t.Errorf("next link %q is not under %s", next, ts.base+path)
				}
				r := ts.do(t, "GET", next, nil)
				r.wantStatus(t, 200)
				b = r.json(t)
				if n := len(bundleEntries(b)); n > 2 {
					t.Errorf("page of %d entries with _count=2", n)
				}
				got = append(got, historyVersions(t, b)...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s pages\n got %v\nwant %v", path, got, want)
			}
		}
	})

	t.Run("_since", func(t *testing.T) {
		// From the 4th write on: p v4, p v5, q v1, o v1.
		r := ts.do(t, "GET", "/_history?_since="+url.QueryEscape(stamps[3]), nil)
		r.wantStatus(t, 200)
		b := r.json(t)
		if got, want := historyVersions(t, b), reversed(order[3:]); !slices.Equal(got, want) {
			t.Errorf("_since=%s\n got %v\nwant %v", stamps[3], got, want)
		}
		r = ts.do(t, "GET", "/Patient/"+pID+"/_history?_count=1&_since="+url.QueryEscape(stamps[3]), nil)
		r.wantStatus(t, 200)
		b = r.json(t)
		next := bundleLink(b, "next")
		if next == "" {
			t.Fatalf("no next link: %s", r.body)
		}
		if !strings.Contains(next, "_since=") {
			t.Errorf("next link %q drops _since", next)
		}
		b2 := ts.do(t, "GET", next, nil).json(t)
		got := append(historyVersions(t, b), historyVersions(t, b2)...)
		if want := reversed(order[3:5]); !slices.Equal(got, want) || bundleLink(b2, "next") != "" {
			t.Errorf("_since paged\n got %v (next %q)\nwant %v", got, bundleLink(b2, "next"), want)
		}
	})

	t.Run("future _since is empty", func(t *testing.T) {
		r := ts.do(t, "GET", "/_history?_since="+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), nil)
		r.wantStatus(t, 200)
		if n := len(bundleEntries(r.json(t))); n != 0 {
			t.Errorf("%d entries after a future _since", n)
		}
	})

	for _, tc := range []struct {
		name, query string
		expr        string
	}{
		{"_count not a number", "_count=abc", "_count"},
		{"_count negative", "_count=-1", "_count"},
		{"_count twice", "_count=1&_count=2", "_count"},
		{"_since not an instant", "_since=yesterday", "_since"},
		{"_since without a time zone", "_since=2024-01-01T10:00:00", "_since"},
		{"_at", "_at=2024-01-01", "_at"},
		{"forged cursor", "_cursor=abc", "_cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "GET", "/Patient/"+pID+"/_history?"+tc.query, nil).wantOutcome(t, 400, "", tc.expr)
		})
	}
}

func TestHistoryCursorStability(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, _ := ts.create(t, patientRes("", "V1", "female"))
	for v := 2; v <= 5; v++ {
		ts.put(t, patientRes(id, fmt.Sprintf("V%d", v), "female"), 200)
	}
	for _, path := range []string{"/Patient/" + id + "/_history", "/Patient/_history", "/_history"} {
		t.Run(path, func(t *testing.T) {
			r := ts.do(t, "GET", path+"?_count=2", nil)
			r.wantStatus(t, 200)
			b := r.json(t)
			got := historyVersions(t, b)
			// Write after page 1: a new version of id and a new Patient.
			cur := jstr(ts.do(t, "GET", "/Patient/"+id, nil).json(t), "meta", "versionId")
			newer := ts.put(t, patientRes(id, "Later", "female"), 200).json(t)
			_, other := ts.create(t, patientRes("", "Other", "male"))
			for next := bundleLink(b, "next"); next != ""; next = bundleLink(b, "next") {
				r := ts.do(t, "GET", next, nil)
				r.wantStatus(t, 200)
				b = r.json(t)
				got = append(got, historyVersions(t, b)...)
			}
			for _, late := range []jobj{newer, other} {
				v := fmt.Sprintf("Patient/%s/_history/%s", jstr(late, "id"), jstr(late, "meta", "versionId"))
				if slices.Contains(got, v) {
					t.Errorf("%s was written after page 1 but appears in the later pages: %v", v, got)
				}
			}
			seen := map[string]bool{}
			for _, v := range got {
				if seen[v] {
					t.Errorf("%s listed twice: %v", v, got)
				}
				seen[v] = true
			}
			if !seen[fmt.Sprintf("Patient/%s/_history/%s", id, cur)] || !seen[fmt.Sprintf("Patient/%s/_history/1", id)] {
				t.Errorf("pages miss versions that existed at page 1 (current %s): %v", cur, got)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------------
// Prefer

func TestPrefer(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, tc := range []struct {
		name   string
		prefer string
		check  func(t *testing.T, r result)
	}{
		{"minimal", "return=minimal", func(t *testing.T, r result) {
			r.wantNoBody(t)
		}},
		{"OperationOutcome", "return=OperationOutcome", func(t *testing.T, r result) {
			r.wantFHIRJSON(t)
			b := r.json(t)
			if jstr(b, "resourceType") != "OperationOutcome" || jstr(b, "issue", 0, "severity") == "" {
				t.Errorf("want an OperationOutcome, got %s", r.body)
			}
		}},
		{"representation", "return=representation", func(t *testing.T, r result) {
			r.wantFHIRJSON(t)
			b := r.json(t)
			if jstr(b, "resourceType") != "Patient" || jstr(b, "meta", "versionId") != "1" {
				t.Errorf("want the Patient, got %s", r.body)
			}
		}},
		{"default is the resource", "", func(t *testing.T, r result) {
			if jstr(r.json(t), "resourceType") != "Patient" {
				t.Errorf("want the Patient, got %s", r.body)
			}
		}},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			var h []string
			if tc.prefer != "" {
				h = append(h, "Prefer: "+tc.prefer)
			}
			r := ts.do(t, "POST", "/Patient", toJSON(t, patientRes("", "Pref", "other")), h...)
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

	t.Run("update minimal", func(t *testing.T) {
		id, _ := ts.create(t, patientRes("", "U", "male"))
		r := ts.do(t, "PUT", "/Patient/"+id, toJSON(t, patientRes(id, "U2", "male")), "Prefer: return=minimal")
		r.wantStatus(t, 200)
		r.wantNoBody(t)
		if got := r.header.Get("ETag"); got != `W/"2"` {
			t.Errorf("ETag %q", got)
		}
	})

	t.Run("errors carry an OperationOutcome even with return=minimal", func(t *testing.T) {
		ts.do(t, "POST", "/Patient", toJSON(t, patientRes("", "X", "x")), "Prefer: return=minimal").
			wantOutcome(t, 400, "", "Patient.gender")
	})
}

// ---------------------------------------------------------------------------------------------------
// content negotiation

func TestNegotiation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, _ := ts.create(t, patientRes("", "Neg", "female"))
	path := "/Patient/" + id

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
			p := path
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

	t.Run("negotiated type on an error", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/nope", nil, "Accept: application/json")
		r.wantStatus(t, 404)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("error Content-Type %q, want the negotiated application/json", ct)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// _summary and _elements

func TestSummaryElements(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(sharedtest.Path(t, "examples", "Patient-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)
	r := ts.do(t, "PUT", "/Patient/example", raw)
	r.wantStatus(t, 201)
	full := r.json(t)
	if _, ok := full["text"]; !ok {
		t.Fatal("the example has no text; the test needs one")
	}

	hasSubsetted := func(b jobj) bool {
		for _, tag := range jlist(jat(b, "meta", "tag")) {
			if jstr(tag, "system") == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && jstr(tag, "code") == "SUBSETTED" {
				return true
			}
		}
		return false
	}

	t.Run("_summary=true", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/example?_summary=true", nil)
		r.wantStatus(t, 200)
		b := r.json(t)
		if _, ok := b["text"]; ok {
			t.Error("_summary=true kept text")
		}
		for _, k := range []string{"id", "meta", "name", "birthDate", "gender", "identifier"} {
			if _, ok := b[k]; !ok {
				t.Errorf("_summary=true dropped the summary element %s", k)
			}
		}
		for _, k := range []string{"contact"} {
			if _, ok := b[k]; ok {
				t.Errorf("_summary=true kept the non-summary element %s", k)
			}
		}
		if !hasSubsetted(b) {
			t.Errorf("no SUBSETTED tag: %v", b["meta"])
		}
		if jstr(b, "meta", "versionId") != "1" {
			t.Errorf("meta.versionId lost: %v", b["meta"])
		}
	})

	t.Run("_elements=birthDate", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/example?_elements=birthDate", nil)
		r.wantStatus(t, 200)
		b := r.json(t)
		if jstr(b, "birthDate") != jstr(full, "birthDate") || jstr(b, "id") != "example" || b["meta"] == nil {
			t.Errorf("_elements=birthDate lost birthDate, id or meta: %s", r.body)
		}
		for _, k := range []string{"name", "text", "telecom", "address", "contact"} {
			if _, ok := b[k]; ok {
				t.Errorf("_elements=birthDate kept %s", k)
			}
		}
		if !hasSubsetted(b) {
			t.Errorf("no SUBSETTED tag: %v", b["meta"])
		}
	})

	t.Run("_elements on vread", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/example/_history/1?_elements=gender", nil)
		r.wantStatus(t, 200)
		b := r.json(t)
		if jstr(b, "gender") != "male" || b["name"] != nil || !hasSubsetted(b) {
			t.Errorf("vread _elements=gender: %s", r.body)
		}
	})

	t.Run("the stored resource is untouched", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/example", nil)
		if !reflect.DeepEqual(r.json(t), full) {
			t.Errorf("plain read differs after subsetted reads: %s", r.body)
		}
	})

	for _, tc := range []struct{ name, query string }{
		{"_summary=count on a read", "_summary=count"},
		{"_summary unknown", "_summary=maybe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "GET", "/Patient/example?"+tc.query, nil).wantOutcome(t, 400, "", "_summary")
		})
	}
}

// ---------------------------------------------------------------------------------------------------
// patch

func TestPatch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const jsonPatch = "Content-Type: application/json-patch+json"
	id, _ := ts.create(t, patientRes("", "Patchy", "female"))

	t.Run("JSON Patch replace gender", func(t *testing.T) {
		r := ts.do(t, "PATCH", "/Patient/"+id, []byte(`[{"op":"replace","path":"/gender","value":"male"}]`), jsonPatch)
		r.wantStatus(t, 200)
		r.wantFHIRJSON(t)
		b := r.json(t)
		if jstr(b, "gender") != "male" || jstr(b, "meta", "versionId") != "2" || jstr(b, "name", 0, "family") != "Patchy" {
			t.Errorf("patched: %s", r.body)
		}
		if got := r.header.Get("ETag"); got != `W/"2"` {
			t.Errorf("ETag %q", got)
		}
		r.wantVersionHeaders(t, b)
		if back := ts.do(t, "GET", "/Patient/"+id, nil); !reflect.DeepEqual(back.json(t), b) {
			t.Errorf("read after patch differs: %s", back.body)
		}
	})

	for _, tc := range []struct {
		name    string
		body    string
		headers []string
		status  int
		code    string
		expr    string
	}{
		{name: "invalid result", body: `[{"op":"replace","path":"/gender","value":"x"}]`, headers: []string{jsonPatch},
			status: 400, expr: "Patient.gender"},
		{name: "failing test op", body: `[{"op":"test","path":"/gender","value":"female"},{"op":"replace","path":"/gender","value":"other"}]`,
			headers: []string{jsonPatch}, status: 422},
		{name: "path that does not exist", body: `[{"op":"replace","path":"/deceasedBoolean","value":true}]`,
			headers: []string{jsonPatch}, status: 422},
		{name: "not a JSON Patch", body: `{"op":"replace"}`, headers: []string{jsonPatch}, status: 400},
		{name: "stale If-Match", body: `[{"op":"replace","path":"/gender","value":"other"}]`,
			headers: []string{jsonPatch, `If-Match: W/"1"`}, status: 412, code: "conflict"},
		{name: "changes id", body: `[{"op":"replace","path":"/id","value":"other-id"}]`, headers: []string{jsonPatch}, status: 422},
		{name: "removes resourceType", body: `[{"op":"remove","path":"/resourceType"}]`, headers: []string{jsonPatch}, status: 422},
		{name: "text/plain", body: `gender=other`, headers: []string{"Content-Type: text/plain"}, status: 415, code: "not-supported"},
		{name: "empty patch body", body: ``, headers: []string{jsonPatch}, status: 400},
		{name: "FHIR JSON that is not Parameters", body: `{"resourceType":"Patient","gender":"other"}`, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.do(t, "PATCH", "/Patient/"+id, []byte(tc.body), tc.headers...).wantOutcome(t, tc.status, tc.code, tc.expr)
			cur := ts.do(t, "GET", "/Patient/"+id, nil)
			b := cur.json(t)
			if jstr(b, "meta", "versionId") != "2" || jstr(b, "gender") != "male" {
				t.Errorf("a refused patch changed the resource: %s", cur.body)
			}
		})
	}

	t.Run("matching If-Match", func(t *testing.T) {
		r := ts.do(t, "PATCH", "/Patient/"+id, []byte(`[{"op":"add","path":"/birthDate","value":"1980-02-03"}]`), jsonPatch,
			`If-Match: W/"2"`)
		r.wantStatus(t, 200)
		if b := r.json(t); jstr(b, "birthDate") != "1980-02-03" || jstr(b, "meta", "versionId") != "3" {
			t.Errorf("patched: %s", r.body)
		}
	})

	t.Run("FHIRPath Patch", func(t *testing.T) {
		params := jobj{"resourceType": "Parameters", "parameter": jarray{jobj{"name": "operation", "part": jarray{
			jobj{"name": "type", "valueCode": "replace"},
			jobj{"name": "path", "valueString": "Patient.gender"},
			jobj{"name": "value", "valueCode": "other"},
		}}}}
		r := ts.do(t, "PATCH", "/Patient/"+id, toJSON(t, params))
		r.wantStatus(t, 200)
		b := r.json(t)
		if jstr(b, "gender") != "other" || jstr(b, "meta", "versionId") != "4" {
			t.Errorf("FHIRPath patched: %s", r.body)
		}
		if got := jstr(ts.do(t, "GET", "/Patient/"+id, nil).json(t), "gender"); got != "other" {
			t.Errorf("stored gender %q", got)
		}
	})

	t.Run("FHIRPath Patch to an invalid code", func(t *testing.T) {
		params := jobj{"resourceType": "Parameters", "parameter": jarray{jobj{"name": "operation", "part": jarray{
			jobj{"name": "type", "valueCode": "replace"},
			jobj{"name": "path", "valueString": "Patient.gender"},
			jobj{"name": "value", "valueCode": "x"},
		}}}}
		ts.do(t, "PATCH", "/Patient/"+id, toJSON(t, params)).wantOutcome(t, 400, "", "Patient.gender")
		if got := jstr(ts.do(t, "GET", "/Patient/"+id, nil).json(t), "meta", "versionId"); got != "4" {
			t.Errorf("version %s after a refused patch, want 4", got)
		}
	})

	t.Run("deleted resource", func(t *testing.T) {
		gone, _ := ts.create(t, patientRes("", "Gone", "male"))
		ts.do(t, "DELETE", "/Patient/"+gone, nil).wantStatus(t, 204)
		ts.do(t, "PATCH", "/Patient/"+gone, []byte(`[{"op":"replace","path":"/gender","value":"female"}]`), jsonPatch).
			wantOutcome(t, 410, "deleted", "")
	})

	t.Run("unknown resource", func(t *testing.T) {
		ts.do(t, "PATCH", "/Patient/never", []byte(`[{"op":"replace","path":"/gender","value":"female"}]`), jsonPatch).
			wantOutcome(t, 404, "not-found", "")
	})
}

// ---------------------------------------------------------------------------------------------------
// batch

func TestBatch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	bundle := jobj{"resourceType": "Bundle", "type": "batch", "entry": jarray{
		jobj{"fullUrl": "urn:uuid:3c3e9a7d-3d4a-4a8b-9a55-1f0f6f7c0a01", "resource": patientRes("", "Good", "female"),
			"request": jobj{"method": "POST", "url": "Patient"}},
		jobj{"resource": patientRes("", "Bad", "x"), "request": jobj{"method": "POST", "url": "Patient"}},
		jobj{"request": jobj{"method": "GET", "url": "Patient/does-not-exist"}},
	}}
	r := ts.do(t, "POST", "", toJSON(t, bundle))
	r.wantStatus(t, 200)
	r.wantFHIRJSON(t)
	b := r.json(t)
	if jstr(b, "resourceType") != "Bundle" || jstr(b, "type") != "batch-response" {
		t.Fatalf("not a batch-response: %s", r.body)
	}
	es := bundleEntries(b)
	if len(es) != 3 {
		t.Fatalf("%d entries, want 3: %s", len(es), r.body)
	}

	t.Run("valid create", func(t *testing.T) {
		if got := jstr(es[0], "response", "status"); got != "201 Created" {
			t.Errorf("status %q, want 201 Created", got)
		}
		loc := jstr(es[0], "response", "location")
		m := locationRE.FindStringSubmatch(loc)
		if m == nil || m[3] != "1" {
			t.Fatalf("location %q", loc)
		}
		if got := jstr(es[0], "response", "etag"); got != `W/"1"` {
			t.Errorf("etag %q", got)
		}
		back := ts.do(t, "GET", "/Patient/"+m[2], nil)
		back.wantStatus(t, 200)
		if jstr(back.json(t), "name", 0, "family") != "Good" {
			t.Errorf("stored %s", back.body)
		}
	})
	t.Run("invalid create", func(t *testing.T) {
		if got := jstr(es[1], "response", "status"); !strings.HasPrefix(got, "400 ") {
			t.Errorf("status %q, want 400 ...", got)
		}
		if got := jstr(es[1], "response", "outcome", "resourceType"); got != "OperationOutcome" {
			t.Fatalf("no outcome: %v", es[1])
		}
		if got := jstr(es[1], "response", "outcome", "issue", 0, "expression", 0); got != "Patient.gender" {
			t.Errorf("outcome expression %q, want Patient.gender", got)
		}
	})
	t.Run("read of an unknown id", func(t *testing.T) {
		if got := jstr(es[2], "response", "status"); !strings.HasPrefix(got, "404 ") {
			t.Errorf("status %q, want 404 ...", got)
		}
		if got := jstr(es[2], "response", "outcome", "issue", 0, "code"); got != "not-found" {
			t.Errorf("outcome code %q", got)
		}
	})
	t.Run("only the valid create is stored", func(t *testing.T) {
		r := ts.do(t, "GET", "/Patient/_history", nil)
		if n := len(bundleEntries(r.json(t))); n != 1 {
			t.Errorf("%d Patient versions stored, want 1: %s", n, r.body)
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// transaction

func TestTransaction(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	tx := func(es ...jobj) []byte {
		a := jarray{}
		for _, e := range es {
			a = append(a, e)
		}
		return toJSON(t, jobj{"resourceType": "Bundle", "type": "transaction", "entry": a})
	}
	entry := func(method, u string, res jobj) jobj {
		e := jobj{"request": jobj{"method": method, "url": u}}
		if res != nil {
			e["resource"] = res
		}
		return e
	}

	t.Run("urn:uuid references are rewritten", func(t *testing.T) {
		const pURN = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
		pe := entry("POST", "Patient", patientRes("", "Linked", "female"))
		pe["fullUrl"] = pURN
		oe := entry("POST", "Observation", observationRes(pURN))
		oe["fullUrl"] = "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"
		// The Observation comes first: references must resolve whatever the order.
		r := ts.do(t, "POST", "", tx(oe, pe))
		r.wantStatus(t, 200)
		b := r.json(t)
		if jstr(b, "type") != "transaction-response" {
			t.Fatalf("not a transaction-response: %s", r.body)
		}
		es := bundleEntries(b)
		if len(es) != 2 {
			t.Fatalf("%d entries", len(es))
		}
		var pid, oid string
		for i, e := range es {
			if got := jstr(e, "response", "status"); got != "201 Created" {
				t.Errorf("entry %d status %q", i, got)
			}
			loc := jstr(e, "response", "location")
			m := regexp.MustCompile(`/(Patient|Observation)/([^/]+)/_history/1$`).FindStringSubmatch(loc)
			if m == nil || !strings.HasPrefix(loc, ts.base+"/") {
				t.Fatalf("entry %d location %q", i, loc)
			}
			switch {
			case i == 0 && m[1] == "Observation":
				oid = m[2]
			case i == 1 && m[1] == "Patient":
				pid = m[2]
			default:
				t.Errorf("entry %d answers for %s: response entries must keep the request order", i, m[1])
			}
		}
		if pid == "" || oid == "" {
			t.FailNow()
		}
		obs := ts.do(t, "GET", "/Observation/"+oid, nil)
		obs.wantStatus(t, 200)
		if got := jstr(obs.json(t), "subject", "reference"); got != "Patient/"+pid {
			t.Errorf("subject.reference %q, want Patient/%s", got, pid)
		}
		ts.do(t, "GET", "/Patient/"+pid, nil).wantStatus(t, 200)
	})

	t.Run("one invalid entry fails the whole transaction", func(t *testing.T) {
		r := ts.do(t, "POST", "", tx(
			entry("PUT", "Patient/tx-a", patientRes("tx-a", "A", "female")),
			entry("PUT", "Patient/tx-b", patientRes("tx-b", "B", "male")),
			entry("PUT", "Patient/tx-c", patientRes("tx-c", "C", "x")),
		))
		expr, _ := r.wantOutcome(t, 400, "", "")
		if !strings.HasPrefix(expr, "Bundle.entry[2]") {
			t.Errorf("expression %q, want Bundle.entry[2]...", expr)
		}
		for _, id := range []string{"tx-a", "tx-b", "tx-c"} {
			ts.do(t, "GET", "/Patient/"+id, nil).wantOutcome(t, 404, "not-found", "")
		}
	})

	ts.put(t, patientRes("tx-exists", "Exists", "male"), 201)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		expr   string // prefix
		absent []string
	}{
		{"same resource written twice", tx(
			entry("PUT", "Patient/x", patientRes("x", "X1", "male")),
			entry("PUT", "Patient/x", patientRes("x", "X2", "male")),
		), 400, "Bundle.entry[1]", []string{"x"}},
		{"delete and update of the same resource", tx(
			entry("PUT", "Patient/tx-exists", patientRes("tx-exists", "Changed", "male")),
			entry("DELETE", "Patient/tx-exists", nil),
		), 400, "Bundle.entry", nil},
		{"unknown method", tx(
			entry("PUT", "Patient/m1", patientRes("m1", "M", "male")),
			entry("FETCH", "Patient/m1", nil),
		), 400, "Bundle.entry[1].request.method", []string{"m1"}},
		{"entry without request", tx(
			entry("PUT", "Patient/m2", patientRes("m2", "M", "male")),
			jobj{"resource": patientRes("", "NoReq", "male")},
		), 400, "Bundle.entry[1]", []string{"m2"}},
		{"PUT id differs from URL", tx(
			entry("PUT", "Patient/m3", patientRes("m4", "M", "male")),
		), 400, "Bundle.entry[0]", []string{"m3", "m4"}},
		{"stale ifMatch", tx(
			entry("PUT", "Patient/m5", patientRes("m5", "M", "male")),
			jobj{"resource": patientRes("tx-exists", "Stale", "male"),
				"request": jobj{"method": "PUT", "url": "Patient/tx-exists", "ifMatch": `W/"7"`}},
		), 412, "Bundle.entry[1]", []string{"m5"}},
		{"unknown type", tx(
			entry("PUT", "Patient/m6", patientRes("m6", "M", "male")),
			entry("POST", "Foo", jobj{"resourceType": "Foo"}),
		), 404, "Bundle.entry[1]", []string{"m6"}},
		{"a collection Bundle", toJSON(t, jobj{"resourceType": "Bundle", "type": "collection", "entry": jarray{
			jobj{"fullUrl": "http://example.org/Patient/m7", "resource": patientRes("m7", "M", "male")}}}),
			400, "Bundle.type", []string{"m7"}},
		{"not a Bundle", toJSON(t, patientRes("m8", "M", "male")), 400, "", []string{"m8"}},
		{"malformed JSON", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[`), 400, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "POST", "", tc.body)
			expr, _ := r.wantOutcome(t, tc.status, "", "")
			if !strings.HasPrefix(expr, tc.expr) {
				t.Errorf("expression %q, want %s...", expr, tc.expr)
			}
			for _, id := range tc.absent {
				ts.do(t, "GET", "/Patient/"+id, nil).wantOutcome(t, 404, "not-found", "")
			}
			cur := ts.do(t, "GET", "/Patient/tx-exists", nil)
			cur.wantStatus(t, 200)
			if v := jstr(cur.json(t), "meta", "versionId"); v != "1" {
				t.Errorf("a failed transaction changed Patient/tx-exists (version %s)", v)
			}
		})
	}

	t.Run("processing order DELETE, POST, PUT, GET", func(t *testing.T) {
		ts.put(t, patientRes("a", "A", "female"), 201)
		r := ts.do(t, "POST", "", tx(
			entry("GET", "Patient/b", nil),
			entry("PUT", "Patient/b", patientRes("b", "Written", "male")),
			entry("DELETE", "Patient/a", nil),
		))
		r.wantStatus(t, 200)
		es := bundleEntries(r.json(t))
		if len(es) != 3 {
			t.Fatalf("%d entries: %s", len(es), r.body)
		}
		if got := jstr(es[0], "response", "status"); got != "200 OK" {
			t.Errorf("GET status %q, want 200 OK: %s", got, r.body)
		}
		if res := jat(es[0], "resource"); jstr(res, "id") != "b" || jstr(res, "name", 0, "family") != "Written" {
			t.Errorf("GET did not see the PUT of the same transaction: %v", es[0])
		}
		if got := jstr(es[1], "response", "status"); got != "201 Created" {
			t.Errorf("PUT status %q", got)
		}
		if got := jstr(es[2], "response", "status"); !strings.HasPrefix(got, "204") && !strings.HasPrefix(got, "200") {
			t.Errorf("DELETE status %q", got)
		}
		ts.do(t, "GET", "/Patient/a", nil).wantOutcome(t, 410, "deleted", "")
		ts.do(t, "GET", "/Patient/b", nil).wantStatus(t, 200)
	})

	t.Run("transaction-response carries etags and locations", func(t *testing.T) {
		r := ts.do(t, "POST", "", tx(entry("PUT", "Patient/tx-exists", patientRes("tx-exists", "Second", "male"))))
		r.wantStatus(t, 200)
		e := bundleEntries(r.json(t))
		if len(e) != 1 {
			t.Fatalf("%s", r.body)
		}
		if got := jstr(e[0], "response", "status"); got != "200 OK" {
			t.Errorf("status %q", got)
		}
		if got := jstr(e[0], "response", "etag"); got != `W/"2"` {
			t.Errorf("etag %q", got)
		}
		if jstr(e[0], "response", "lastModified") == "" {
			t.Error("no lastModified")
		}
		if r.header.Get("ETag") != "" {
			t.Errorf("a Bundle response carries the HTTP ETag %q (use entry.response.etag)", r.header.Get("ETag"))
		}
	})
}

// ---------------------------------------------------------------------------------------------------
// concurrency

func TestConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	id, _ := ts.create(t, patientRes("", "Race", "female"))
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]result, n)
	errs := make([]error, n)
	for i := range n {
		body := toJSON(t, patientRes(id, fmt.Sprintf("Writer%d", i), "female"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = ts.send("PUT", "/Patient/"+id, body, `If-Match: W/"1"`)
		}()
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	winner := ""
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		counts[r.status]++
		if r.status == 200 {
			winner = fmt.Sprintf("Writer%d", i)
		}
	}
	if counts[200] != 1 || counts[412] != n-1 {
		t.Fatalf("statuses %v, want exactly one 200 and %d 412", counts, n-1)
	}
	cur := ts.do(t, "GET", "/Patient/"+id, nil).json(t)
	if jstr(cur, "meta", "versionId") != "2" || jstr(cur, "name", 0, "family") != winner {
		t.Errorf("current version %s by %s, want 2 by %s", jstr(cur, "meta", "versionId"), jstr(cur, "name", 0, "family"), winner)
	}
	h := ts.do(t, "GET", "/Patient/"+id+"/_history", nil).json(t)
	if got := len(bundleEntries(h)); got != 2 {
		t.Errorf("%d versions, want 2", got)
	}
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

	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"unknown path", "GET", "/Patient/1/foo", 404},
		{"unknown deep path", "GET", "/Patient/1/_history/1/x", 404},
		{"PUT on metadata", "PUT", "/metadata", 405},
		{"PUT on the base", "PUT", "", 405},
		{"POST on an instance", "POST", "/Patient/1", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.method == "PUT" || tc.method == "POST" {
				body = toJSON(t, patientRes("1", "M", "male"))
			}
			r := ts.do(t, tc.method, tc.path, body)
			r.wantOutcome(t, tc.status, "", "")
			r.wantFHIRJSON(t)
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header (RFC 9110 §15.5.6: the server MUST send Allow)")
			}
		})
	}

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
		{"/healthz", `"ok"`},
		{"/readyz", `"ready"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := ts.do(t, "GET", ts.Server.URL+tc.path, nil)
			r.wantStatus(t, 200)
			if !bytes.Contains(r.body, []byte(tc.want)) {
				t.Errorf("%s body %s", tc.path, r.body)
			}
		})
	}

	t.Run("/metrics", func(t *testing.T) {
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
