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

// TestBench: populate a real server through its API with a token from a command, then run each
// workload against it; without a token every request is refused and counted as an error.
func TestBench(t *testing.T) {
	p := startServer(t, filepath.Join(t.TempDir(), "data"))
	server := strings.TrimSuffix(p.base, "/fhir")
	tokenCmd := fmt.Sprintf("%s token --server %s --client %s --scope 'system/*.cruds'", fhirgateBinary(t), server, devAdminClient)
	var out, errb bytes.Buffer
	code := run([]string{"bench", "populate", "--server", p.base, "--patients", "4", "--seed", "5", "--token-cmd", tokenCmd}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "loaded 4 patients (seed 5): 5 bundles") {
		t.Fatalf("populate: exit %d\n%s%s", code, out.String(), errb.String())
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
