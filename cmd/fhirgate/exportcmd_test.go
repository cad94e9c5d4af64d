package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand: fhirgate export against a real `serve --dev`, with a system token from a command:
// the files and manifest.json land in --out with the counts the manifest gives; a refused or impossible
// export exits non-zero with the server's reason.
func TestExportCommand(t *testing.T) {
	p := startServer(t, t.TempDir(), "--demo-data=true")
	server := strings.TrimSuffix(p.base, "/fhir")
	tokenCmd := func(client, scope string) string {
		return fmt.Sprintf("%s token --server %s --client %s --scope '%s'", fhirgateBinary(t), server, client, scope)
	}
	system := tokenCmd("bulk-cli", "system/*.rs")
	admin := issueToken(t, server, url.Values{"grant_type": {"client_credentials"}, "client_id": {devAdminClient}, "scope": {"system/*.cruds"}})
	// The Group's members are two patients the administrator may see (a demo patient's Consent may
	// refuse it, which hides them).
	req, _ := http.NewRequest(http.MethodGet, p.base+"/Patient?_count=2&_elements=id", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var found struct {
		Entry []struct {
			Resource struct{ ID string } `json:"resource"`
		} `json:"entry"`
	}
	err = json.NewDecoder(resp.Body).Decode(&found)
	resp.Body.Close()
	if err != nil || len(found.Entry) != 2 {
		t.Fatalf("patients: %v %v", found, err)
	}
	group := `{"resourceType":"Group","id":"cli-cohort","type":"person","actual":true,"member":[` +
		`{"entity":{"reference":"Patient/` + found.Entry[0].Resource.ID + `"}},{"entity":{"reference":"Patient/` + found.Entry[1].Resource.ID + `"}}]}`
	req, _ = http.NewRequest(http.MethodPut, p.base+"/Group/cli-cohort", strings.NewReader(group))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("Group: %d %s", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		name  string
		args  []string
		types []string // the types the files must hold, all of them
		empty bool
	}{
		{"system, some types", []string{"--system", "--type", "Patient,Observation"}, []string{"Patient", "Observation"}, false},
		{"group", []string{"--group", "cli-cohort", "--type", "Patient"}, []string{"Patient"}, false},
		{"patient level, nothing since", []string{"--patient-level", "--since", "2999-01-01T00:00:00Z"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "export")
			var stdout, stderr bytes.Buffer
			args := append([]string{"export", "--server", p.base, "--out", out, "--token-cmd", system}, tc.args...)
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "exported ") {
				t.Errorf("stdout %q", stdout.String())
			}
			m := readManifest(t, out)
			if tc.empty != (len(m.Output) == 0) {
				t.Fatalf("%d files, empty %v", len(m.Output), tc.empty)
			}
			seen := map[string]bool{}
			for _, f := range m.Output {
				seen[f.Type] = true
				lines := ndjsonLines(t, filepath.Join(out, f.File))
				if len(lines) != f.Count {
					t.Errorf("%s: %d lines, count %d", f.File, len(lines), f.Count)
				}
				for _, l := range lines {
					var r struct{ ResourceType string }
					if err := json.Unmarshal(l, &r); err != nil || r.ResourceType != f.Type {
						t.Errorf("%s: a %q line", f.File, r.ResourceType)
					}
				}
			}
			for _, typ := range tc.types {
				if !seen[typ] {
					t.Errorf("no %s file: %+v", typ, m.Output)
				}
			}
			if len(seen) != len(tc.types) {
				t.Errorf("types %v, want %v", seen, tc.types)
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"an unknown group", []string{"--group", "no-such-group", "--token-cmd", system}, 1, "404"},
		{"a patient's token", []string{"--token-cmd", tokenCmd("bulk-cli", "patient/*.rs") + " --patient pat-alice"}, 1, "403"},
		{"a token command that fails", []string{"--token-cmd", "false"}, 1, "token command"},
		{"no token", []string{"--system"}, 1, "401"},
		{"an unknown type", []string{"--type", "Nonsense", "--token-cmd", system}, 2, "--type"},
		{"two levels", []string{"--group", "g", "--system", "--token-cmd", system}, 2, "exclude"},
		{"a bad since", []string{"--since", "yesterday", "--token-cmd", system}, 2, "--since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"export", "--server", p.base, "--out", t.TempDir()}, tc.args...)
			code := run(args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d %q, want %d and %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export", "--server", p.base, "--token-cmd", system}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--out") {
		t.Errorf("no --out: exit %d %q", code, stderr.String())
	}
}

type cliManifest struct {
	TransactionTime string `json:"transactionTime"`
	Output          []struct {
		Type  string `json:"type"`
		Count int    `json:"count"`
		File  string `json:"file"`
	} `json:"output"`
}

func readManifest(t *testing.T, dir string) cliManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m cliManifest
	if err := json.Unmarshal(b, &m); err != nil || m.TransactionTime == "" {
		t.Fatalf("manifest.json %s: %v", b, err)
	}
	return m
}

func ndjsonLines(t *testing.T, file string) [][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}
