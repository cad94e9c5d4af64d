package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/internal/sharedtest"
)

// TestImportSynthea loads the 50 Synthea patient bundles and the two provider bundles with
// `fhirgate import` and checks that every entry was stored.
func TestImportSynthea(t *testing.T) {
	dir := sharedtest.Path(t, "synthea")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 52 {
		t.Fatalf("expected 52 Synthea files, found %d", len(files))
	}
	entries := 0
	for _, f := range files {
		var b struct {
			Entry []json.RawMessage `json:"entry"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mustUnmarshal(t, raw, &b)
		entries += len(b.Entry)
	}
	data := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"import", "--store", "file:" + data, dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("import exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
	if !strings.Contains(stdout.String(), "imported 15547 resources from 52 files") || !strings.Contains(stdout.String(), "; 0 rejected") {
		t.Fatalf("summary: %s (expected %d resources)", stdout.String(), entries)
	}
	st, err := embedded.Open(embedded.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.History(context.Background(), store.HistoryQuery{})
	if err != nil || len(all) != entries {
		t.Fatalf("store holds %d versions (%v), want %d", len(all), err, entries)
	}
	// References between entries were rewritten from urn:uuid: to the new ids, and resolve.
	obs, _ := st.History(context.Background(), store.HistoryQuery{Type: "Observation", Limit: 50})
	for _, v := range obs {
		var o struct {
			Subject struct{ Reference string } `json:"subject"`
		}
		mustUnmarshal(t, v.Body, &o)
		typ, id, ok := strings.Cut(o.Subject.Reference, "/")
		if !ok || typ != "Patient" {
			t.Fatalf("Observation/%s subject %q was not rewritten", v.ID, o.Subject.Reference)
		}
		if _, err := st.Read(context.Background(), typ, id); err != nil {
			t.Fatalf("Observation/%s subject %s does not resolve: %v", v.ID, o.Subject.Reference, err)
		}
	}
}

// TestImportInvalidTransactionLeavesNothing imports a Synthea transaction whose entries have been given
// known ids, with one invalid entry: the import reports the entry, the element and the reason, and none
// of the other entries' targets exist afterwards. A valid file beside it is still loaded.
func TestImportInvalidTransactionLeavesNothing(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedtest.Path(t, "synthea"), "*.json"))
	var src string
	for _, f := range files {
		if !strings.Contains(f, "Information") {
			src = f
			break
		}
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var bundle map[string]any
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	entries := bundle["entry"].([]any)
	var refs []string
	bad := -1
	for i, e := range entries {
		e := e.(map[string]any)
		res := e["resource"].(map[string]any)
		typ, id := res["resourceType"].(string), res["id"].(string)
		e["request"] = map[string]any{"method": "PUT", "url": typ + "/" + id}
		refs = append(refs, typ+"/"+id)
		if bad < 0 && typ == "Observation" && i > len(entries)/2 {
			res["status"] = "finished-ish" // not an observation-status code
			bad = i
		}
	}
	if bad < 0 {
		t.Fatal("no Observation in the second half of the bundle")
	}
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.json")
	b, _ := json.Marshal(bundle)
	writeFile(t, badFile, b)
	goodFile := filepath.Join(dir, "good.ndjson")
	writeFile(t, goodFile, []byte(`{"resourceType":"Patient","id":"still-loaded","gender":"female"}`+"\n"))

	data := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"import", "--store", "file:" + data, badFile, goodFile}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("import exit %d, want 1 (something rejected)\n%s\n%s", code, stdout.String(), stderr.String())
	}
	wantReport := "rejected " + badFile + ": Bundle.entry[" + itoa(bad) + "].resource.status:"
	if !strings.Contains(stderr.String(), wantReport) {
		t.Fatalf("report %q does not name the entry and element (%s)", stderr.String(), wantReport)
	}
	st, err := embedded.Open(embedded.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, ref := range refs {
		typ, id, _ := strings.Cut(ref, "/")
		if _, err := st.Read(context.Background(), typ, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s exists after a failed transaction (%v)", ref, err)
		}
	}
	if _, err := st.Read(context.Background(), "Patient", "still-loaded"); err != nil {
		t.Fatalf("the valid file was not loaded: %v", err)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
