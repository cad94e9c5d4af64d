package rest_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/profile"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
	"fhirgate/internal/sharedtest"
)

// $validate (https://hl7.org/fhir/R4/resource-operation-validate.html) and the profiles writes are held to.

const (
	vitalSignsURL = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	bodyWeightURL = "http://hl7.org/fhir/StructureDefinition/bodyweight"
	nationalURL   = "http://example.org/fhir/StructureDefinition/national-patient"
)

// bodyWeight is an Observation of a body weight; meta is its meta.profile list ("" for none), code its
// LOINC code, withCategory whether it carries the vital-signs category.
func bodyWeight(meta, code string, withCategory bool) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Observation",`)
	if meta != "" {
		b.WriteString(`"meta":{"profile":["` + meta + `"]},`)
	}
	b.WriteString(`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Body weight</div>"},"status":"final",`)
	if withCategory {
		b.WriteString(`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`)
	}
	b.WriteString(`"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]},"subject":{"reference":"Patient/p1"},` +
		`"effectiveDateTime":"2024-01-30","valueQuantity":{"value":70,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`)
	return b.String()
}

func validateReq(typ, id string, params url.Values, body string) *rest.Request {
	req := &rest.Request{Interaction: rest.Operation, Operation: "validate", Type: typ, ID: id, Params: params}
	if body != "" {
		req.Body, req.ContentType = []byte(body), "application/fhir+json"
	}
	return req
}

func profileParam(url string) url.Values { return map[string][]string{"profile": {url}} }

// outcome runs a $validate that must answer 200 and returns its issues as "severity expression | text".
func outcome(t *testing.T, env *resttest.Env, req *rest.Request) []string {
	t.Helper()
	resp := env.Must(t, req)
	resttest.WantStatus(t, resp, 200)
	var out []string
	for _, is := range resttest.Issues(t, resp.Body) {
		out = append(out, is.Severity+" "+strings.Join(is.Expression, ",")+" | "+is.Details.Text)
	}
	return out
}

func hasIssue(issues []string, severity, text string) bool {
	return slices.ContainsFunc(issues, func(s string) bool {
		return strings.HasPrefix(s, severity+" ") && strings.Contains(s, text)
	})
}

