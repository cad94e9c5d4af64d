package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fhirclientResult is what e2e/fhirclient-launch.mjs prints: what the app showed for each launch.
type fhirclientResult struct {
	PatientID           string   `json:"patientId"`
	EncounterID         string   `json:"encounterId"`
	HasRefreshToken     bool     `json:"hasRefreshToken"`
	ExpiresIn           int      `json:"expiresIn"`
	NeedPatientBanner   *bool    `json:"needPatientBanner"`
	PatientFamily       string   `json:"patientFamily"`
	Refreshed           bool     `json:"refreshed"`
	RefreshTokenRotated bool     `json:"refreshTokenRotated"`
	TokenGrants         []string `json:"tokenGrants"`
}

// TestFhirclientLaunch runs fhirclient (the SMART JS client) in headless Chromium against fhirgate
// serve --dev: a standalone launch with offline_access gets a refresh token and, its access token
// lasting 5 seconds, fhirclient refreshes it before reading the patient (a token that expires within
// 10 seconds is refreshed first: no waiting); then an EHR launch made by fhirgate launch gets its
// patient and encounter.
func TestFhirclientLaunch(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		skipOrFail(t, "%s is missing (apt-get install chromium)", chromiumPath)
	}
	dir := e2eDir(t)
	bundle := filepath.Join(dir, "node_modules", "fhirclient", "build", "fhir-client.js")
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("fhirclient's browser build: %v", err)
	}
	p := startServer(t, t.TempDir(), "--demo-data=true", "--dev-token-lifetime", "5s")
	server := strings.TrimSuffix(p.base, "/fhir")

	files := http.FileServer(http.Dir(filepath.Join(dir, "fhirclient-app")))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/fhir-client.js" {
			http.ServeFile(w, r, bundle)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer app.Close()

	var out, errOut bytes.Buffer
	if code := run([]string{"launch", "--server", server, "--patient", "pat-alice", "--encounter", "enc-e2e",
		"--app", app.URL + "/launch.html"}, &out, &errOut); code != 0 {
		t.Fatalf("fhirgate launch: %d %s", code, errOut.String())
	}
	ehrURL := strings.TrimSpace(out.String())

	ctx, cancel := context.WithTimeout(context.Background(), 58*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "fhirclient-launch.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "E2E_APP_URL="+app.URL+"/", "E2E_FHIR_BASE="+p.base, "E2E_EHR_LAUNCH_URL="+ehrURL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node e2e/fhirclient-launch.mjs: %v\nstderr:\n%s\nstdout:\n%s\nserver log:\n%s", err, stderr.String(), stdout.String(), p.logs)
	}
	t.Logf("result:\n%s", stdout.String())
	var res struct{ Standalone, EHR fhirclientResult }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("the script's output is not JSON: %v\n%s", err, stdout.String())
	}
	s := res.Standalone
	if s.PatientID != "pat-alice" || s.PatientFamily != "Dupont" {
		t.Errorf("standalone: patient %q (%q), want pat-alice (Dupont)", s.PatientID, s.PatientFamily)
	}
	if !s.HasRefreshToken || s.ExpiresIn != 5 {
		t.Errorf("standalone: refresh token %v, expires_in %d; want a refresh token and 5", s.HasRefreshToken, s.ExpiresIn)
	}
	if !s.Refreshed || !s.RefreshTokenRotated || strings.Join(s.TokenGrants, ",") != "authorization_code,refresh_token" {
		t.Errorf("standalone: refreshed %v, rotated %v, grants %v; want the token refreshed once, the refresh token rotated",
			s.Refreshed, s.RefreshTokenRotated, s.TokenGrants)
	}
	e := res.EHR
	if e.PatientID != "pat-alice" || e.EncounterID != "enc-e2e" || e.PatientFamily != "Dupont" {
		t.Errorf("EHR launch: patient %q encounter %q (%q), want pat-alice (Dupont) and enc-e2e", e.PatientID, e.EncounterID, e.PatientFamily)
	}
	if e.NeedPatientBanner == nil || !*e.NeedPatientBanner || e.HasRefreshToken {
		t.Errorf("EHR launch: need_patient_banner %v, refresh token %v; want true and none (no offline_access)", e.NeedPatientBanner, e.HasRefreshToken)
	}
}
