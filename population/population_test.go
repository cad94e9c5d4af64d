package population

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/validation"
)

var newValidator = sync.OnceValues(func() (*validation.Validator, error) { return validation.New(validation.Config{}) })

func validator(t testing.TB) *validation.Validator {
	t.Helper()
	v, err := newValidator()
	if err != nil {
		t.Fatalf("validator: %v", err)
	}
	return v
}

// txBundle is a decoded transaction bundle.
type txBundle struct {
	ResourceType string    `json:"resourceType"`
	Type         string    `json:"type"`
	Entry        []txEntry `json:"entry"`
}

type txEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

// ref returns Type/id of the entry's resource.
func (e txEntry) ref(t testing.TB) string {
	t.Helper()
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(e.Resource, &head); err != nil {
		t.Fatalf("entry %s: %v", e.FullURL, err)
	}
	return head.ResourceType + "/" + head.ID
}

func decode(t testing.TB, b []byte) txBundle {
	t.Helper()
	var tx txBundle
	if err := json.Unmarshal(b, &tx); err != nil {
		t.Fatalf("bundle does not decode: %v", err)
	}
	return tx
}

// describe renders a validation error with every issue and its element path.
func describe(err error) string {
	var fe *fhir.Error
	if !errors.As(err, &fe) {
		return err.Error()
	}
	var parts []string
	for _, is := range fe.Issues() {
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", is.Expression, is.Details, is.Diagnostics))
	}
	return strings.Join(parts, "; ")
}

var (
	cfgA = Config{Patients: 200, Seed: 1}
	cfgB = Config{Patients: 200, Seed: 20260101, Now: time.Date(2025, 6, 15, 12, 30, 0, 0, time.UTC), Organizations: 5, Practitioners: 23}
	// Odd shapes: more organisations than practitioners, and a single one of each.
	cfgSparse = Config{Patients: 5, Seed: -7, Organizations: 30, Practitioners: 3}
	cfgSingle = Config{Patients: 5, Seed: 0, Organizations: 1, Practitioners: 1}
)

type bundleCase struct {
	name   string
	bundle func() []byte
}

// bundleCases lists the bundles under test: the shared bundle and patients 0 to n-1 of the two main
// configs, those of the odd shapes, and the demo.
func bundleCases(n int) []bundleCase {
	var cases []bundleCase
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"seed-1", cfgA}, {"seed-20260101", cfgB}, {"sparse", cfgSparse}, {"single", cfgSingle}} {
		cfg := c.cfg
		cases = append(cases, bundleCase{c.name + "/shared", func() []byte { return Shared(cfg) }})
		for i := range min(n, cfg.Patients) {
			cases = append(cases, bundleCase{fmt.Sprintf("%s/patient-%d", c.name, i), func() []byte { return Patient(cfg, i) }})
		}
	}
	for k, name := range []string{"shared", "alice", "bob", "chloe", "david"} {
		cases = append(cases, bundleCase{"demo/" + name, func() []byte { return Demo()[k] }})
	}
	return cases
}

func TestValid(t *testing.T) {
	t.Parallel()
	v := validator(t)
	for _, tc := range bundleCases(20) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.bundle()
			tx := decode(t, b)
			if len(tx.Entry) == 0 {
				t.Fatal("empty bundle")
			}
			for _, e := range tx.Entry {
				if err := v.Validate(e.Resource); err != nil {
					t.Errorf("%s is not valid R4: %s", e.ref(t), describe(err))
				}
			}
			// The bundle as a whole, as a server receives it (once per kind of bundle: it repeats the
			// validation of every entry).
			if strings.HasSuffix(tc.name, "shared") || strings.HasSuffix(tc.name, "patient-0") || strings.HasPrefix(tc.name, "demo/") {
				if err := v.Validate(b); err != nil {
					t.Errorf("bundle is not valid R4: %s", describe(err))
				}
			}
		})
	}
}

var uuidRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// genericBundle is a bundle decoded in one pass, resources as generic JSON.
type genericBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
		Request  struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