func errorCount(issues []string) int {
	n := 0
	for _, s := range issues {
		if strings.HasPrefix(s, "error ") || strings.HasPrefix(s, "fatal ") {
			n++
		}
	}
	return n
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		req       *rest.Request
		wantError []string // texts of the error issues expected; none: "no errors or warnings found"
	}{
		{"vitalsigns: a vital sign without its category names the slice",
			validateReq("Observation", "", profileParam(vitalSignsURL), bodyWeight("", "29463-7", false)),
			[]string{"Observation.category: slice VSCat: minimum 1, found 0 (profile vitalsigns)"}},
		{"bodyweight: the wrong code",
			validateReq("Observation", "", profileParam(bodyWeightURL), bodyWeight("", "8302-2", true)),
			[]string{"Observation.code.coding: slice BodyWeightCode: minimum 1, found 0 (profile bodyweight)"}},
		{"bodyweight: a valid body weight",
			validateReq("Observation", "", profileParam(bodyWeightURL), bodyWeight("", "29463-7", true)), nil},
		{"the profiles meta.profile names are checked too",
			validateReq("Observation", "", nil, bodyWeight(bodyWeightURL, "8302-2", true)),
			[]string{"slice BodyWeightCode: minimum 1, found 0 (profile bodyweight)"}},
		{"a Parameters body: resource, mode and profile",
			validateReq("Observation", "", nil, `{"resourceType":"Parameters","parameter":[`+
				`{"name":"resource","resource":`+bodyWeight("", "29463-7", false)+`},`+
				`{"name":"mode","valueCode":"create"},{"name":"profile","valueUri":"`+vitalSignsURL+`"}]}`),
			[]string{"slice VSCat: minimum 1, found 0"}},
		{"invalid R4: the R4 validator's issues, still 200",
			validateReq("Observation", "", nil, `{"resourceType":"Observation","status":"final","code":{"text":"x"},"colour":"red"}`),
			[]string{"unknown element"}},
		{"mode update needs the id",
			validateReq("Observation", "", url.Values{"mode": {"update"}}, bodyWeight("", "29463-7", true)),
			[]string{"an update needs the resource's id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			issues := outcome(t, env, tc.req)
			if len(tc.wantError) == 0 {
				if errorCount(issues) > 0 || !hasIssue(issues, "information", "no errors or warnings found") {
					t.Errorf("issues %v, want none", issues)
				}
			}
			for _, w := range tc.wantError {
				if !hasIssue(issues, "error", w) {
					t.Errorf("no error %q in\n  %s", w, strings.Join(issues, "\n  "))
				}
			}
			if n := len(env.Versions(t, "Observation", "")); n != 0 {
				t.Errorf("%d versions stored: $validate stores nothing", n)
			}
		})
	}

	t.Run("an unknown profile of meta.profile is said, not refused", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		issues := outcome(t, env, validateReq("Observation", "", nil, bodyWeight("http://example.org/unknown", "29463-7", true)))
		if errorCount(issues) > 0 || !hasIssue(issues, "information", "not known to this server and was not checked: http://example.org/unknown") {
			t.Errorf("issues %v", issues)
		}
	})

	for _, tc := range []struct {
		name             string
		req              *rest.Request
		code, expression string
	}{
		{"an unknown profile asked for", validateReq("Observation", "", profileParam("http://example.org/nothing"), bodyWeight("", "29463-7", true)),
			"not-supported", "profile"},
		{"an unknown mode", validateReq("Observation", "", url.Values{"mode": {"replace"}}, bodyWeight("", "29463-7", true)), "value", "mode"},
		{"no resource on a type", validateReq("Observation", "", nil, ""), "required", "resource"},
		{"not JSON", validateReq("Observation", "", nil, `{"resourceType":`), "structure", ""},
		{"a resource of another type", validateReq("Observation", "", nil, `{"resourceType":"Patient"}`), "structure", "resourceType"},
		{"a parameter $validate does not have", validateReq("Observation", "", nil,
			`{"resourceType":"Parameters","parameter":[{"name":"strict","valueBoolean":true}]}`), "not-supported", "Parameters.parameter[0]"},
		{"two resources", validateReq("Observation", "", nil,
			`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation"}},{"name":"resource","resource":{"resourceType":"Observation"}}]}`),
			"structure", "Parameters.parameter[1]"},
		{"mode delete on a type", validateReq("Observation", "", url.Values{"mode": {"delete"}}, ""), "required", "id"},
	} {
		t.Run("400: "+tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			_, err := env.Do(tc.req)
			_ = resttest.WantError(t, err, 400, tc.code, tc.expression)
		})
	}
}

func TestValidateInstance(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	env.Put(t, withID(bodyWeight("", "8302-2", true), "w1"))
	env.Put(t, withID(bodyWeight("", "29463-7", true), "w2"))

	issues := outcome(t, env, validateReq("Observation", "w1", profileParam(bodyWeightURL), ""))
	if !hasIssue(issues, "error", "slice BodyWeightCode: minimum 1, found 0") {
		t.Errorf("the stored w1 against bodyweight: %v", issues)
	}
	issues = outcome(t, env, validateReq("Observation", "w2", profileParam(bodyWeightURL), ""))
	if errorCount(issues) > 0 {
		t.Errorf("the stored w2 against bodyweight: %v", issues)
	}
	// mode=update validates the resource supplied, not the stored one.
	issues = outcome(t, env, validateReq("Observation", "w1", url.Values{"mode": {"update"}, "profile": {bodyWeightURL}},
		withID(bodyWeight("", "29463-7", true), "w1")))
	if errorCount(issues) > 0 {
		t.Errorf("the supplied update of w1: %v", issues)
	}
	issues = outcome(t, env, validateReq("Observation", "w1", url.Values{"mode": {"update"}}, withID(bodyWeight("", "29463-7", true), "w9")))
	if !hasIssue(issues, "error", "the resource id does not match the URL") {
		t.Errorf("an update of w1 with the id w9: %v", issues)
	}
	// mode=delete: nothing prevents it, and nothing is deleted.
	issues = outcome(t, env, validateReq("Observation", "w1", url.Values{"mode": {"delete"}}, ""))
	if !hasIssue(issues, "information", "no rule prevents deleting Observation/w1") || errorCount(issues) > 0 {
		t.Errorf("mode delete: %v", issues)
	}
	if env.Stored(t, "Observation", "w1").Deleted {
		t.Error("mode delete deleted the resource")
	}
	_, err := env.Do(validateReq("Observation", "absent", nil, ""))
	_ = resttest.WantError(t, err, 404, "not-found", "")
	env.Delete(t, "Observation", "w2")
	_, err = env.Do(validateReq("Observation", "w2", nil, ""))
	_ = resttest.WantError(t, err, 404, "not-found", "")
}

