package search_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

func newService(t *testing.T) (*rest.Service, context.Context) {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, _ := validation.New(validation.Config{})
	svc, err := rest.New(rest.Config{BaseURL: corpusBase}, st, v)
	if err != nil {
		t.Fatal(err)
	}
	return svc, context.Background()
}

func ids(t *testing.T, ctx context.Context, svc *rest.Service, typ, query string) []string {
	t.Helper()
	q, _ := url.ParseQuery(query)
	resp, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: typ, Params: q})
	if err != nil {
		t.Fatalf("%s?%s: %v", typ, query, err)
	}
	out := bundleEntries(t, resp.Body)
	slices.Sort(out)
	return out
}

func bundleEntries(t *testing.T, body []byte) []string {
	var b struct {
		Entry []struct {
			Resource struct{ ID string }   `json:"resource"`
			Search   struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := jsonUnmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range b.Entry {
		if e.Search.Mode == "match" {
			out = append(out, e.Resource.ID)
		}
	}
	return out
}

// TestWritesMoveResourcesInAndOutOfResults: the index follows every write in the same commit.
func TestWritesMoveResourcesInAndOutOfResults(t *testing.T) {
	svc, ctx := newService(t)
	put := func(id, family, birth string) {
		t.Helper()
		body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"` + family + `"}],"birthDate":"` + birth + `"}`
		if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Update, Type: "Patient", ID: id, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name  string
		do    func()
		query string
		want  []string
	}{
		{"created", func() { put("a", "Martin", "1980-05-01"); put("b", "Martinez", "1990-01-01") }, "family=martin", []string{"a", "b"}},
		{"updated away", func() { put("a", "Durand", "1980-05-01") }, "family=martin", []string{"b"}},
		{"updated into", func() {}, "family=durand", []string{"a"}},
		{"date follows update", func() { put("b", "Martinez", "2001-01-01") }, "birthdate=lt2000", []string{"a"}},
		{"deleted", func() {
			if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Delete, Type: "Patient", ID: "a"}); err != nil {
				t.Fatal(err)
			}
		}, "family=durand", nil},
		{"deleted is gone from every parameter", func() {}, "birthdate=lt2000", nil},
		{"resurrected", func() { put("a", "Durand", "1970-01-01") }, "birthdate=lt2000", []string{"a"}},
		{"patch moves it", func() {
			patch := `[{"op":"replace","path":"/name/0/family","value":"Petit"}]`
			if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Patch, Type: "Patient", ID: "a", Body: []byte(patch), ContentType: "application/json-patch+json"}); err != nil {
				t.Fatal(err)
			}
		}, "family=petit,durand", []string{"a"}},
		{"old value no longer matches after patch", func() {}, "family=durand", nil},
	}
	for _, st := range steps {
		st.do()
		if got := ids(t, ctx, svc, "Patient", st.query); !slices.Equal(got, st.want) {
			t.Fatalf("%s: Patient?%s = %v, want %v", st.name, st.query, got, st.want)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestPagingNextAndPrevious walks forward with next links and back with previous links, with writes in
// between: the pages stay consistent (keyset cursors), nothing is seen twice going forward.
func TestPagingNextAndPrevious(t *testing.T) {
	svc, ctx := newService(t)
	for _, id := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7"} {
		body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Page"}]}`
		if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Update, Type: "Patient", ID: id, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	page := func(query string) ([]string, string, string) {
		t.Helper()
		q, _ := url.ParseQuery(query)
		resp, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: q})
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Link []struct{ Relation, URL string } `json:"link"`
		}
		if err := jsonUnmarshal(resp.Body, &b); err != nil {
			t.Fatal(err)
		}
		next, prev := "", ""
		for _, l := range b.Link {
			u, _ := url.Parse(l.URL)
			switch l.Relation {
			case "next":
				next = u.RawQuery
			case "previous":
				prev = u.RawQuery
			}
		}
		return bundleEntries(t, resp.Body), next, prev
	}
	p1, next, prev := page("family=page&_count=3")
	if !slices.Equal(p1, []string{"p1", "p2", "p3"}) || prev != "" || next == "" {
		t.Fatalf("page 1 = %v (prev %q, next %q)", p1, prev, next)
	}
	// A write between pages: p0 sorts before the cursor and must not shift page 2.
	if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Update, Type: "Patient", ID: "p0", Body: []byte(`{"resourceType":"Patient","id":"p0","name":[{"family":"Page"}]}`)}); err != nil {
		t.Fatal(err)
	}
	p2, next2, prev2 := page(next)
	if !slices.Equal(p2, []string{"p4", "p5", "p6"}) || prev2 == "" || next2 == "" {
		t.Fatalf("page 2 = %v (prev %q, next %q)", p2, prev2, next2)
	}
	p3, next3, _ := page(next2)
	if !slices.Equal(p3, []string{"p7"}) || next3 != "" {
		t.Fatalf("page 3 = %v (next %q)", p3, next3)
	}
	back, _, _ := page(prev2)
	if !slices.Equal(back, []string{"p1", "p2", "p3"}) {
		t.Fatalf("previous of page 2 = %v, want the three before p4", back)
	}
	if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.SearchType, Type: "Patient", Params: url.Values{"family": {"other"}, "_cursor": {cursorOf(next)}}}); fhir.KindOf(err) != fhir.KindInvalid {
		t.Fatalf("a cursor of another search was accepted: %v", err)
	}
}

func cursorOf(rawQuery string) string {
	q, _ := url.ParseQuery(rawQuery)
	return strings.TrimSpace(q.Get("_cursor"))
}
