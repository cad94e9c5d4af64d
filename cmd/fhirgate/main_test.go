package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesBadStarts: a bad flag, a missing issuer, an unusable store each exit non-zero with one
// clear line.
func TestServeRefusesBadStarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	writeFile(t, file, []byte("x"))
	broken := t.TempDir() // an implementation guide's folder with a profile that has no snapshot
	if err := os.WriteFile(filepath.Join(broken, "StructureDefinition-p.json"), []byte(`{"resourceType":"StructureDefinition","url":"http://x/p",`+
		`"type":"Patient","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no issuer and no --dev", []string{"serve"}, 2, "--issuer is required"},
		{"bad max body", []string{"serve", "--dev", "--max-body", "lots"}, 2, "max-body"},
		{"no cache", []string{"serve", "--dev", "--cache-size", "0"}, 2, "cache-size"},
		{"unknown flag", []string{"serve", "--frobnicate"}, 2, "frobnicate"},
		{"bad base URL", []string{"serve", "--dev", "--base-url", "fhir"}, 2, "--base-url"},
		{"bad store scheme", []string{"serve", "--dev", "--store", "ftp://x"}, 2, "--store"},
		{"store is a file", []string{"serve", "--dev", "--store", "file:" + file, "--addr", "127.0.0.1:0"}, 1, "not-a-dir"},
		{"unknown command", []string{"frob"}, 2, "unknown command"},
		{"unreachable issuer", []string{"serve", "--issuer", "http://127.0.0.1:1/realms/x", "--store", "file:" + filepath.Join(t.TempDir(), "d"), "--addr", "127.0.0.1:0"}, 1, "--issuer"},
		{"bad env value", []string{"serve", "--dev"}, 2, "FHIRGATE_MAX_BODY"},
		{"--dev on every interface", []string{"serve", "--dev", "--addr", ":8080"}, 2, "--dev-allow-remote"},
		{"--dev on another address", []string{"serve", "--dev", "--addr", "192.0.2.1:8080"}, 2, "--dev-allow-remote"},
		{"--dev named by another host", []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--base-url", "https://fhir.example.org/fhir"}, 2, "--dev-allow-remote"},
		{"--dev remote allowed, other mistakes still caught", []string{"serve", "--dev", "--dev-allow-remote", "--addr", ":0", "--max-json-depth", "3"}, 2, "--max-json-depth"},
		{"write timeout shorter than the request's", []string{"serve", "--dev", "--request-timeout", "1m", "--write-timeout", "30s"}, 2, "--write-timeout"},
		{"negative rate", []string{"serve", "--dev", "--rate-limit", "-1"}, 2, "--rate-limit"},
		{"a broken profile", []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--profiles", broken}, 1, "StructureDefinition-p.json: the profile http://x/p has no snapshot"},
		{"no profile folder", []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--profiles", file}, 1, "--profiles"},
		{"tiny header limit", []string{"serve", "--dev", "--max-header", "100B"}, 2, "--max-header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "bad env value" {
				t.Setenv("FHIRGATE_MAX_BODY", "huge")
			}
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errb.String(), tc.want)
			}
		})
	}
}

func TestBadFlagIsOneLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if lines := strings.Count(strings.TrimSpace(errb.String()), "\n") + 1; lines != 1 {
		t.Fatalf("%d lines on stderr: %q", lines, errb.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-max-body") {
		t.Fatalf("serve -h: exit %d, %q", code, errb.String())
	}
}

// TestDevAdminAndAuditor: a development server loads its demo population through the administration
// client's path, prints a ready-to-paste command for that client and for the auditor, and `fhirgate token
// --client` gives tokens that are what they say: the auditor reads the trail and an ordinary client with
// the same scope does not; the administration client writes the directory and a practitioner does not.
func TestDevAdminAndAuditor(t *testing.T) {
	addr := freeAddr(t)
	server := "http://" + addr
	p := launch(t, addr, "serve", "--dev", "--store", "file:"+t.TempDir(), "--addr", addr, "--base-url", server+"/fhir")
	for _, want := range []string{"--client " + devAdminClient + " --scope 'system/*.cruds'", "--client " + devAuditorClient + " --scope 'system/AuditEvent.rs'"} {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.logs.String(), want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(p.logs.String(), want) {
			t.Fatalf("the start banner has no command with %q:\n%s", want, p.logs)
		}
	}
	token := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := run(append([]string{"token", "--server", server}, args...), &out, &errb); code != 0 {
			t.Fatalf("token %v: exit %d: %s", args, code, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	status := func(method, path, tok, body string) int {
		t.Helper()
		return call(t, method, server+"/fhir"+path, tok, body).status
	}
	auditor := token("--client", devAuditorClient, "--scope", "system/AuditEvent.rs")
	admin := token("--client", devAdminClient, "--scope", "system/*.cruds")
	if got := status("GET", "/Patient/pat-alice", admin, ""); got != 200 {
		t.Fatalf("the demo population is not there for the administration client: %d", got)
	}
	if got := status("GET", "/AuditEvent?_count=1", auditor, ""); got != 200 {
		t.Fatalf("the auditor reads the trail: %d", got)
	}
	if got := status("GET", "/AuditEvent?_count=1", token("--scope", "system/AuditEvent.rs"), ""); got != 403 {
		t.Fatalf("an ordinary client reads the trail: %d", got)
	}
	role := `{"resourceType":"PractitionerRole","active":true,"practitioner":{"reference":"Practitioner/prac-martin"},"organization":{"reference":"Organization/org-insurer"}}`
	if got := status("POST", "/PractitionerRole", token("--scope", "user/*.cruds", "--fhir-user", "Practitioner/prac-martin"), role); got != 403 {
		t.Fatalf("a practitioner writes the directory: %d", got)
	}
	if got := status("POST", "/PractitionerRole", admin, role); got != 201 {
		t.Fatalf("the administration client writes the directory: %d", got)
	}
}

// TestDevRemoteWarnsAndProfilesHideTheCommandLine: --dev-allow-remote lets a development server listen on
// every interface, and says so loudly; --debug-addr serves profiles, not the command line (which may hold
// a store URL with its password).
func TestDevRemoteWarnsAndProfilesHideTheCommandLine(t *testing.T) {
	addr, debug := freeAddr(t), freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := launch(t, addr, "serve", "--dev", "--dev-allow-remote", "--demo-data=false", "--store", "file:"+t.TempDir(),
		"--addr", "0.0.0.0:"+port, "--base-url", "http://"+addr+"/fhir", "--debug-addr", debug)
	if !strings.Contains(p.logs.String(), "REACHABLE FROM OTHER MACHINES") {
		t.Fatalf("no warning of a development server reachable from elsewhere:\n%s", p.logs)
	}
	for path, want := range map[string]int{"/debug/pprof/heap": 200, "/debug/pprof/cmdline": 404} {
		resp, err := http.Get("http://" + debug + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if strings.Contains(string(body), "file:") {
			t.Fatalf("GET %s shows the command line: %s", path, body)
		}
	}
}

// writeFile writes a test's input file, failing the test when it cannot.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustUnmarshal decodes JSON into v, failing the test when it cannot.
func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("not the JSON expected: %v: %s", err, b)
	}
}

// --min-procs raises GOMAXPROCS, never lowers it, and 0 leaves it alone.
func TestTuneProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if from, to := tuneProcs(4); from != 1 || to != 4 || runtime.GOMAXPROCS(0) != 4 {
		t.Fatalf("from 1 with --min-procs 4: %d -> %d (GOMAXPROCS %d)", from, to, runtime.GOMAXPROCS(0))
	}
	if from, to := tuneProcs(2); from != 4 || to != 4 || runtime.GOMAXPROCS(0) != 4 {
		t.Fatalf("from 4 with --min-procs 2: %d -> %d", from, to)
	}
	runtime.GOMAXPROCS(1)
	if from, to := tuneProcs(0); from != 1 || to != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("--min-procs 0 changed GOMAXPROCS: %d -> %d", from, to)
	}
}
