package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runNode runs an e2e/ script with node (and the Chromium it starts) under a deadline, and returns its
// stdout; it fails the test with the script's stderr and the server's log when the script fails.
func runNode(t *testing.T, p *process, script string, timeout time.Duration, env ...string) []byte {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		skipOrFail(t, "%s is missing (apt-get install chromium)", chromiumPath)
	}
	dir := e2eDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// node and the Chromium it starts form one process group: on timeout, end it all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("%s ran in %v", script, time.Since(start).Round(time.Millisecond))
	if runErr != nil {
		t.Fatalf("node e2e/%s: %v\nstderr:\n%s\nstdout:\n%s\nserver log:\n%s", script, runErr, stderr.String(), stdout.String(), p.logs)
	}
	return stdout.Bytes()
}

// userToken asks a --dev server's issuer for a user's token with purposes of use.
func userToken(t *testing.T, p *process, scope, user, purpose string) string {
	t.Helper()
	u, _ := url.Parse(p.base)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"portal-test"}, "scope": {scope}, "fhirUser": {user}}
	if purpose != "" {
		form.Set("purpose_of_use", purpose)
	}
	return issueToken(t, u.Scheme+"://"+u.Host, form)
}

func readAs(t *testing.T, p *process, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type portalResult struct {
	CodeInAddressBar bool   `json:"codeInAddressBar"`
	TokenStored      string `json:"tokenStored"`
	History          []struct {
		Classes, Text, Event string
	} `json:"history"`
	Seal            string   `json:"seal"`
	BTGFiltered     int      `json:"btgFiltered"`
	MartinFiltered  int      `json:"martinFiltered"`
	CSVLines        int      `json:"csvLines"`
	BundleEntries   int      `json:"bundleEntries"`
	MartinBefore    int      `json:"martinBefore"`
	MartinBlocked   int      `json:"martinBlocked"`
	MartinUnblocked int      `json:"martinUnblocked"`
	Sentences       []string `json:"sentences"`
	Notices         []string `json:"notices"`
	Unread          struct {
		Before, After int
	} `json:"unread"`
	French          string `json:"french"`
	TamperedRewrite struct {
		ShowsBob bool   `json:"showsBob"`
		Alert    string `json:"alert"`
	} `json:"tamperedRewrite"`
	TamperedInject struct {
		ShowsBob bool   `json:"showsBob"`
		Alert    string `json:"alert"`
	} `json:"tamperedInject"`
	Blocked     []string `json:"blocked"`
	PageErrors  []string `json:"pageErrors"`
	Screenshots []string `json:"screenshots"`
}

// TestPortal runs the patient's pages in headless Chromium (e2e/portal.mjs) on a --dev server with the
// demo data, after practitioners accessed Alice's record: she sees who accessed it (a refusal, a
// break-the-glass access highlighted), blocks an organisation (its practitioner then gets 404) and
// unblocks it, reads her notices, switches to French; tampered requests and responses never show
// another patient's data.
func TestPortal(t *testing.T) {
	p := startServer(t, t.TempDir(), "--demo-data=true", "--audit-checkpoint-interval", "200ms")
	martin := userToken(t, p, "user/*.rs", "Practitioner/prac-martin", "TREAT")
	adviser := userToken(t, p, "user/*.rs", "Practitioner/prac-adviser", "")
	adviserBTG := userToken(t, p, "user/*.rs", "Practitioner/prac-adviser", "BTG")
	for _, c := range []struct {
		token, path string
		want        int
	}{
		{martin, "/Patient/pat-alice", 200},
		{martin, "/Observation?patient=pat-alice&_count=3", 200},
		{adviser, "/Patient/pat-alice", 404}, // Alice denies the insurer
		{adviserBTG, "/Patient/pat-alice", 200},
		{martin, "/Patient/pat-bob", 200}, // Bob's data, which Alice must never see
	} {
		if got := readAs(t, p, c.token, c.path); got != c.want {
			t.Fatalf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}
	// Another system reports an access to Alice's record (the development server's audit-source client).
	u0, _ := url.Parse(p.base)
	source := issueToken(t, u0.Scheme+"://"+u0.Host, url.Values{"grant_type": {"client_credentials"}, "client_id": {devSourceClient},
		"scope": {"system/AuditEvent.c"}})
	reported := `{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
		"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-01-02T03:04:05Z","outcome":"0",
		"agent":[{"who":{"reference":"Practitioner/prac-house"},"requestor":true}],"source":{"observer":{"display":"lab system"}},
		"entity":[{"what":{"reference":"Patient/pat-alice"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`
	if got := call(t, "POST", p.base+"/AuditEvent", source, reported); got.status != 201 {
		t.Fatalf("the audit-source client's report: %d %s", got.status, got.body)
	}
	time.Sleep(500 * time.Millisecond) // a checkpoint seals the accesses above
	shots := filepath.Join(t.TempDir(), "screenshots")
	defer copyArtifacts(t, shots)
	u, _ := url.Parse(p.base)
	out := runNode(t, p, "portal.mjs", 100*time.Second, "E2E_PORTAL_URL="+u.Scheme+"://"+u.Host+"/portal/",
		"E2E_FHIR_BASE="+p.base, "E2E_MARTIN_TOKEN="+martin, "E2E_SCREENSHOTS="+shots)
	var res portalResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("the script's output is not JSON: %v\n%s", err, out)
	}
	t.Logf("history as shown:\n%v\n%s", res.History, res.Seal)
	if !strings.Contains(res.Seal, "sealed by the server’s signed checkpoint") {
		t.Errorf("the newest access is not said to be sealed: %q", res.Seal)
	}
	if res.CodeInAddressBar {
		t.Error("the code stays in the address bar")
	}
	if strings.Contains(res.TokenStored, "ey") {
		t.Errorf("something token-like is kept in web storage or cookies: %q", res.TokenStored)
	}
	if res.BTGFiltered < 1 || res.MartinFiltered < 2 || res.CSVLines < 4 || res.BundleEntries < 3 {
		t.Errorf("filters and downloads: %+v", res)
	}
	if res.MartinBefore != 200 || res.MartinBlocked != 404 || res.MartinUnblocked != 200 {
		t.Errorf("Dr Martin reading Alice: before %d, blocked %d, unblocked %d; want 200, 404, 200", res.MartinBefore, res.MartinBlocked, res.MartinUnblocked)
	}
	if len(res.Notices) < 3 {
		t.Errorf("notices: %q (want Dr Martin's and Dr Durand's first accesses and the break-the-glass one)", res.Notices)
	}
	if res.Unread.Before < 1 || res.Unread.After != res.Unread.Before-1 {
		t.Errorf("unread notices %d -> %d after marking one read", res.Unread.Before, res.Unread.After)
	}
	if res.TamperedRewrite.ShowsBob || res.TamperedInject.ShowsBob {
		t.Errorf("Bob's data shown after tampering: %+v %+v", res.TamperedRewrite, res.TamperedInject)
	}
	if !strings.Contains(res.TamperedInject.Alert, "not yours") {
		t.Errorf("an injected event about another patient is not reported: %q", res.TamperedInject.Alert)
	}
	if len(res.Blocked) > 0 || len(res.PageErrors) > 0 {
		t.Errorf("requests off 127.0.0.1 %v; page errors %v", res.Blocked, res.PageErrors)
	}
	if len(res.Screenshots) < 7 {
		t.Errorf("screenshots: %v", res.Screenshots)
	}
	for _, s := range res.Screenshots {
		if fi, err := os.Stat(filepath.Join(shots, s)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s is missing or empty", s)
		}
	}
}
