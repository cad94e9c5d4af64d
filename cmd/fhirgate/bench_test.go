package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchReport is the part of bench run --json the test reads.
type benchReport struct {
	Requests, OK, Errors int
	Status               map[string]int
	Resources            int
}

func benchJSON(t *testing.T, args ...string) benchReport {
	t.Helper()
	cmd := exec.Command(fhirgateBinary(t), append([]string{"bench", "run", "--json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench run %v: %v\n%s", args, err, errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench run --json printed %q: %v", out.String(), err)
	}
	return rep
}

// benchCohort reads Group/bench-cohort and returns its members' references.
func benchCohort(t *testing.T, p *process) []string {
	t.Helper()
	resp, err := p.client(10 * time.Second).Get(p.base + "/Group/bench-cohort")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g struct {
		Type   string
		Actual bool
		Member []struct {
			Entity struct{ Reference string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil || resp.StatusCode != 200 || g.Type != "person" || !g.Actual {
		t.Fatalf("Group/bench-cohort: %d %+v %v", resp.StatusCode, g, err)
	}
	var refs []string
	for _, m := range g.Member {
		refs = append(refs, m.Entity.Reference)
	}
	return refs
}

// TestBench: populate a real server through its API with a token from a command, then run each
// workload against it; without a token every request is refused and counted as an error.
func TestBench(t *testing.T) {
	p := startServer(t, filepath.Join(t.TempDir(), "data"))
	server := strings.TrimSuffix(p.base, "/fhir")
	tokenCmd := fmt.Sprintf("%s token --server %s --client %s --scope 'system/*.cruds'", fhirgateBinary(t), server, devAdminClient)
	var out, errb bytes.Buffer
	code := run([]string{"bench", "populate", "--server", p.base, "--patients", "4", "--seed", "5", "--token-cmd", tokenCmd}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "loaded 4 patients (seed 5): 6 bundles") {
		t.Fatalf("populate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	// The cohort Group lists the 4 patients, and exports as a Group.
	cohort := benchCohort(t, p)
	if len(cohort) != 4 || cohort[0] != "Patient/pat-000000" || cohort[3] != "Patient/pat-000003" {
		t.Fatalf("Group/bench-cohort members %v", cohort)
	}
	exportOut := filepath.Join(t.TempDir(), "cohort")
	if code := run([]string{"export", "--server", p.base, "--group", "bench-cohort", "--type", "Patient", "--out", exportOut,
		"--token-cmd", strings.Replace(tokenCmd, devAdminClient, "bench-export", 1)}, &out, &errb); code != 0 {
		t.Fatalf("export of the cohort: exit %d\n%s", code, errb.String())
	}
	if m := readManifest(t, exportOut); len(m.Output) != 1 || m.Output[0].Count != 4 {
		t.Fatalf("export of the cohort: %+v, want the 4 patients", m.Output)
	}
	// What populate loaded is the generated population: the patient reads back with its generated name.
	req, _ := http.NewRequest("GET", p.base+"/Patient/pat-000003", nil)
	resp, err := p.client(0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"family"`) {
		t.Fatalf("Patient/pat-000003: %d %s", resp.StatusCode, body)
	}

	for _, w := range []string{"read", "search", "create", "mixed", "transaction"} {
		n := "40"
		if w == "transaction" {
			n = "2"
		}
		rep := benchJSON(t, "--server", p.base, "--patients", "4", "--seed", "5", "--workload", w, "--connections", "4",
			"--duration", "20s", "--requests", n, "--token-cmd", tokenCmd)
		if rep.Errors != 0 || rep.OK != rep.Requests || fmt.Sprint(rep.Requests) != n {
			t.Fatalf("%s: %+v, want %s requests and no error", w, rep, n)
		}
		if w == "transaction" && rep.Resources < 80 {
			t.Fatalf("transaction: %d resources for 2 patients", rep.Resources)
		}
	}
	rep := benchJSON(t, "--server", p.base, "--patients", "4", "--workload", "read", "--connections", "2", "--duration", "20s", "--requests", "10")
	if rep.OK != 0 || rep.Errors != 10 || rep.Status["401"] != 10 {
		t.Fatalf("without a token: %+v, want 10 errors, all 401", rep)
	}

	errb.Reset()
	if code := run([]string{"bench", "run", "--server", p.base, "--connections", "5000"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--connections") {
		t.Fatalf("5000 connections: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"bench", "run", "--workload", "delete"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--workload") {
		t.Fatalf("unknown workload: exit %d, %q", code, errb.String())
	}
}
