package rest

import "testing"

func TestRewriteRefs(t *testing.T) {
	ids := map[string]string{
		"urn:uuid:a1":                 "Patient/p1",
		"http://other.org/fhir/Org/9": "Organization/o9",
	}
	for _, tc := range []struct{ name, in, want string }{
		{"reference", `{"subject":{"reference":"urn:uuid:a1"}}`, `{"subject":{"reference":"Patient/p1"}}`},
		{"several", `{"a":"urn:uuid:a1","b":["http://other.org/fhir/Org/9","urn:uuid:a1"]}`, `{"a":"Patient/p1","b":["Organization/o9","Patient/p1"]}`},
		{"not a whole string", `{"a":"see urn:uuid:a1","b":"urn:uuid:a12"}`, `{"a":"see urn:uuid:a1","b":"urn:uuid:a12"}`},
		{"member name untouched", `{"urn:uuid:a1x":1}`, `{"urn:uuid:a1x":1}`},
		{"escaped quote before", `{"a":"x\"urn:uuid:a1\"","b":"urn:uuid:a1"}`, `{"a":"x\"urn:uuid:a1\"","b":"Patient/p1"}`},
		{"narrative", `{"div":"<div><a href=\"urn:uuid:a1\">x</a><img src=\"http://other.org/fhir/Org/9\"/><a href=\"urn:uuid:zz\">y</a></div>"}`,
			`{"div":"<div><a href=\"Patient/p1\">x</a><img src=\"Organization/o9\"/><a href=\"urn:uuid:zz\">y</a></div>"}`},
		{"src before href", `{"div":"<img src=\"urn:uuid:a1\"/><a href=\"urn:uuid:a1\">"}`, `{"div":"<img src=\"Patient/p1\"/><a href=\"Patient/p1\">"}`},
		{"nothing", `{"a":1,"b":"c"}`, `{"a":1,"b":"c"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(rewriteRefs([]byte(tc.in), ids)); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