// references returns every Reference.reference in a resource.
func references(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "reference" {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// sharedRefs returns the Type/ids of a shared bundle.
func sharedRefs(t testing.TB, b []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, e := range decode(t, b).Entry {
		out[e.ref(t)] = true
	}
	return out
}

func TestShape(t *testing.T) {
	t.Parallel()
	shared := map[string]map[string]bool{
		"seed-1":        sharedRefs(t, Shared(cfgA)),
		"seed-20260101": sharedRefs(t, Shared(cfgB)),
		"sparse":        sharedRefs(t, Shared(cfgSparse)),
		"single":        sharedRefs(t, Shared(cfgSingle)),
		"demo":          sharedRefs(t, Demo()[0]),
	}
	// Medical advisers work for the insurer: they treat no one.
	advisers := map[string]map[string]bool{"demo": {"Practitioner/prac-adviser": true}}
	for name, cfg := range map[string]Config{"seed-1": cfgA, "seed-20260101": cfgB, "sparse": cfgSparse, "single": cfgSingle} {
		advisers[name] = map[string]bool{}
		for _, id := range Advisers(cfg) {
			advisers[name]["Practitioner/"+id] = true
		}
	}
	for _, tc := range bundleCases(20) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tx genericBundle
			if err := json.Unmarshal(tc.bundle(), &tx); err != nil {
				t.Fatal(err)
			}
			if tx.ResourceType != "Bundle" || tx.Type != "transaction" {
				t.Fatalf("got %s of type %q, want a transaction Bundle", tx.ResourceType, tx.Type)
			}
			population := strings.SplitN(tc.name, "/", 2)[0]
			known := map[string]bool{}
			for ref := range shared[population] {
				known[ref] = true
			}
			for _, e := range tx.Entry {
				ref := fmt.Sprint(e.Resource["resourceType"], "/", e.Resource["id"])
				if e.Request.Method != "PUT" || e.Request.URL != ref {
					t.Errorf("%s: request %s %s, want PUT %s", ref, e.Request.Method, e.Request.URL, ref)
				}
				if !uuidRE.MatchString(e.FullURL) || e.FullURL != "urn:uuid:"+uuidFor(ref) {
					t.Errorf("%s: fullUrl %q is not the version-5 UUID of the id", ref, e.FullURL)
				}
				known[ref] = true
			}
			for _, e := range tx.Entry {
				for _, r := range references(e.Resource) {
					if !known[r] {
						t.Errorf("%s/%s: reference %q resolves neither in the bundle nor in the shared bundle",
							e.Resource["resourceType"], e.Resource["id"], r)
					}
					if advisers[population][r] && e.Resource["resourceType"] != "PractitionerRole" {
						t.Errorf("%s/%s: the medical adviser %s takes part in care", e.Resource["resourceType"], e.Resource["id"], r)
					}
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		a, b  func() []byte
		equal bool
	}{
		{"shared/same config", func() []byte { return Shared(cfgA) }, func() []byte { return Shared(cfgA) }, true},
		{"shared/other seed", func() []byte { return Shared(cfgA) }, func() []byte { return Shared(Config{Seed: 2}) }, false},
		{"shared/zero Now is 2026-01-01", func() []byte { return Shared(Config{Seed: 5}) },
			func() []byte { return Shared(Config{Seed: 5, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}) }, true},
		{"shared/zero counts are the defaults", func() []byte { return Shared(Config{Seed: 5}) },
			func() []byte { return Shared(Config{Seed: 5, Organizations: 8, Practitioners: 40}) }, true},
		{"demo/repeat", func() []byte { return bytes.Join(Demo(), nil) }, func() []byte { return bytes.Join(Demo(), nil) }, true},
		{"patient/independent of Patients", func() []byte { return Patient(Config{Patients: 10, Seed: 3}, 7) },
			func() []byte { return Patient(Config{Patients: 100000, Seed: 3}, 7) }, true},
		{"patient/other Now", func() []byte { return Patient(Config{Patients: 10, Seed: 3}, 7) },
			func() []byte {
				return Patient(Config{Patients: 10, Seed: 3, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, 7)
			}, false},
	}
	for i := range 10 {
		tests = append(tests,
			struct {
				name  string
				a, b  func() []byte
				equal bool
			}{fmt.Sprintf("patient-%d/same config", i), func() []byte { return Patient(cfgA, i) }, func() []byte { return Patient(cfgA, i) }, true},
			struct {
				name  string
				a, b  func() []byte
				equal bool
			}{fmt.Sprintf("patient-%d/other seed", i), func() []byte { return Patient(cfgA, i) },
				func() []byte { return Patient(Config{Patients: 200, Seed: 2}, i) }, false},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := tc.a(), tc.b()
			if got := bytes.Equal(a, b); got != tc.equal {
				t.Errorf("bytes equal = %v, want %v (%d and %d bytes)", got, tc.equal, len(a), len(b))
			}
		})
	}
}

func TestUniqueIDs(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{cfgA, cfgB} {
		t.Run(fmt.Sprintf("seed-%d", cfg.Seed), func(t *testing.T) {
			t.Parallel()
			refs, urls := map[string]string{}, map[string]string{}
			idents := map[string]string{}
			check := func(where string, b []byte) {
				for _, e := range decode(t, b).Entry {
					ref := e.Request.URL
					if prev, ok := refs[ref]; ok {
						t.Errorf("%s in %s and in %s", ref, prev, where)
					}
					refs[ref] = where
					if prev, ok := urls[e.FullURL]; ok {
						t.Errorf("fullUrl %s of %s already used by %s", e.FullURL, ref, prev)
					}
					urls[e.FullURL] = ref
					if strings.HasPrefix(ref, "Patient/") {
						var p patient
						mustUnmarshal(t, e.Resource, &p)
						for _, id := range p.Identifier {
							key := id.System + "|" + id.Value
							if prev, ok := idents[key]; ok {
								t.Errorf("identifier %s of %s already given to %s", key, ref, prev)
							}
							idents[key] = ref
						}
					}
				}
			}
			check("shared", Shared(cfg))
			for i := range cfg.Patients {
				check(PatientID(i), Patient(cfg, i))
			}
			if len(refs) < 200*30 {
				t.Errorf("only %d resources in 200 patients", len(refs))
			}
		})
	}
}

func TestSharedContent(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{cfgA, cfgB, cfgSparse, cfgSingle} {
		t.Run(fmt.Sprintf("seed-%d/orgs-%d/pracs-%d", cfg.Seed, cfg.Organizations, cfg.Practitioners), func(t *testing.T) {
			t.Parallel()
			n := cfg.normalized()
			advisers := map[string]bool{}
			for _, id := range Advisers(cfg) {
				advisers["Practitioner/"+id] = true
			}
			roles := map[string][]string{} // practitioner -> organisations
			counts := map[string]int{}
			names := map[string]bool{}
			for _, e := range decode(t, Shared(cfg)).Entry {
				ref := e.ref(t)
				typ := strings.Split(ref, "/")[0]
				counts[typ]++
				switch typ {
				case "Organization":
					var o organization
					mustUnmarshal(t, e.Resource, &o)
					if names[o.Name] {
						t.Errorf("two organisations named %q", o.Name)
					}
					names[o.Name] = true
					wantType := "prov"
					if o.ID == InsurerID {
						wantType = "ins"
					}
					if o.Type[0].Coding[0].Code != wantType {
						t.Errorf("%s has type %s, want %s", ref, o.Type[0].Coding[0].Code, wantType)
					}
				case "PractitionerRole":
					var r practitionerRole
					mustUnmarshal(t, e.Resource, &r)
					roles[r.Practitioner.Reference] = append(roles[r.Practitioner.Reference], r.Organization.Reference)
				}
			}
			if counts["Organization"] != n.Organizations+1 || counts["Practitioner"] != n.Practitioners {
				t.Errorf("got %d organisations and %d practitioners, want %d and %d", counts["Organization"],
					counts["Practitioner"], n.Organizations+1, n.Practitioners)
			}
			if n.Practitioners >= 2 && len(advisers) == 0 {
				t.Error("no medical adviser")
			}
			for prac, orgs := range roles {
				if advisers[prac] {
					if !slices.Equal(orgs, []string{"Organization/" + InsurerID}) {
						t.Errorf("adviser %s works for %v, want the insurer only", prac, orgs)
					}
					continue
				}
				if len(orgs) < 1 || len(orgs) > 2 || slices.Contains(orgs, "Organization/"+InsurerID) {
					t.Errorf("%s works for %v, want one or two care organisations", prac, orgs)
				}
			}
			if len(roles) != n.Practitioners {
				t.Errorf("%d practitioners have a role, want %d", len(roles), n.Practitioners)
			}
		})
	}
}

func mustUnmarshal(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// labelled reports whether meta.security carries code.
func labelled(m *meta, code string) bool {
	if m == nil {
		return false
	}
	return slices.ContainsFunc(m.Security, func(c coding) bool { return c.System == sysActCode && c.Code == code })
}

// TestSensitiveLabels checks that mental-health and HIV data carry their labels, and nothing else does.
func TestSensitiveLabels(t *testing.T) {
	t.Parallel()
	wantLabel := map[string]string{
		"35489007": "PSY", "197480006": "PSY", "44261-6": "PSY", "70274-6": "PSY", "312941": "PSY",
		"86406008": "HIV", "20447-9": "HIV", "1999667": "HIV",
		"66590003": "ETH",
	}
	seen := map[string]int{}
	type view struct {
		ResourceType              string      `json:"resourceType"`
		ID                        string      `json:"id"`
		Meta                      *meta       `json:"meta"`
		Code                      concept     `json:"code"`
		MedicationCodeableConcept concept     `json:"medicationCodeableConcept"`
		ReasonReference           []reference `json:"reasonReference"`
	}
	for i := range 200 {
		var tx struct {
			Entry []struct {
				Resource view `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(Patient(cfgA, i), &tx); err != nil {
			t.Fatal(err)
		}
		code := func(v *view) string {
			if len(v.MedicationCodeableConcept.Coding) > 0 {
				return v.MedicationCodeableConcept.Coding[0].Code
			}
			if len(v.Code.Coding) > 0 {
				return v.Code.Coding[0].Code
			}
			return ""
		}
		condLabel := map[string]string{}
		for _, e := range tx.Entry {
			if e.Resource.ResourceType == "Condition" {
				condLabel["Condition/"+e.Resource.ID] = wantLabel[code(&e.Resource)]
			}
		}
		for _, e := range tx.Entry {
			res := &e.Resource
			ref := res.ResourceType + "/" + res.ID
			want := wantLabel[code(res)]
			if res.ResourceType == "Encounter" && len(res.ReasonReference) > 0 {
				want = condLabel[res.ReasonReference[0].Reference]
			}
			for _, l := range []string{"PSY", "HIV", "ETH"} {
				if got := labelled(res.Meta, l); got != (want == l) {
					t.Errorf("%s (code %s): label %s = %v, want %v", ref, code(res), l, got, want == l)
				}
			}
			if want != "" {
				seen[want]++
			}
		}
	}
	for _, l := range []string{"PSY", "HIV"} {
		if seen[l] == 0 {
			t.Errorf("no %s-labelled resource in 200 patients", l)
		}
	}
	t.Logf("labelled resources in 200 patients: %v", seen)
}

// TestConsents checks the generated consents: PCF shape and the three kinds.
func TestConsents(t *testing.T) {
	t.Parallel()
	kinds := map[string]int{}
	for i := range 200 {
		var gp string
		for _, e := range decode(t, Patient(cfgA, i)).Entry {
			ref := e.Request.URL
			switch {
			case strings.HasPrefix(ref, "Patient/"):
				var p patient
				mustUnmarshal(t, e.Resource, &p)
				gp = p.GeneralPractitioner[0].Reference
			case strings.HasPrefix(ref, "Consent/"):
				var c consent
				mustUnmarshal(t, e.Resource, &c)
				checkPCF(t, ref, &c)
				kind := consentKind(&c)
				kinds[kind]++
				switch kind {
				case "deny-insurer", "deny-payment", "deny-payment-btg":
				case "hide-psy":
					if who := c.Provision.Provision[0].Provision[0].Actor[0].Reference.Reference; who != gp {
						t.Errorf("%s: PSY data open to %s, want the GP %s", ref, who, gp)
					}
				default:
					t.Errorf("%s: unexpected consent %s", ref, kind)
				}
			}
		}
	}
	for _, k := range []string{"deny-insurer", "deny-payment", "hide-psy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s consent in 200 patients", k)
		}
	}
	t.Logf("consents in 200 patients: %v", kinds)
}

func checkPCF(t *testing.T, ref string, c *consent) {
	t.Helper()
	if c.Status != "active" || c.Scope.Coding[0].Code != "patient-privacy" || c.Scope.Coding[0].System != sysConsentScope ||
		c.Category[0].Coding[0].System != sysLOINC || c.Category[0].Coding[0].Code != "59284-0" {
		t.Errorf("%s: status, scope or category is not PCF's", ref)
	}
	if c.Patient.Reference == "" || c.DateTime == "" || len(c.Policy) == 0 || c.PolicyRule == nil || c.Provision == nil {
		t.Errorf("%s: missing patient, dateTime, policy, policyRule or provision", ref)
		return
	}
	want := map[string]string{"permit": "OPTOUT", "deny": "OPTIN"}[c.Provision.Type]
	if want == "" || c.PolicyRule.Coding[0].Code != want {
		t.Errorf("%s: root %q under policyRule %v", ref, c.Provision.Type, c.PolicyRule.Coding)
	}
	var walk func(p *provision, parent string)
	walk = func(p *provision, parent string) {
		if p.Type == "" || p.Type == parent {
			t.Errorf("%s: a nested provision of type %q inside %q does not reverse its parent", ref, p.Type, parent)
		}
		for _, a := range p.Actor {
			if a.Role.Coding[0].Code != "IRCP" || a.Role.Coding[0].System != sysParticipation {
				t.Errorf("%s: actor role %v, want IRCP", ref, a.Role.Coding)
			}
		}
		for k := range p.Provision {
			walk(&p.Provision[k], p.Type)
		}
	}
	walk(c.Provision, "")
}

// consentKind names the consent patterns.
func consentKind(c *consent) string {
	root := c.Provision
	if root.Type == "deny" && len(root.Provision) == 1 && root.Provision[0].Type == "permit" && len(root.Provision[0].Actor) == 1 {
		return "permit-only:" + root.Provision[0].Actor[0].Reference.Reference
	}
	if root.Type != "permit" || len(root.Provision) == 0 {
		return "other"
	}
	n := root.Provision[0]
	switch {
	case n.Type == "deny" && len(n.Actor) == 1 && n.Actor[0].Reference.Reference == "Organization/"+InsurerID:
		return "deny-insurer"
	case n.Type == "deny" && len(n.Purpose) == 1 && n.Purpose[0].Code == "HPAYMT":
		if len(root.Provision) == 2 && root.Provision[1].Type == "deny" && root.Provision[1].Purpose[0].Code == "BTG" {
			return "deny-payment-btg"
		}
		return "deny-payment"
	case n.Type == "deny" && len(n.SecurityLabel) == 1 && n.SecurityLabel[0].Code == "PSY" && len(n.Provision) == 1 &&
		n.Provision[0].Type == "permit" && len(n.Provision[0].Actor) == 1:
		return "hide-psy"
	}
	return "other"
}

// TestSize generates 1,000 patients (one at a time per worker, nothing kept but the counts).
func TestSize(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 patients: skipped in -short mode")
	}
	t.Parallel()
	const n = 1000
	cfg := Config{Patients: n, Seed: 1}
	counts := make([]int, n)
	consents := make([]bool, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				tx := decodeCount(t, Patient(cfg, i))
				counts[i], consents[i] = tx.entries, tx.consents > 0
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	total, withConsent := 0, 0
	for i, c := range counts {
		total += c
		if consents[i] {
			withConsent++
		}
	}
	sorted := slices.Clone(counts)
	slices.Sort(sorted)
	t.Logf("%d patients: %d resources; per patient min %d, median %d, max %d; %d patients with consents",
		n, total, sorted[0], sorted[n/2], sorted[n-1], withConsent)
	if total < 150000 || total > 250000 {
		t.Errorf("%d resources for %d patients, want 150,000 to 250,000", total, n)
	}
	if sorted[0] < 20 || sorted[n-1] > maxResources {
		t.Errorf("per patient %d to %d resources, want about 30 to %d", sorted[0], sorted[n-1], maxResources)
	}
	if withConsent < 250 || withConsent > 350 {
		t.Errorf("%d of %d patients have consents, want about 30%%", withConsent, n)
	}
}

type entryCount struct{ entries, consents int }

// decodeCount counts the entries and consents of a bundle of this package without decoding it: every
// entry has exactly one request, written as below.
func decodeCount(t testing.TB, b []byte) entryCount {
	return entryCount{
		entries:  bytes.Count(b, []byte(`"request":{"method":"PUT","url":"`)),
		consents: bytes.Count(b, []byte(`"request":{"method":"PUT","url":"Consent/`)),
	}
}

func TestDecodeCount(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		b := Patient(cfgA, i)
		tx := decode(t, b)
		want := entryCount{entries: len(tx.Entry)}
		for _, e := range tx.Entry {
			if strings.HasPrefix(e.Request.URL, "Consent/") {
				want.consents++
			}
		}
		if got := decodeCount(t, b); got != want {
			t.Errorf("patient %d: decodeCount = %+v, decoding gives %+v", i, got, want)
		}
	}
}

func TestPatientOutOfRange(t *testing.T) {
	t.Parallel()
	for _, i := range []int{-1, 3} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Patient(cfg, %d) of 3 patients did not panic", i)
				}
			}()
			Patient(Config{Patients: 3}, i)
		})
	}
}

func BenchmarkPatient(b *testing.B) {
	cfg := Config{Patients: 1000, Seed: 1}
	size, resources := 0, 0
	for i := range 100 {
		p := Patient(cfg, i)
		size += len(p)
		resources += decodeCount(b, p).entries
	}
	b.SetBytes(int64(size / 100))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Patient(cfg, i%cfg.Patients)
		i++
	}
	b.ReportMetric(float64(resources)/100*float64(i)/b.Elapsed().Seconds(), "resources/s")
}

