package rest_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/search"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// The decision point, as the service consults it: every interaction, run once with a guard that refuses
// every resource and every change (nothing may leave or change), once with a guard that records what it
// was asked (everything that left or changed must have been asked about).

// secret is in every stored resource: a response that carries it carries stored data.
const secret = "Secretname"

func guardService(t *testing.T) (*rest.Service, store.Store) {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		t.Fatal(err)
	}
	load := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":{"resourceType":"Patient","id":"p1","name":[{"family":"` + secret + `"}]},"request":{"method":"PUT","url":"Patient/p1"}},
		{"resource":{"resourceType":"Practitioner","id":"d1","name":[{"family":"` + secret + `"}]},"request":{"method":"PUT","url":"Practitioner/d1"}},
		{"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"` + secret + `"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/d1"}]},"request":{"method":"PUT","url":"Observation/o1"}},
		{"resource":{"resourceType":"Binary","id":"b1","contentType":"text/plain","securityContext":{"reference":"Observation/o1"},"data":"U2VjcmV0bmFtZQ=="},"request":{"method":"PUT","url":"Binary/b1"}}]}`
	if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: []byte(load)}); err != nil {
		t.Fatal(err)
	}
	// A second version of the Observation, for history and vread.
	o1 := `{"resourceType":"Observation","id":"o1","status":"amended","code":{"text":"` + secret + `"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/d1"}]}`
	if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Update, Type: "Observation", ID: "o1", Body: []byte(o1)}); err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// guardCases are requests of every interaction and every conditional form, each about the stored data.