func withID(resource, id string) string {
	return strings.Replace(resource, `{"resourceType":"Observation",`, `{"resourceType":"Observation","id":"`+id+`",`, 1)
}

// authorizing records the interactions Authorize is asked about and refuses those of refuse.
type authorizing struct {
	rest.AllowAll
	mu     sync.Mutex
	asked  []rest.Interaction
	refuse rest.Interaction
}

func (g *authorizing) Authorize(_ context.Context, req *rest.Request) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, req.Interaction)
	if req.Interaction == g.refuse {
		return &fhir.Error{Kind: fhir.KindForbidden, Details: "refused"}
	}
	return nil
}

// TestValidateAccess: $validate is authorized as the write it checks, and a resource the caller may not
// see is answered as one that does not exist.
func TestValidateAccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  *rest.Request
		want rest.Interaction
	}{
		{"a type: create", validateReq("Observation", "", nil, bodyWeight("", "29463-7", true)), rest.Create},
		{"a type, mode update", validateReq("Observation", "", url.Values{"mode": {"update"}}, withID(bodyWeight("", "29463-7", true), "w1")), rest.Update},
		{"an instance: update", validateReq("Observation", "w1", nil, ""), rest.Update},
		{"an instance, mode delete", validateReq("Observation", "w1", url.Values{"mode": {"delete"}}, ""), rest.Delete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &authorizing{}
			env := resttest.New(t, resttest.WithGuard(g))
			env.Put(t, withID(bodyWeight("", "29463-7", true), "w1"))
			g.mu.Lock()
			g.asked, g.refuse = nil, tc.want
			g.mu.Unlock()
			_, err := env.Do(tc.req)
			_ = resttest.WantError(t, err, 403, "forbidden", "")
			if !slices.Equal(g.asked, []rest.Interaction{tc.want}) {
				t.Errorf("Authorize asked about %v, want [%s]", g.asked, tc.want)
			}
		})
	}

	for _, params := range []url.Values{nil, {"mode": {"delete"}}, {"profile": {bodyWeightURL}}} {
		t.Run("hidden as absent "+params.Encode(), func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t, resttest.WithGuard(hidingGuard{ref: "Observation/w1"}))
			env.Put(t, withID(bodyWeight("", "29463-7", true), "w1"))
			_, hidden := env.Do(validateReq("Observation", "w1", params, ""))
			_, absent := env.Do(validateReq("Observation", "w2", params, ""))
			h, a := fhir.AsError(hidden), fhir.AsError(absent)
			if h == nil || a == nil || h.Kind != a.Kind || h.Kind.Status() != 404 {
				t.Fatalf("hidden %v, absent %v: want the same 404", hidden, absent)
			}
		})
	}
}

// TestProfilesOnWrite: a write whose meta.profile names a loaded profile is held to it.
func TestProfilesOnWrite(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	err := env.Fail(t, &rest.Request{Interaction: rest.Create, Type: "Observation", ContentType: "application/fhir+json",
		Body: []byte(bodyWeight(bodyWeightURL, "8302-2", true))})
	if err.Kind.Status() != 400 || !strings.Contains(err.Details, "slice BodyWeightCode: minimum 1, found 0 (profile bodyweight)") ||
		err.Expression != "Observation.code.coding" {
		t.Errorf("refusal %d %s: %s", err.Kind.Status(), err.Expression, err.Details)
	}
	env.Create(t, bodyWeight(bodyWeightURL, "29463-7", true))
	env.Create(t, bodyWeight("http://example.org/unknown-profile", "8302-2", true)) // unknown: ignored
	env.Create(t, bodyWeight("", "8302-2", true))                                   // none declared
}

