package search_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"fhirgate/fhir/rest"
	fhirsearch "fhirgate/fhir/search"
	"fhirgate/fhir/store"
)

// What real clients and a probe of every declared parameter tripped over.

func transact(t *testing.T, svc *rest.Service, entries ...string) {
	t.Helper()
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	if _, err := svc.Do(context.Background(), rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: []byte(tx)}); err != nil {
		t.Fatal(err)
	}
}

func put(typ, id, body string) string {
	return `{"resource":{"resourceType":"` + typ + `","id":"` + id + `",` + body + `},"request":{"method":"PUT","url":"` + typ + `/` + id + `"}}`
}

func includes(t *testing.T, svc *rest.Service, typ, query string) []string {
	t.Helper()
	req, err := rest.Match("GET", typ+"?"+query)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := svc.Do(context.Background(), rest.AllowAll{}, req)
	if err != nil {
		t.Fatalf("%s?%s: %v", typ, query, err)
	}
	var b struct {
		Entry []struct {
			Resource struct{ ResourceType, ID string } `json:"resource"`
			Search   struct{ Mode string }             `json:"search"`
		} `json:"entry"`
	}
	if err := jsonUnmarshal(resp.Body, &b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range b.Entry {
		if e.Search.Mode == "include" {
			out = append(out, e.Resource.ResourceType+"/"+e.Resource.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestRelativeCanonicals: a canonical written relative ("PlanDefinition/pd1", as the R4 examples write
// them) or absolute on this server names a resource here: a reference search finds it and _include
// follows it; an absolute canonical elsewhere is found by its URL.
func TestRelativeCanonicals(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("PlanDefinition", "pd1", `"status":"active"`),
		put("PlanDefinition", "pd2", `"status":"active"`),
		put("CarePlan", "relative", `"status":"active","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["PlanDefinition/pd1"]`),
		put("CarePlan", "versioned", `"status":"active","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["PlanDefinition/pd1|2"]`),
		put("CarePlan", "here", `"status":"active","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["`+corpusBase+`/PlanDefinition/pd2"]`),
		put("CarePlan", "elsewhere", `"status":"active","intent":"plan","subject":{"reference":"Patient/p"},"instantiatesCanonical":["http://example.org/fhir/PlanDefinition/pd1"]`),
	)
	for _, tc := range []struct{ query, want string }{
		{"instantiates-canonical=PlanDefinition/pd1", "relative,versioned"},
		{"instantiates-canonical=PlanDefinition/pd2", "here"},
		{"instantiates-canonical=" + corpusBase + "/PlanDefinition/pd2", "here"},
		{"instantiates-canonical=http://example.org/fhir/PlanDefinition/pd1", "elsewhere"},
		{"instantiates-canonical=PlanDefinition/pd1|2", "versioned"},
		{"instantiates-canonical=PlanDefinition/other", ""},
	} {
		if got := strings.Join(ids(t, ctx, svc, "CarePlan", tc.query), ","); got != tc.want {
			t.Errorf("CarePlan?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	if got := includes(t, svc, "CarePlan", "_id=relative&_include=CarePlan:instantiates-canonical"); !slices.Equal(got, []string{"PlanDefinition/pd1"}) {
		t.Errorf("_include of a relative canonical: %v", got)
	}
	if got := includes(t, svc, "PlanDefinition", "_id=pd1&_revinclude=CarePlan:instantiates-canonical"); !slices.Equal(got, []string{"CarePlan/relative", "CarePlan/versioned"}) {
		t.Errorf("_revinclude of relative canonicals: %v", got)
	}
}

// TestThreePartComposites: MolecularSequence's coordinates (a token, then two numbers) match as each part
// does, prefixes included.
func TestThreePartComposites(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("MolecularSequence", "ms1", `"coordinateSystem":0,"referenceSeq":{"chromosome":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/chromosome-human","code":"1"}]},"genomeBuild":"GRCh37","windowStart":22125500,"windowEnd":22125510},"variant":[{"start":22125503,"end":22125504}]`),
		put("MolecularSequence", "ms2", `"coordinateSystem":0,"referenceSeq":{"chromosome":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/chromosome-human","code":"2"}]},"genomeBuild":"GRCh37","windowStart":100,"windowEnd":200},"variant":[{"start":150,"end":151}]`),
		// R4 (msq-5, msq-6): a reference sequence is named by a chromosome with its genome build, or by an id.
		put("MolecularSequence", "ms3", `"coordinateSystem":0,"referenceSeq":{"referenceSeqId":{"coding":[{"system":"http://www.ncbi.nlm.nih.gov/nuccore","code":"NC_000009.11"}]},"windowStart":22125500,"windowEnd":22125510},"variant":[{"start":22125503,"end":22125504}]`),
		put("MolecularSequence", "ms4", `"coordinateSystem":0,"referenceSeq":{"referenceSeqId":{"coding":[{"system":"http://www.ncbi.nlm.nih.gov/nuccore","code":"NC_000001.10"}]},"windowStart":100,"windowEnd":200},"variant":[{"start":150,"end":151}]`),
	)
	for _, tc := range []struct{ query, want string }{
		{"chromosome-variant-coordinate=1$22125503$22125504", "ms1"},
		{"chromosome-variant-coordinate=1$gt22125500$lt22125510", "ms1"},
		{"chromosome-variant-coordinate=1$ge22125503$le22125504", "ms1"},
		{"chromosome-variant-coordinate=1$gt22125503$lt22125510", ""},
		{"chromosome-variant-coordinate=2$gt22125500$lt22125510", ""},
		{"chromosome-variant-coordinate=2$lt200$gt100", "ms2"},
		{"chromosome-window-coordinate=1$22125500$22125510", "ms1"},
		{"chromosome-window-coordinate=1$22125500$22125511", ""},
		{"referenceseqid-window-coordinate=NC_000009.11$lt22125501$gt22125509", "ms3"},
		{"referenceseqid-variant-coordinate=http://www.ncbi.nlm.nih.gov/nuccore|NC_000001.10$150$151", "ms4"},
		{"referenceseqid-variant-coordinate=http://www.ncbi.nlm.nih.gov/nuccore|NC_000001.10$151$151", ""},
	} {
		if got := strings.Join(ids(t, ctx, svc, "MolecularSequence", tc.query), ","); got != tc.want {
			t.Errorf("MolecularSequence?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
}

// TestRevincludeEverything: _revinclude=* brings every resource that refers to a match, of any type,
// through any reference parameter.
func TestRevincludeEverything(t *testing.T) {
	svc, _ := newService(t)
	transact(t, svc,
		put("Patient", "p1", `"gender":"female"`),
		put("Patient", "p2", `"gender":"male"`),
		put("Observation", "o1", `"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}`),
		put("Condition", "c1", `"subject":{"reference":"Patient/p1"}`),
		put("Provenance", "pv1", `"target":[{"reference":"Patient/p1"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/d"}}]`),
		put("Observation", "o2", `"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p2"}`),
	)
	want := []string{"Condition/c1", "Observation/o1", "Provenance/pv1"}
	if got := includes(t, svc, "Patient", "_id=p1&_revinclude=*"); !slices.Equal(got, want) {
		t.Errorf("_revinclude=*: %v, want %v", got, want)
	}
	if got := includes(t, svc, "Patient", "_id=p1&_revinclude=Observation:*"); !slices.Equal(got, []string{"Observation/o1"}) {
		t.Errorf("_revinclude=Observation:*: %v", got)
	}
	if got := includes(t, svc, "Observation", "_id=o1&_include=*"); !slices.Equal(got, []string{"Patient/p1"}) {
		t.Errorf("_include=*: %v", got)
	}
}

// TestAuditEventCommonParameters: the common parameters the CapabilityStatement declares for every type
// work on AuditEvent too.
func TestAuditEventCommonParameters(t *testing.T) {
	svc, ctx := newService(t)
	ev := `"meta":{"tag":[{"system":"http://example.org/tags","code":"t1"}],"profile":["http://hl7.org/fhir/StructureDefinition/AuditEvent"],"source":"http://example.org/source"},` +
		`"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"recorded":"2020-01-01T00:00:00Z",` +
		`"agent":[{"who":{"reference":"Practitioner/d"},"requestor":true}],"source":{"observer":{"reference":"Device/d"}}`
	transact(t, svc, `{"resource":{"resourceType":"AuditEvent",`+ev+`},"request":{"method":"POST","url":"AuditEvent"}}`)
	for _, q := range []string{"_tag=http://example.org/tags|t1", "_profile=http://hl7.org/fhir/StructureDefinition/AuditEvent", "_source=http://example.org/source"} {
		if got := ids(t, ctx, svc, "AuditEvent", q); len(got) != 1 {
			t.Errorf("AuditEvent?%s: %v", q, got)
		}
	}
}

// TestEverythingNoIncludes: without includes, Everything gives the same compartment and reads none of
// the resources it references outside it.
func TestEverythingNoIncludes(t *testing.T) {
	svc, ctx := newService(t)
	transact(t, svc,
		put("Patient", "p1", `"gender":"female","generalPractitioner":[{"reference":"Practitioner/d"}]`),
		put("Practitioner", "d", `"name":[{"family":"House"}]`),
		put("Observation", "o1", `"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/d"}]`),
	)
	refs := func(vs []*store.Version) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Ref())
		}
		return out
	}
	for _, tc := range []struct {
		noIncludes bool
		includes   []string
	}{{false, []string{"Practitioner/d"}}, {true, nil}} {
		res, err := svc.Engine().Everything(ctx, "Patient/p1", fhirsearch.EverythingOptions{NoIncludes: tc.noIncludes}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := refs(res.Matches); !slices.Equal(got, []string{"Patient/p1", "Observation/o1"}) {
			t.Errorf("NoIncludes %v: matches %v", tc.noIncludes, got)
		}
		if got := refs(res.Includes); !slices.Equal(got, tc.includes) {
			t.Errorf("NoIncludes %v: includes %v, want %v", tc.noIncludes, got, tc.includes)
		}
	}
}
