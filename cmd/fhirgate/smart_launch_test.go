package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium (apt-get install chromium); Playwright's own browsers are not used.
const chromiumPath = "/usr/bin/chromium"

// launchResult is what e2e/smart-launch.mjs prints.
type launchResult struct {
	PatientName      string         `json:"patientName"`
	PatientID        string         `json:"patientId"`
	OtherStatus      int            `json:"otherStatus"`
	Scopes           []string       `json:"scopes"`
	AuthorizeRequest map[string]any `json:"authorizeRequest"`
	PKCE             struct {
		VerifierLength           int  `json:"verifierLength"`
		ChallengeMatchesVerifier bool `json:"challengeMatchesVerifier"`
	} `json:"pkce"`
	Exchange struct {
		Status int `json:"status"`
	} `json:"exchange"`
	TokenInStorage   bool       `json:"tokenInStorage"`
	CodeInAddressBar bool       `json:"codeInAddressBar"`
	Replay           oauthReply `json:"replay"`
	WrongVerifier    struct {
		oauthReply
		AppState string `json:"appState"`
		AppError string `json:"appError"`
	} `json:"wrongVerifier"`
	Screenshots []string `json:"screenshots"`
}

type oauthReply struct {
	Status      int    `json:"status"`
	Error       string `json:"error"`
	Description string `json:"description"`
}

// skipOrFail skips the test when a tool it needs is missing, except in CI (CI=true), where it fails:
// CI must install what this test needs (.ci/run).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: this test must run in CI)", args...)
	}
	t.Skipf(format, args...)
}

// e2eDir returns the e2e/ directory with its node modules installed (npm ci when they are missing).
func e2eDir(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "e2e")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipOrFail(t, "npm is not installed, so e2e/node_modules cannot be installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--prefix", "e2e", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		skipOrFail(t, "npm ci --prefix e2e: %v\n%s", err, out)
	}
	return dir
}

// TestSMARTStandaloneLaunch runs a SMART App Launch standalone launch in headless Chromium: a tiny
// browser app (e2e/app/) discovers the endpoints, sends the user to the development issuer with PKCE
// S256, where the browser signs in as Alice with Alice in context, exchanges the code, then reads
// Alice's record and tries Bob's. The replayed code and a wrong code_verifier must be refused.
func TestSMARTStandaloneLaunch(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		skipOrFail(t, "%s is missing (apt-get install chromium)", chromiumPath)
	}
	dir := e2eDir(t)

	// Flags given later win (package flag), so this overrides startServer's --demo-data=false.
	p := startServer(t, t.TempDir(), "--demo-data=true")
	if code := status(t, p, p.base+"/Patient/pat-alice"); code != http.StatusOK {
		t.Fatalf("GET Patient/pat-alice with a system token: %d, want 200 (demo data not loaded?)\n%s", code, p.logs)
	}

	// The SMART app, on its own origin (CORS applies), with a CSP that only lets it talk to itself and
	// to the FHIR server.
	server, _ := url.Parse(p.base)
	files := http.FileServer(http.Dir(filepath.Join(dir, "app")))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' "+
			server.Scheme+"://"+server.Host+"; base-uri 'none'; form-action 'none'")
		w.Header().Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	}))
	defer app.Close()

	shots := filepath.Join(t.TempDir(), "screenshots")
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "smart-launch.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "E2E_APP_URL="+app.URL+"/", "E2E_FHIR_BASE="+p.base, "E2E_SCREENSHOTS="+shots)
	// node and the Chromium it starts form one process group: on timeout, end it all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("smart-launch.mjs ran in %v", time.Since(start).Round(time.Millisecond))
	defer copyArtifacts(t, shots)
	if runErr != nil {
		t.Fatalf("node e2e/smart-launch.mjs: %v\nstderr:\n%s\nstdout:\n%s\nserver log:\n%s", runErr, stderr.String(), stdout.String(), p.logs)
	}
	t.Logf("result:\n%s", stdout.String())

	var res launchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("the script's output is not JSON: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(res.PatientName, "Dupont") {
		t.Errorf("the app shows the patient name %q, want Alice's family name Dupont", res.PatientName)
	}
	if res.PatientID != "pat-alice" {
		t.Errorf("patient in context %q, want pat-alice", res.PatientID)
	}
	if res.OtherStatus != http.StatusNotFound {
		t.Errorf("reading Patient/pat-bob with Alice's patient/ token: %d, want 404", res.OtherStatus)
	}
	if !slices.Contains(res.Scopes, "patient/*.rs") {
		t.Errorf("scopes granted %q, want patient/*.rs among them", res.Scopes)
	}
	want := map[string]string{"response_type": "code", "client_id": "e2e-app", "redirect_uri": app.URL + "/",
		"scope": "openid fhirUser launch/patient patient/*.rs", "aud": p.base, "code_challenge_method": "S256"}
	for k, v := range want {
		if got, _ := res.AuthorizeRequest[k].(string); got != v {
			t.Errorf("authorization request %s=%q, want %q", k, got, v)
		}
	}
	if !res.PKCE.ChallengeMatchesVerifier || res.PKCE.VerifierLength < 43 {
		t.Errorf("PKCE: the code_challenge is not S256 of a 43+ character verifier: %+v", res.PKCE)
	}
	if res.Exchange.Status != http.StatusOK {
		t.Errorf("the app's code exchange: %d, want 200", res.Exchange.Status)
	}
	if res.TokenInStorage {
		t.Error("the access token was found in web storage, a cookie or the URL; the app must keep it in memory")
	}
	if res.CodeInAddressBar {
		t.Error("the code is still in the address bar after the exchange")
	}
	if res.Replay.Status != http.StatusBadRequest || res.Replay.Error != "invalid_grant" {
		t.Errorf("replaying the code: %d %s (%s), want 400 invalid_grant", res.Replay.Status, res.Replay.Error, res.Replay.Description)
	}
	wv := res.WrongVerifier
	if wv.Status != http.StatusBadRequest || wv.Error != "invalid_grant" {
		t.Errorf("exchanging a code with a wrong code_verifier: %d %s (%s), want 400 invalid_grant", wv.Status, wv.Error, wv.Description)
	}
	if wv.AppState != "error" || !strings.Contains(wv.AppError, "invalid_grant") {
		t.Errorf("with a wrong code_verifier the app shows state %q, error %q; want the invalid_grant error", wv.AppState, wv.AppError)
	}
	if len(res.Screenshots) == 0 {
		t.Error("no screenshots")
	}
	for _, s := range res.Screenshots {
		if fi, err := os.Stat(s); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s is missing or empty", s)
		}
	}
}

// copyArtifacts copies the screenshots to $E2E_ARTIFACTS, when set.
func copyArtifacts(t *testing.T, shots string) {
	dest := os.Getenv("E2E_ARTIFACTS")
	if dest == "" {
		return
	}
	entries, err := os.ReadDir(shots)
	if err != nil {
		return
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Errorf("E2E_ARTIFACTS: %v", err)
		return
	}
	for _, e := range entries {
		if err := copyFile(filepath.Join(shots, e.Name()), filepath.Join(dest, e.Name())); err != nil {
			t.Errorf("E2E_ARTIFACTS: %v", err)
		}
	}
	t.Logf("screenshots copied to %s", dest)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