// TestProfilesFromAFolder: the profiles of an implementation guide's folder (profile.LoadDir, --profiles)
// are enforced on writes and known to $validate, beside the core ones.
func TestProfilesFromAFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"StructureDefinition-national-patient.json", "ValueSet-national-genders.json", "package.json"} {
		b, err := os.ReadFile(filepath.Join("..", "profile", "testdata", "national", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := profile.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := resttest.New(t, resttest.WithConfig(func(c *rest.Config) { c.Profiles = set }))
	good := `{"resourceType":"Patient","meta":{"profile":["` + nationalURL + `"]},` +
		`"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Roma"}}],` +
		`"identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9","value":"RSSMRA80A01H501U"}],"name":[{"family":"Rossi"}],"gender":"male"}`
	env.Create(t, good)
	bad := strings.Replace(good, "urn:oid:2.16.840.1.113883.2.9", "urn:other", 1)
	err2 := env.Fail(t, &rest.Request{Interaction: rest.Create, Type: "Patient", Body: []byte(bad), ContentType: "application/fhir+json"})
	if err2.Kind.Status() != 400 || !strings.Contains(err2.Details, "Patient.identifier: slice NationalId: minimum 1, found 0 (profile national-patient)") {
		t.Errorf("refusal %d: %s", err2.Kind.Status(), err2.Details)
	}
	issues := outcome(t, env, validateReq("Patient", "", profileParam(nationalURL+"|1.0.0"), `{"resourceType":"Patient","gender":"other"}`))
	for _, w := range []string{"slice NationalId: minimum 1", "slice birthPlace: minimum 1", "Patient.name: minimum 1",
		"the code is not in the value set http://example.org/fhir/ValueSet/national-genders"} {
		if !hasIssue(issues, "error", w) {
			t.Errorf("no error %q in\n  %s", w, strings.Join(issues, "\n  "))
		}
	}
	if !hasIssue(issues, "warning", "constraint nat-2 does not compile") {
		t.Errorf("no warning of the constraint that does not compile: %v", issues)
	}
	// The core profiles are still there.
	issues = outcome(t, env, validateReq("Observation", "", profileParam(vitalSignsURL), bodyWeight("", "29463-7", false)))
	if !hasIssue(issues, "error", "slice VSCat") {
		t.Errorf("vitalsigns beside the folder's profiles: %v", issues)
	}
}

// TestValidateOfficialVitalSigns: the official vital-signs examples pass $validate against the profiles
// they declare, with no error or warning.
func TestValidateOfficialVitalSigns(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Path(t, "examples")
	for _, name := range []string{"Observation-body-height.json", "Observation-heart-rate.json", "Observation-blood-pressure.json",
		"Observation-bmi.json", "Observation-vitals-panel.json", "Observation-satO2.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"profile"`) {
				t.Fatalf("%s declares no profile", name)
			}
			env := resttest.New(t)
			issues := outcome(t, env, validateReq("Observation", "", nil, string(b)))
			for _, s := range issues {
				if !strings.HasPrefix(s, "information ") {
					t.Errorf("issue %s", s)
				}
			}
		})
	}
}

func TestValidateRoutes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, url, typ, id string }{
		{"POST", "Observation/$validate", "Observation", ""},
		{"GET", "Observation/o1/$validate?mode=delete", "Observation", "o1"},
		{"POST", "Patient/p1/$validate", "Patient", "p1"},
	} {
		req, err := rest.Match(tc.method, tc.url)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.url, err)
		}
		if req.Interaction != rest.Operation || req.Operation != "validate" || req.Type != tc.typ || req.ID != tc.id {
			t.Errorf("%s %s: %+v", tc.method, tc.url, req)
		}
	}
	if req, err := rest.Match("GET", "Patient/p1/$everything"); err != nil || req.Operation != "everything" {
		t.Errorf("$everything: %+v %v", req, err)
	}
}
