package population

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// demoResources returns every demo resource by Type/id.
func demoResources(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, b := range Demo() {
		for _, e := range decode(t, b).Entry {
			out[e.ref(t)] = e.Resource
		}
	}
	return out
}

func TestDemoIDs(t *testing.T) {
	t.Parallel()
	res := demoResources(t)
	for _, ref := range []string{
		"Organization/org-hopital-nord", "Organization/org-clinique-sud", "Organization/org-insurer",
		"Practitioner/prac-house", "Practitioner/prac-martin", "Practitioner/prac-adviser",
		"PractitionerRole/role-house-1", "PractitionerRole/role-martin-1", "PractitionerRole/role-adviser-1",
		"Patient/pat-alice", "Patient/pat-bob", "Patient/pat-chloe", "Patient/pat-david",
		"Consent/consent-alice-1", "Consent/consent-bob-1", "Consent/consent-chloe-1", "Consent/consent-david-1",
	} {
		t.Run(ref, func(t *testing.T) {
			if _, ok := res[ref]; !ok {
				t.Errorf("%s is not in the demo", ref)
			}
		})
	}
	for _, key := range []string{"alice", "bob", "chloe", "david"} {
		t.Run("pat-"+key+"/content", func(t *testing.T) {
			kinds := map[string]int{}
			categories := map[string]bool{}
			for ref, raw := range res {
				typ, id, _ := strings.Cut(ref, "/")
				if !strings.Contains(id, "-"+key+"-") {
					continue
				}
				kinds[typ]++
				if typ == "Observation" {
					var o observation
					mustUnmarshal(t, raw, &o)
					categories[o.Category[0].Coding[0].Code] = true
				}
			}
			if kinds["Encounter"] < 2 || kinds["Condition"] < 1 || kinds["MedicationRequest"] < 1 || kinds["Consent"] != 1 {
				t.Errorf("resources %v, want a few encounters, conditions, a medication request and a consent", kinds)
			}
			if !categories["vital-signs"] || !categories["laboratory"] {
				t.Errorf("observation categories %v, want vital signs and laboratory results", categories)
			}
		})
	}
}

func TestDemoNames(t *testing.T) {
	t.Parallel()
	res := demoResources(t)
	tests := []struct {
		ref, name string
	}{
		{"Organization/org-hopital-nord", "Hôpital Nord"},
		{"Organization/org-clinique-sud", "Clinique Sud"},
		{"Organization/org-insurer", "Assur Plus"},
		{"Practitioner/prac-house", "Gregory House"},
		{"Practitioner/prac-martin", "Claire Martin"},
		{"Practitioner/prac-adviser", "Paul Durand"},
		{"Patient/pat-alice", "Alice Dupont"},
		{"Patient/pat-bob", "Bob Leroy"},
		{"Patient/pat-chloe", "Chloé Bernard"},
		{"Patient/pat-david", "David Petit"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			var r struct {
				Name json.RawMessage `json:"name"`
			}
			mustUnmarshal(t, res[tc.ref], &r)
			var got string
			var org string
			var people []humanName
			if json.Unmarshal(r.Name, &org) == nil {
				got = org
			} else {
				mustUnmarshal(t, r.Name, &people)
				got = strings.Join(people[0].Given, " ") + " " + people[0].Family
			}
			if got != tc.name {
				t.Errorf("name %q, want %q", got, tc.name)
			}
		})
	}
	var ins organization
	mustUnmarshal(t, res["Organization/org-insurer"], &ins)
	if ins.Type[0].Coding[0].System != sysOrgType || ins.Type[0].Coding[0].Code != "ins" {
		t.Errorf("the insurer's type is %v, want organization-type ins", ins.Type[0].Coding)
	}
	roles := map[string]string{
		"PractitionerRole/role-house-1":   "Practitioner/prac-house@Organization/org-hopital-nord",
		"PractitionerRole/role-martin-1":  "Practitioner/prac-martin@Organization/org-clinique-sud",
		"PractitionerRole/role-adviser-1": "Practitioner/prac-adviser@Organization/org-insurer",
	}
	for ref, want := range roles {
		var r practitionerRole
		mustUnmarshal(t, res[ref], &r)
		if got := r.Practitioner.Reference + "@" + r.Organization.Reference; got != want {
			t.Errorf("%s: %s, want %s", ref, got, want)
		}
	}
}

