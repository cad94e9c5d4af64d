package rest_test

import (
	"context"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// FuzzBundle posts arbitrary bodies as batches and transactions: no input may panic or produce a
// server error; refusals are FHIR errors of a 4xx kind.
func FuzzBundle(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:1"}},"request":{"method":"POST","url":"Observation"}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/1"}},{"request":{"method":"DELETE","url":"Patient/1"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/a"}},{"request":{"method":"PATCH","url":"Patient/a"},"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:2\">x</a></div>"}},"request":{"method":"PUT","url":"Patient/a"}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":""}}]}`,
		`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":"http://elsewhere/Patient"}}]}`,
		`{"resourceType":"Bundle","type":"collection"}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[null,1,"x",{}]}`,
		`{"resourceType":"Patient"}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	st, err := embedded.Open(embedded.Config{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	v, _ := validation.New(validation.Config{})
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost/fhir", MaxBundleEntries: 50}, st, v)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, i := range []rest.Interaction{rest.Transaction, rest.Batch} {
			_, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: i, Body: body})
			if err != nil {
				if k := fhir.KindOf(err); k.Status() >= 500 {
					t.Fatalf("%s: server error %v: %v", i, k, err)
				}
			}
		}
	})
}
