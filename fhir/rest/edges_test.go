package rest_test

import (
	"context"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
)

// What real clients tripped over at the edges of the REST interactions.

func do(t *testing.T, svc *rest.Service, req *rest.Request) (*rest.Response, error) {
	t.Helper()
	return svc.Do(context.Background(), rest.AllowAll{}, req)
}

func mustDo(t *testing.T, svc *rest.Service, req *rest.Request) *rest.Response {
	t.Helper()
	resp, err := do(t, svc, req)
	if err != nil {
		t.Fatalf("%s %s/%s: %v", req.Interaction, req.Type, req.ID, err)
	}
	return resp
}

// TestConditionalCreateMatchNamesTheMatch: a conditional create that matches answers 200 with the
// Location of the resource it matched, as a create that creates answers 201 with its own.
func TestConditionalCreateMatchNamesTheMatch(t *testing.T) {
	svc := limitService(t, rest.Config{})
	first := mustDo(t, svc, &rest.Request{Interaction: rest.Create, Type: "Patient", Body: []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]}`),
		IfNoneExist: "identifier=urn:x|1"})
	if first.Status != 201 || first.Location == "" {
		t.Fatalf("first: %d %q", first.Status, first.Location)
	}
	again := mustDo(t, svc, &rest.Request{Interaction: rest.Create, Type: "Patient", Body: []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]}`),
		IfNoneExist: "identifier=urn:x|1"})
	if again.Status != 200 || again.Location != first.Location {
		t.Fatalf("the match: %d, Location %q, want 200 and %q", again.Status, again.Location, first.Location)
	}
}

// TestConditionalReferenceMatches: a transaction's conditional reference that matches nothing and one
// that matches several are different errors, and neither says how many it matched.
func TestConditionalReferenceMatches(t *testing.T) {
	svc := limitService(t, rest.Config{})
	mustDo(t, svc, &rest.Request{Interaction: rest.Transaction, Body: bundleOf("transaction", 2, func(i int) string {
		return `{"resource":{"resourceType":"Patient","id":"twin` + string(rune('a'+i)) + `","name":[{"family":"Twin"}]},"request":{"method":"PUT","url":"Patient/twin` + string(rune('a'+i)) + `"}}`
	})})
	tx := func(criteria string) error {
		_, err := do(t, svc, &rest.Request{Interaction: rest.Transaction, Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?` + criteria + `"}},"request":{"method":"POST","url":"Observation"}}]}`)})
		return err
	}
	none, many := fhir.AsError(tx("family=Nobody")), fhir.AsError(tx("family=Twin"))
	if none == nil || none.Kind != fhir.KindNotFound || none.IssueCode() != "not-found" {
		t.Fatalf("no match: %+v", none)
	}
	if many == nil || many.Kind != fhir.KindPreconditionFailed || many.IssueCode() != "multiple-matches" {
		t.Fatalf("two matches: %+v", many)
	}
	for _, e := range []*fhir.Error{none, many} {
		if strings.ContainsAny(e.Details, "0123456789") {
			t.Errorf("the error counts: %q", e.Details)
		}
	}
	if err := tx("_id=twina"); err != nil {
		t.Fatalf("one match: %v", err)
	}
}

// TestEverythingParameters: $everything reads its parameters from the URL, a form, or a Parameters
// resource, as clients post either; and leaves the server's notices out of the record.
func TestEverythingParameters(t *testing.T) {
	svc := limitService(t, rest.Config{})
	mustDo(t, svc, &rest.Request{Interaction: rest.Transaction, Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"Patient/p"}},
		{"resource":{"resourceType":"Observation","id":"o2019","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2019-05-01"},"request":{"method":"PUT","url":"Observation/o2019"}},
		{"resource":{"resourceType":"Observation","id":"o2021","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2021-05-01"},"request":{"method":"PUT","url":"Observation/o2021"}},
		{"resource":{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},"recordedDate":"2021-01-01"},"request":{"method":"PUT","url":"Condition/c"}},
		{"resource":{"resourceType":"Communication","id":"notice","status":"completed","subject":{"reference":"Patient/p"},"recipient":[{"reference":"Patient/p"}],"sender":{"reference":"` + rest.ServerDevice + `"}},"request":{"method":"PUT","url":"Communication/notice"}},
		{"resource":{"resourceType":"Communication","id":"letter","status":"completed","subject":{"reference":"Patient/p"},"recipient":[{"reference":"Patient/p"}],"sender":{"reference":"Practitioner/d"}},"request":{"method":"PUT","url":"Communication/letter"}}]}`)})
	entries := func(resp *rest.Response) string {
		var b struct {
			Entry []struct {
				Resource struct{ ResourceType, ID string } `json:"resource"`
			} `json:"entry"`
		}
		mustUnmarshal(t, resp.Body, &b)
		var out []string
		for _, e := range b.Entry {
			out = append(out, e.Resource.ResourceType+"/"+e.Resource.ID)
		}
		return strings.Join(out, " ")
	}
	everything := func(params map[string][]string, contentType, body string) string {
		t.Helper()
		return entries(mustDo(t, svc, &rest.Request{Interaction: rest.Operation, Operation: "everything", Type: "Patient", ID: "p",
			Params: params, ContentType: contentType, Body: []byte(body)}))
	}
	all := everything(nil, "", "")
	if strings.Contains(all, "Communication/notice") || !strings.Contains(all, "Communication/letter") {
		t.Fatalf("$everything: %s (the server's notice left out, the letter kept)", all)
	}
	want := "Observation/o2021"
	for name, got := range map[string]string{
		"URL":        everything(map[string][]string{"_type": {"Observation"}, "start": {"2020"}}, "", ""),
		"form":       everything(nil, "application/x-www-form-urlencoded", "_type=Observation&start=2020"),
		"Parameters": everything(nil, "application/fhir+json", `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Observation"},{"name":"start","valueDate":"2020"}]}`),
		"Parameters with an integer": everything(nil, "application/fhir+json",
			`{"resourceType":"Parameters","parameter":[{"name":"_type","valueCode":"Observation"},{"name":"start","valueDate":"2020"},{"name":"_count","valueInteger":1}]}`),
	} {
		if got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	for _, body := range []string{`{"resourceType":"Patient"}`, `{"resourceType":"Parameters","parameter":[{"name":"start"}]}`, `{"resourceType":"Parameters","parameter":[{"valueString":"x"}]}`} {
		_, err := do(t, svc, &rest.Request{Interaction: rest.Operation, Operation: "everything", Type: "Patient", ID: "p",
			ContentType: "application/fhir+json", Body: []byte(body)})
		if fhir.KindOf(err) != fhir.KindInvalid {
			t.Errorf("body %s: %v", body, err)
		}
	}
}

// TestServerDevice: the server's own Device, which every AuditEvent and notice names, is stored with the
// server's version, written anew only when the version changes.
func TestServerDevice(t *testing.T) {
	svc := limitService(t, rest.Config{})
	ctx := context.Background()
	for _, v := range []string{"1.2.3", "1.2.3", "1.3.0"} {
		if err := svc.EnsureServerDevice(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	typ, id, _ := strings.Cut(rest.ServerDevice, "/")
	cur := mustDo(t, svc, &rest.Request{Interaction: rest.Read, Type: typ, ID: id})
	if cur.VersionID != "2" || !strings.Contains(string(cur.Body), `"version":[{"value":"1.3.0"}]`) {
		t.Fatalf("version %s: %s", cur.VersionID, cur.Body)
	}
}