// TestDemoConsents checks each demo consent against its description in the package comment.
func TestDemoConsents(t *testing.T) {
	t.Parallel()
	res := demoResources(t)
	tests := []struct {
		ref        string
		policyRule string
		want       string // the provision tree, rendered by renderProvision
	}{
		{"Consent/consent-alice-1", "OPTOUT", "permit[deny{actor=Organization/org-insurer}]"},
		{"Consent/consent-bob-1", "OPTIN", "deny[permit{actor=Practitioner/prac-martin}]"},
		{"Consent/consent-chloe-1", "OPTOUT", "permit[deny{label=PSY}[permit{actor=Practitioner/prac-house label=PSY}]]"},
		{"Consent/consent-david-1", "OPTOUT", "permit[deny{purpose=HPAYMT} deny{purpose=BTG}]"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			var c consent
			mustUnmarshal(t, res[tc.ref], &c)
			checkPCF(t, tc.ref, &c)
			if got := c.PolicyRule.Coding[0].Code; got != tc.policyRule {
				t.Errorf("policyRule %s, want %s", got, tc.policyRule)
			}
			if got := renderProvision(c.Provision); got != tc.want {
				t.Errorf("provisions %s, want %s", got, tc.want)
			}
			if want := "Patient/pat-" + strings.TrimSuffix(strings.TrimPrefix(tc.ref, "Consent/consent-"), "-1"); c.Patient.Reference != want {
				t.Errorf("patient %s, want %s", c.Patient.Reference, want)
			}
		})
	}
}

// renderProvision writes a provision tree compactly: type{elements}[nested ...].
func renderProvision(p *provision) string {
	var parts []string
	for _, a := range p.Actor {
		parts = append(parts, "actor="+a.Reference.Reference)
	}
	for _, l := range p.SecurityLabel {
		parts = append(parts, "label="+l.Code)
	}
	for _, c := range p.Purpose {
		parts = append(parts, "purpose="+c.Code)
	}
	s := p.Type
	if len(parts) > 0 {
		s += "{" + strings.Join(parts, " ") + "}"
	}
	if len(p.Provision) > 0 {
		var nested []string
		for k := range p.Provision {
			nested = append(nested, renderProvision(&p.Provision[k]))
		}
		s += "[" + strings.Join(nested, " ") + "]"
	}
	return s
}

// TestDemoLabels checks the sensitive demo data: Chloé's mental-health data and David's HIV data.
func TestDemoLabels(t *testing.T) {
	t.Parallel()
	res := demoResources(t)
	var psy, hiv, plain []string
	for ref, raw := range res {
		var r struct {
			Meta *meta `json:"meta"`
		}
		mustUnmarshal(t, raw, &r)
		switch {
		case labelled(r.Meta, "PSY"):
			psy = append(psy, ref)
		case labelled(r.Meta, "HIV"):
			hiv = append(hiv, ref)
		case strings.Contains(ref, "-chloe-") || strings.Contains(ref, "-david-"):
			plain = append(plain, ref)
		}
	}
	for _, want := range []string{"Condition/cond-chloe-1", "MedicationRequest/medreq-chloe-1", "Encounter/enc-chloe-2", "Observation/obs-chloe-12"} {
		if !slices.Contains(psy, want) {
			t.Errorf("%s is not labelled PSY (PSY: %v)", want, psy)
		}
	}
	for _, want := range []string{"Condition/cond-david-2", "MedicationRequest/medreq-david-2", "Encounter/enc-david-3"} {
		if !slices.Contains(hiv, want) {
			t.Errorf("%s is not labelled HIV (HIV: %v)", want, hiv)
		}
	}
	for _, want := range []string{"Condition/cond-chloe-2", "Encounter/enc-chloe-1", "Condition/cond-david-1"} {
		if !slices.Contains(plain, want) {
			t.Errorf("%s should carry no sensitivity label", want)
		}
	}
}

// Alice's demo bundle: every entry is an idempotent PUT of Type/id.
func ExampleDemo() {
	var tx struct {
		Entry []struct {
			Request struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(Demo()[1], &tx); err != nil {
		panic(err)
	}
	observations := 0
	for _, e := range tx.Entry {
		if strings.HasPrefix(e.Request.URL, "Observation/") {
			observations++
			continue
		}
		fmt.Println(e.Request.Method, e.Request.URL)
	}
	fmt.Println("and", observations, "observations")
	// Output:
	// PUT Patient/pat-alice
	// PUT Encounter/enc-alice-1
	// PUT Condition/cond-alice-1
	// PUT MedicationRequest/medreq-alice-1
	// PUT Encounter/enc-alice-2
	// PUT Consent/consent-alice-1
	// and 19 observations
}
