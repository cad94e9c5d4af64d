package rest_test

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"fhirgate/fhir/rest"
)

// A resumed export keeps its kick-off's parameters: the patient list is paged like a group's members,
// and the filters and elements, which are compiled again, apply to the patients exported after the
// restart as to those before it.

// TestExportResumeKeepsParameters: a POST export of five listed patients, filtered and subsetted, stops
// in its second page; the restarted process writes exactly what one uninterrupted run would have.
func TestExportResumeKeepsParameters(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 2, MaxPerFile: 5})
	x := newExportEnv(t, cfg)
	x.addPatients(t, 7)
	for _, p := range []string{"p1", "p6", "p7"} {
		x.Put(t, heartRate(p+"-hr", "Patient/"+p))
	}
	body := parameters(
		"_type", "valueString", `"Patient,Observation"`,
		"_typeFilter", "valueString", `"Observation?code=http://loinc.org|8867-4"`,
		"_elements", "valueString", `"Patient.gender"`,
		"patient", "valueReference", `{"reference":"Patient/p7"}`,
		"patient", "valueReference", `{"reference":"Patient/p2"}`,
		"patient", "valueReference", `{"reference":"Patient/p6"}`,
		"patient", "valueReference", `{"reference":"Patient/p1"}`,
		"patient", "valueReference", `{"reference":"Patient/p5"}`,
	)
	g := stopGuard{at: "Patient/p6", reached: make(chan struct{})}
	resp, err := x.Service.Do(context.Background(), g, postKickoff("Patient", "", "client-a", body))
	if err != nil {
		t.Fatal(err)
	}
	job := jobOf(t, resp)
	<-g.reached // p1 and p2 stored (one page), p5 read
	if err := x.exports.Close(); err != nil {
		t.Fatal(err)
	}
	x.second(t, cfg).Wait() // the restart
	m := x.finished(t, x.Guard, job, "client-a")
	got := x.download(t, x.Guard, "client-a", m)
	if want := []string{"Patient/p1", "Patient/p2", "Patient/p5", "Patient/p6", "Patient/p7"}; !slices.Equal(got["Patient"], want) {
		t.Errorf("patients %v, want %v", got["Patient"], want)
	}
	if want := []string{"Observation/p1-hr", "Observation/p6-hr", "Observation/p7-hr"}; !slices.Equal(got["Observation"], want) {
		t.Errorf("observations %v, want only those the filter matches: %v", got["Observation"], want)
	}
	for _, r := range x.fileLines(t, "client-a", m)["Patient"] {
		if _, ok := r["name"]; ok || r["gender"] == nil {
			t.Errorf("Patient/%v: %v, want only its gender", r["id"], r)
		}
	}
}

// TestExportResumeProvenanceOnce: associated Provenance written before a restart is not written again by
// the resumed job, when a later patient's resources lead to it too.
func TestExportResumeProvenanceOnce(t *testing.T) {
	t.Parallel()
	cfg := resumable(rest.ExportConfig{PageSize: 2, MaxPerFile: 5})
	x := newExportEnv(t, cfg)
	x.addPatients(t, 7)
	x.Put(t, provenance("prov-both", "2024-03-01T00:00:00Z", "Observation/p1-o1", "Observation/p6-o1"))
	x.Put(t, provenance("prov-p7", "2024-03-01T00:00:00Z", "Observation/p7-o2"))
	g := stopGuard{at: "Patient/p6", reached: make(chan struct{})}
	resp, err := x.Service.Do(context.Background(), g, kickoff("Patient", "", "client-a",
		url.Values{"_type": {"Patient,Observation"}, "includeAssociatedData": {"RelevantProvenanceResources"}}))
	if err != nil {
		t.Fatal(err)
	}
	job := jobOf(t, resp)
	<-g.reached // p1 to p4 stored (two pages), Provenance/prov-both with p1
	if err := x.exports.Close(); err != nil {
		t.Fatal(err)
	}
	x.second(t, cfg).Wait() // the restart
	m := x.finished(t, x.Guard, job, "client-a")
	got := x.download(t, x.Guard, "client-a", m)
	wantEachOnce(t, got, 7)
	if want := []string{"Provenance/prov-both", "Provenance/prov-p7"}; !slices.Equal(got["Provenance"], want) {
		t.Errorf("provenance %v, want each once: %v", got["Provenance"], want)
	}
}