func guardCases() []struct {
	name string
	req  func() *rest.Request
} {
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"new"},"subject":{"reference":"Patient/p1"}}`
	obsID := `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"new"},"subject":{"reference":"Patient/p1"}}`
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	r := func(i rest.Interaction, typ, id string, params string, body string) func() *rest.Request {
		return func() *rest.Request {
			req := &rest.Request{Interaction: i, Type: typ, ID: id, Params: q(params), Ledger: rest.NewLedger()}
			if body != "" {
				req.Body, req.ContentType = []byte(body), "application/fhir+json"
			}
			return req
		}
	}
	patch := func(id, params string) func() *rest.Request {
		return func() *rest.Request {
			return &rest.Request{Interaction: rest.Patch, Type: "Observation", ID: id, Params: q(params), Ledger: rest.NewLedger(),
				Body: []byte(`[{"op":"replace","path":"/status","value":"cancelled"}]`), ContentType: "application/json-patch+json"}
		}
	}
	ifNoneExist := func() *rest.Request {
		req := r(rest.Create, "Observation", "", "", obs)()
		req.IfNoneExist = "_id=o1"
		return req
	}
	tx := func(kind, entries string) func() *rest.Request {
		return r(rest.Batch, "", "", "", `{"resourceType":"Bundle","type":"`+kind+`","entry":[`+entries+`]}`)
	}
	return []struct {
		name string
		req  func() *rest.Request
	}{
		{"read", r(rest.Read, "Observation", "o1", "", "")},
		{"read of a Binary", r(rest.Read, "Binary", "b1", "", "")},
		{"vread", func() *rest.Request {
			req := r(rest.VRead, "Observation", "o1", "", "")()
			req.VersionID = "1"
			return req
		}},
		{"instance history", r(rest.HistoryInstance, "Observation", "o1", "", "")},
		{"type history", r(rest.HistoryType, "Observation", "", "", "")},
		{"system history", r(rest.HistorySystem, "", "", "", "")},
		{"history count", r(rest.HistorySystem, "", "", "_count=0", "")},
		{"search", r(rest.SearchType, "Observation", "", "", "")},
		{"search with includes", r(rest.SearchType, "Observation", "", "_include=*&_revinclude=*", "")},
		{"search by chain", r(rest.SearchType, "Observation", "", "subject.name=secretn", "")},
		{"search by _has", r(rest.SearchType, "Patient", "", "_has:Observation:subject:status=amended", "")},
		{"search count", r(rest.SearchType, "Observation", "", "_summary=count", "")},
		{"system search", r(rest.SearchSystem, "", "", "_type=Patient,Observation,Binary,Practitioner", "")},
		{"compartment search", func() *rest.Request {
			req := r(rest.SearchType, "Observation", "", "", "")()
			req.Compartment = "Patient/p1"
			return req
		}},
		{"$everything", func() *rest.Request {
			req := r(rest.Operation, "Patient", "p1", "", "")()
			req.Operation = "everything"
			return req
		}},
		{"create", r(rest.Create, "Observation", "", "", obs)},
		{"conditional create", ifNoneExist},
		{"update", r(rest.Update, "Observation", "o1", "", obsID)},
		{"update as create", r(rest.Update, "Observation", "o2", "", strings.Replace(obsID, `"o1"`, `"o2"`, 1))},
		{"conditional update", r(rest.Update, "Observation", "", "_id=o1", obs)},
		{"patch", patch("o1", "")},
		{"conditional patch", patch("", "_id=o1")},
		{"delete", r(rest.Delete, "Observation", "o1", "", "")},
		{"conditional delete", r(rest.Delete, "Observation", "", "_id=o1", "")},
		{"batch", tx("batch", `{"request":{"method":"GET","url":"Observation/o1"}},{"request":{"method":"GET","url":"Observation?_id=o1"}},
			{"request":{"method":"DELETE","url":"Observation/o1"}},{"resource":`+obsID+`,"request":{"method":"PUT","url":"Observation/o1"}}`)},
		{"transaction", tx("transaction", `{"request":{"method":"DELETE","url":"Practitioner/d1"}},
			{"fullUrl":"urn:uuid:x","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?_id=p1"},"hasMember":[{"reference":"Observation?_id=o1"}]},"request":{"method":"POST","url":"Observation","ifNoneExist":"_id=o1"}}`)},
		{"transaction of changes", tx("transaction", `{"resource":`+obsID+`,"request":{"method":"PUT","url":"Observation/o1"}},
			{"request":{"method":"PATCH","url":"Observation/o1"},"resource":{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Observation.status"},{"name":"value","valueCode":"cancelled"}]}]}},
			{"request":{"method":"DELETE","url":"Binary?_id=b1"}}`)},
	}
}

// refusingGuard lets every interaction run and refuses every resource and every change.
type refusingGuard struct{}

func (refusingGuard) Authorize(context.Context, *rest.Request) error { return nil }
func (refusingGuard) Read(_ context.Context, _ *rest.Request, f *search.Facts) error {
	return fhir.NotFound(f.Type, f.ID)
}
func (refusingGuard) Write(context.Context, *rest.Request, rest.Change) error {
	return &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden", Details: "refused"}
}

// TestNothingPassesARefusingGuard: with a guard that refuses every resource and every change, no
// interaction returns stored data, counts it, or changes the store.
func TestNothingPassesARefusingGuard(t *testing.T) {
	svc, st := guardService(t)
	ctx := context.Background()
	head := func() uint64 {
		vs, err := st.History(ctx, store.HistoryQuery{Limit: 1})
		if err != nil || len(vs) == 0 {
			t.Fatal(err)
		}
		return vs[0].Seq
	}
	before := head()
	for _, tc := range guardCases() {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.Do(ctx, refusingGuard{}, tc.req())
			if err != nil {
				if strings.Contains(fhir.AsError(err).Error(), secret) {
					t.Fatalf("the refusal carries stored data: %v", err)
				}
				return
			}
			if strings.Contains(string(resp.Body), secret) || strings.Contains(string(resp.Body), `"total":1`) ||
				strings.Contains(string(resp.Body), `"total":2`) || strings.Contains(string(resp.Body), "U2VjcmV0bmFtZQ") {
				t.Fatalf("stored data left: %s", resp.Body)
			}
			if len(resp.Touched) > 0 {
				t.Fatalf("touched %v", resp.Touched)
			}
			for _, e := range resp.Entries {
				if e.Response != nil && len(e.Response.Touched) > 0 {
					t.Fatalf("an entry touched %v", e.Response.Touched)
				}
			}
			if head() != before {
				t.Fatal("the store changed")
			}
		})
	}
}

// recordingGuard allows everything and remembers what it was asked about.
type recordingGuard struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (g *recordingGuard) Authorize(context.Context, *rest.Request) error { return nil }
func (g *recordingGuard) Read(_ context.Context, _ *rest.Request, f *search.Facts) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen[f.Ref()] = true
	return nil
}
func (g *recordingGuard) Write(_ context.Context, _ *rest.Request, ch rest.Change) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, f := range []*search.Facts{ch.Before, ch.After} {
		if f != nil {
			g.seen[f.Ref()] = true
		}
	}
	return nil
}

// TestEverythingServedWasDecided: every resource an interaction returns or writes was put to the guard.
func TestEverythingServedWasDecided(t *testing.T) {
	for _, tc := range guardCases() {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := guardService(t)
			g := &recordingGuard{seen: map[string]bool{}}
			resp, err := svc.Do(context.Background(), g, tc.req())
			if err != nil {
				return
			}
			touched := append([]*store.Version(nil), resp.Touched...)
			for _, e := range resp.Entries {
				if e.Response != nil {
					touched = append(touched, e.Response.Touched...)
				}
			}
			for _, v := range touched {
				if v != nil && !g.seen[v.Ref()] {
					t.Errorf("%s left or changed without a decision", v.Ref())
				}
			}
		})
	}
}