// TestDates checks the timeline of patients: dates in the ten years before Now, encounters in order and
// apart, everything recorded during its encounter, onsets before records and abatements.
func TestDates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{cfgA, cfgB} {
		now := cfg.normalized().Now
		from := now.AddDate(-10, 0, 0)
		for i := range 50 {
			t.Run(fmt.Sprintf("seed-%d/patient-%d", cfg.Seed, i), func(t *testing.T) {
				t.Parallel()
				var tx struct {
					Entry []struct {
						Resource struct {
							ResourceType      string     `json:"resourceType"`
							ID                string     `json:"id"`
							BirthDate         string     `json:"birthDate"`
							Period            *period    `json:"period"`
							Encounter         *reference `json:"encounter"`
							EffectiveDateTime string     `json:"effectiveDateTime"`
							Issued            string     `json:"issued"`
							OnsetDateTime     string     `json:"onsetDateTime"`
							RecordedDate      string     `json:"recordedDate"`
							AbatementDateTime string     `json:"abatementDateTime"`
							AuthoredOn        string     `json:"authoredOn"`
							DateTime          string     `json:"dateTime"`
						} `json:"resource"`
					} `json:"entry"`
				}
				if err := json.Unmarshal(Patient(cfg, i), &tx); err != nil {
					t.Fatal(err)
				}
				parse := func(ref, what, s string) time.Time {
					v, err := time.Parse(fmtDateTime, s)
					if err != nil {
						t.Fatalf("%s: %s %q: %v", ref, what, s, err)
					}
					if v.Before(from) || v.After(now) {
						t.Errorf("%s: %s %s is not in the ten years before %s", ref, what, s, now)
					}
					return v
				}
				type span struct{ start, end time.Time }
				encs := map[string]span{}
				var last time.Time
				var birth time.Time
				for _, e := range tx.Entry {
					r := e.Resource
					ref := r.ResourceType + "/" + r.ID
					switch r.ResourceType {
					case "Patient":
						birth, _ = time.Parse(fmtDate, r.BirthDate)
					case "Encounter":
						sp := span{parse(ref, "start", r.Period.Start), parse(ref, "end", r.Period.End)}
						if !sp.start.Before(sp.end) || !sp.start.After(last) || sp.start.Before(birth) {
							t.Errorf("%s: period %v follows %v, or does not follow birth %v", ref, r.Period, last, birth)
						}
						last = sp.end
						encs[ref] = sp
					}
				}
				within := func(ref, what, s string, enc *reference) {
					at := parse(ref, what, s)
					sp, ok := encs[enc.Reference]
					if !ok || at.Before(sp.start) || at.After(sp.end) {
						t.Errorf("%s: %s %s outside %s %v", ref, what, s, enc.Reference, sp)
					}
				}
				for _, e := range tx.Entry {
					r := e.Resource
					ref := r.ResourceType + "/" + r.ID
					switch r.ResourceType {
					case "Observation":
						within(ref, "effective", r.EffectiveDateTime, r.Encounter)
						if r.Issued != "" && parse(ref, "issued", r.Issued).Before(parse(ref, "effective", r.EffectiveDateTime)) {
							t.Errorf("%s: issued before effective", ref)
						}
					case "MedicationRequest":
						within(ref, "authoredOn", r.AuthoredOn, r.Encounter)
					case "Condition":
						within(ref, "recordedDate", r.RecordedDate, r.Encounter)
						onset := parse(ref, "onset", r.OnsetDateTime)
						if onset.After(parse(ref, "recordedDate", r.RecordedDate)) {
							t.Errorf("%s: onset %s after recordedDate %s", ref, r.OnsetDateTime, r.RecordedDate)
						}
						if r.AbatementDateTime != "" && !parse(ref, "abatement", r.AbatementDateTime).After(onset) {
							t.Errorf("%s: abatement %s before onset", ref, r.AbatementDateTime)
						}
					case "Consent":
						parse(ref, "dateTime", r.DateTime)
					}
				}
			})
		}
	}
}
