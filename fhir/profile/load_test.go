package profile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/profile"
)

const national = "http://example.org/fhir/StructureDefinition/national-patient"

// mario is the folder's example Patient; edit replaces one of its elements ("" removes it).
func mario(t *testing.T, edit ...string) string {
	t.Helper()
	parts := map[string]string{
		"extension":  `"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Roma"}}]`,
		"identifier": `"identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9","value":"RSSMRA80A01H501U"}]`,
		"name":       `"name":[{"family":"Rossi","given":["Mario"]}]`,
		"gender":     `"gender":"male"`,
	}
	order := []string{"extension", "identifier", "name", "gender"}
	for i := 0; i+1 < len(edit); i += 2 {
		if _, ok := parts[edit[i]]; !ok {
			order = append(order, edit[i])
		}
		parts[edit[i]] = edit[i+1]
	}
	var b strings.Builder
	b.WriteString(`{"resourceType":"Patient"`)
	for _, k := range order {
		if parts[k] != "" {
			b.WriteString("," + parts[k])
		}
	}
	return b.String() + "}"
}

func loadNational(t *testing.T) *profile.Set {
	t.Helper()
	set, err := profile.LoadDir(filepath.Join("testdata", "national"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func bySeverity(issues []fhir.Issue, severity string) []string {
	var out []string
	for _, is := range issues {
		if is.Severity == severity {
			out = append(out, is.Expression+" | "+is.Details)
		}
	}
	return out
}

// TestDiscriminators: a handwritten national profile (testdata/national) with a slice of each kind.
func TestDiscriminators(t *testing.T) {
	t.Parallel()
	set := loadNational(t)
	if _, ok := set.Lookup(national + "|1.0.0"); !ok {
		t.Fatal("the folder's profile is not indexed by url|version")
	}
	if _, ok := set.Lookup("http://hl7.org/fhir/StructureDefinition/vitalsigns"); !ok {
		t.Fatal("the core profiles are not kept beside the folder's")
	}
	for _, tc := range []struct {
		name string
		body string
		want []string // substrings of the errors, in order
	}{
		{"conforms", mario(t), nil},
		{"value on url: the extension slice is required", mario(t, "extension", `"extension":[{"url":"http://example.org/other","valueString":"x"}]`),
			[]string{"Patient.extension | Patient.extension: slice birthPlace: minimum 1, found 0 (profile national-patient)"}},
		{"value on system: another identifier only", mario(t, "identifier", `"identifier":[{"system":"urn:other","value":"1"}]`),
			[]string{"Patient.identifier | Patient.identifier: slice NationalId: minimum 1, found 0"}},
		{"a slice's child required", mario(t, "identifier", `"identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9"}]`),
			[]string{"Patient.identifier[0].value | Patient.identifier:NationalId.value: minimum 1, found 0"}},
		{"pattern on $this: two emails", mario(t, "telecom", `"telecom":[{"system":"email","value":"a@b.it"},{"system":"phone","value":"1"},{"system":"email","value":"c@d.it"}]`),
			[]string{"Patient.telecom | Patient.telecom: slice email: maximum 1, found 2"}},
		{"exists, closed: every address has a postal code", mario(t, "address", `"address":[{"postalCode":"00100"},{"city":"Roma"}]`),
			[]string{"Patient.address[1] | Patient.address: the value matches no slice, and the slicing is closed"}},
		{"cardinality (and the invariant on the name)", mario(t, "name", ""),
			[]string{"Patient | Patient: constraint nat-1 failed", "Patient.name | Patient.name: minimum 1, found 0"}},
		{"a required binding to a folder value set", mario(t, "gender", `"gender":"other"`),
			[]string{"Patient.gender | Patient.gender: the code is not in the value set http://example.org/fhir/ValueSet/national-genders"}},
		{"the profile's invariant", mario(t, "name", `"name":[{"given":["Mario"]}]`),
			[]string{"Patient | Patient: constraint nat-1 failed: a family name is given"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bySeverity(validate(t, set, national, tc.body), "error")
			if len(got) != len(tc.want) {
				t.Fatalf("errors\n  %s\nwant %d:\n  %s", strings.Join(got, "\n  "), len(tc.want), strings.Join(tc.want, "\n  "))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("error %d\n  %s\nwant it to contain\n  %s", i, got[i], w)
				}
			}
		})
	}

	t.Run("what cannot be checked is said, never refused", func(t *testing.T) {
		t.Parallel()
		issues := validate(t, set, national, mario(t, "contact", `"contact":[{"name":{"family":"Rossi"}}]`,
			"maritalStatus", `"maritalStatus":{"coding":[{"system":"http://example.org","code":"x"}]}`))
		if errs := bySeverity(issues, "error"); len(errs) > 0 {
			t.Errorf("errors %v, want none", errs)
		}
		for _, want := range []struct{ severity, text string }{
			{"information", "Patient.contact: slice guardian: its discriminator cannot be evaluated here"},
			{"information", "the value set http://example.org/fhir/ValueSet/elsewhere cannot be expanded here"},
			{"warning", "Patient: constraint nat-2 does not compile and is not checked"},
		} {
			found := false
			for _, s := range bySeverity(issues, want.severity) {
				found = found || strings.Contains(s, want.text)
			}
			if !found {
				t.Errorf("no %s issue %q in %v", want.severity, want.text, issues)
			}
		}
	})
}

// TestLoadDirRefuses: a folder the server cannot enforce is refused at start, naming the file.
func TestLoadDirRefuses(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("testdata", "national", "StructureDefinition-national-patient.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no snapshot", `{"resourceType":"StructureDefinition","url":"http://x/p","type":"Patient","derivation":"constraint",` +
			`"baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","differential":{"element":[{"path":"Patient.name","min":1}]}}`,
			"broken.json: the profile http://x/p has no snapshot"},
		{"an unknown base", strings.Replace(string(good), `"baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient"`,
			`"baseDefinition": "http://example.org/fhir/StructureDefinition/regional-patient"`, 1),
			`broken.json: the baseDefinition "http://example.org/fhir/StructureDefinition/regional-patient"`},
		{"a malformed element", strings.Replace(string(good), `"max": "1"`, `"max": "one"`, 1), `broken.json: snapshot element`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := profile.LoadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadDir: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("not a folder", func(t *testing.T) {
		t.Parallel()
		if _, err := profile.LoadDir(filepath.Join(t.TempDir(), "absent")); err == nil {
			t.Fatal("LoadDir of an absent folder succeeded")
		}
	})
}
