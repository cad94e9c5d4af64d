package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// jsClients are the FHIR JavaScript clients e2e/clients.mjs drives, with the versions e2e/package.json pins.
var jsClients = []struct {
	name, pkg, version string
}{
	{"fhir-kit-client", "fhir-kit-client", "2.0.3"},
	{"medplum", "@medplum/core", "4.5.2"},
	{"fhirclient", "fhirclient", "2.6.3"},
}

// jsClientsReport is what e2e/clients.mjs prints.
type jsClientsReport struct {
	Clients []struct {
		Client  string `json:"client"`
		Package string `json:"package"`
		Version string `json:"version"`
		Patient string `json:"patient"`
		MS      int    `json:"ms"`
		Steps   []struct {
			Step   string `json:"step"`
			How    string `json:"how"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
			Error  string `json:"error"`
			MS     int    `json:"ms"`
		} `json:"steps"`
	} `json:"clients"`
	Blocked []string `json:"blocked"`
}

// jsClientSteps are the workflow's steps, in order: each client must have run them all.
var jsClientSteps = []string{
	"setup", "create", "read", "vread", "conditional create", "update with If-Match", "JSON Patch", "FHIRPath Patch",
	"search paging", "_include and _revinclude", "instance history", "transaction", "batch", "delete then read",
	"$everything GET", "$everything POST", "AuditEvent references",
}

// TestJSClients runs three real FHIR JavaScript clients — fhir-kit-client, Medplum's MedplumClient and SMART's
// fhirclient (server side) — through an ordinary workflow against a --dev server with the demo data
// (e2e/clients.mjs): each creates its own Patient with the administration client, then, as Dr Martin
// (user/*.cruds, TREAT), creates, reads, vreads, creates conditionally, updates with If-Match, patches (JSON
// Patch and FHIRPath Patch), searches page by page, with _include and _revinclude, reads the history, sends a
// transaction with urn:uuid references and a batch with a failing entry, deletes, asks for $everything by GET
// and by POST; then, with the patient's own token, resolves every reference of the patient's AuditEvents.
// A failure names the client and the step.
func TestJSClients(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir := e2eDir(t)
	for _, c := range jsClients {
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(c.pkg), "package.json"))
		if err != nil {
			skipOrFail(t, "%s is not installed in e2e/node_modules (npm ci --prefix e2e): %v", c.pkg, err)
		}
		var pkg struct{ Version string }
		if err := json.Unmarshal(b, &pkg); err != nil {
			t.Fatalf("e2e/node_modules/%s/package.json: %v", c.pkg, err)
		}
		if pkg.Version != c.version {
			skipOrFail(t, "e2e/node_modules has %s %s, e2e/package.json pins %s (npm ci --prefix e2e)", c.pkg, pkg.Version, c.version)
		}
	}

	p := startServer(t, t.TempDir(), "--demo-data=true")
	// The demo data: Dr Martin, who runs the workflow and whom its AuditEvents name, is in the directory.
	for _, path := range []string{"/Patient/pat-alice", "/Practitioner/prac-martin"} {
		if code := status(t, p, p.base+path); code != 200 {
			t.Errorf("GET %s with a system token: %d, want 200: serve --dev --demo-data=true on an empty store did not load the demo data", path, code)
		}
	}

	u, _ := url.Parse(p.base)
	issuer := u.Scheme + "://" + u.Host
	admin := issueToken(t, issuer, url.Values{"grant_type": {"client_credentials"}, "client_id": {devAdminClient}, "scope": {"system/*.cruds"}})
	practitioner := issueToken(t, issuer, url.Values{"grant_type": {"client_credentials"}, "client_id": {"js-clients"},
		"scope": {"user/*.cruds"}, "fhirUser": {"Practitioner/prac-martin"}, "purpose_of_use": {"TREAT"}})
	type clientCfg struct {
		Name         string `json:"name"`
		Patient      string `json:"patient"`
		PatientToken string `json:"patientToken"`
	}
	var cfg []clientCfg
	for _, c := range jsClients {
		patient := "js-" + c.name
		cfg = append(cfg, clientCfg{Name: c.name, Patient: patient, PatientToken: issueToken(t, issuer, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {"js-clients"}, "scope": {"patient/*.rs"},
			"patient": {patient}, "fhirUser": {"Patient/" + patient}})})
	}
	clients, _ := json.Marshal(cfg)

	out := runNode(t, p, "clients.mjs", 60*time.Second, "E2E_FHIR_BASE="+p.base, "E2E_ADMIN_TOKEN="+admin,
		"E2E_PRACTITIONER_TOKEN="+practitioner, "E2E_CLIENTS="+string(clients))
	var rep jsClientsReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("the script's output is not JSON: %v\n%s", err, out)
	}
	if len(rep.Blocked) > 0 {
		t.Errorf("requests off 127.0.0.1 were attempted (and refused): %q", rep.Blocked)
	}
	for _, c := range jsClients {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range rep.Clients {
				if r.Client != c.name {
					continue
				}
				if r.Version != c.version {
					t.Errorf("%s: ran %s %s, want %s", c.name, r.Package, r.Version, c.version)
				}
				ran := map[string]bool{}
				for _, s := range r.Steps {
					ran[s.Step] = true
					if s.OK {
						detail := ""
						if s.Detail != "" {
							detail = " — " + s.Detail
						}
						t.Logf("%-24s ok %4d ms  %s%s", s.Step, s.MS, s.How, detail)
						continue
					}
					t.Errorf("%s, step %q (%s):\n%s", c.name, s.Step, s.How, s.Error)
				}
				for _, s := range jsClientSteps {
					if !ran[s] {
						t.Errorf("%s: step %q did not run", c.name, s)
					}
				}
				t.Logf("%s %s: %d steps in %d ms", r.Package, r.Version, len(r.Steps), r.MS)
				return
			}
			t.Errorf("%s: not in the report", c.name)
		})
	}
}
