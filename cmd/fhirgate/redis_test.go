package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"fhirgate/auth/devissuer"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/internal/sharedtest"
)

// sharedIssuer is an OIDC issuer outside the servers (as in production): both processes trust it.
type sharedIssuer struct {
	*devissuer.Issuer
	audience string
}

func newSharedIssuer(t *testing.T) *sharedIssuer {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	iss, err := devissuer.New(devissuer.Config{Issuer: srv.URL + "/dev-issuer", Audience: "fhirgate-shared", KeyDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.StripPrefix("/dev-issuer", iss.Handler())
	return &sharedIssuer{iss, "fhirgate-shared"}
}

func (s *sharedIssuer) mint(t *testing.T, scope, user string) string {
	t.Helper()
	tok, err := s.Token(devissuer.TokenRequest{ClientID: "shared-test", Scope: scope, FHIRUser: user, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// startRedisServer runs fhirgate serve on a Redis store, trusting the shared issuer.
func startRedisServer(t *testing.T, storeURL string, iss *sharedIssuer) *process {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr + "/fhir"
	p := launch(t, addr, "serve", "--store", storeURL, "--redis-accept-data-loss", "--addr", addr,
		"--base-url", base, "--issuer", iss.URL(), "--audience", iss.audience, "--log-format", "text",
		"--admin-clients", "shared-test", "--auditor-clients", "shared-test")
	if p.ready["store_engine"] != "redis" || !strings.Contains(p.ready["store_warning"], "can lose acknowledged writes") {
		t.Fatalf("/readyz does not show the accepted risk: %v", p.ready)
	}
	p.token = iss.mint(t, "system/*.cruds", "")
	return p
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, token, body string, headers ...string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

// TestTwoProcessesShareRedis: two fhirgate serve processes on different ports over one Redis. A write
// through one is readable and searchable through the other at once; concurrent If-Match updates
// through both are decided (exactly one wins); a Consent written through one applies in the other on
// its next request; the audit events both write form one chain that audit verify accepts.
func TestTwoProcessesShareRedis(t *testing.T) {
	url := sharedtest.RedisURL(t)
	var r [6]byte
	rand.Read(r[:])
	prefix := "fhirgate-test:procs:" + hex.EncodeToString(r[:]) + ":"
	t.Cleanup(func() {
		if err := redistest.Drop(context.Background(), url, prefix); err != nil {
			t.Error(err)
		}
	})
	storeURL := url + "?prefix=" + prefix
	iss := newSharedIssuer(t)
	a := startRedisServer(t, storeURL, iss)
	b := startRedisServer(t, storeURL, iss)

	// Written through A, read and searched through B at once.
	w := call(t, "PUT", a.base+"/Patient/shared-1", a.token, `{"resourceType":"Patient","id":"shared-1","name":[{"family":"Twoprocess"}]}`)
	if w.status != 201 {
		t.Fatalf("PUT through A: %d %s", w.status, w.body)
	}
	if got := call(t, "GET", b.base+"/Patient/shared-1", b.token, ""); got.status != 200 || got.header.Get("ETag") != `W/"1"` {
		t.Fatalf("read through B: %d %s", got.status, got.header.Get("ETag"))
	}
	if got := call(t, "GET", b.base+"/Patient?family=twoprocess", b.token, ""); got.status != 200 || !bytes.Contains(got.body, []byte(`"id":"shared-1"`)) {
		t.Fatalf("search through B: %d %s", got.status, got.body)
	}

	// Concurrent If-Match updates through both: exactly one wins each round.
	for round := 1; round <= 10; round++ {
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, p := range []*process{a, b} {
			wg.Go(func() {
				body := fmt.Sprintf(`{"resourceType":"Patient","id":"shared-1","name":[{"family":"Twoprocess","given":["%s-%d"]}]}`, "AB"[i:i+1], round)
				statuses[i] = call(t, "PUT", p.base+"/Patient/shared-1", p.token, body, fmt.Sprintf(`If-Match: W/"%d"`, round)).status
			})
		}
		wg.Wait()
		if !(statuses[0] == 200 && statuses[1] == 412 || statuses[0] == 412 && statuses[1] == 200) {
			t.Fatalf("round %d: If-Match through A and B gave %v, want one 200 and one 412", round, statuses)
		}
	}
	if got := call(t, "GET", a.base+"/Patient/shared-1", a.token, ""); got.header.Get("ETag") != `W/"11"` {
		t.Fatalf("after 10 decided rounds the version is %s", got.header.Get("ETag"))
	}

	// B caches the patient's (absent) consents; a denial written through A applies in B at once.
	doctor := iss.mint(t, "user/*.rs", "Practitioner/prac-x")
	if got := call(t, "GET", b.base+"/Patient/shared-1", doctor, ""); got.status != 200 {
		t.Fatalf("before any consent: %d", got.status)
	}
	consentDoc := `{"resourceType":"Consent","id":"deny-x","status":"active",
		"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
		"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
		"patient":{"reference":"Patient/shared-1"},"policy":[{"uri":"http://example.org/policy"}],
		"provision":{"type":"permit","provision":[{"type":"deny","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/prac-x"}}]}]}}`
	if got := call(t, "PUT", a.base+"/Consent/deny-x", a.token, consentDoc); got.status != 201 {
		t.Fatalf("PUT Consent through A: %d %s", got.status, got.body)
	}
	if got := call(t, "GET", b.base+"/Patient/shared-1", doctor, ""); got.status != 404 {
		t.Fatalf("B ignores the consent written through A: %d", got.status)
	}

	// Both processes audit concurrently into one chain.
	var wg sync.WaitGroup
	for _, p := range []*process{a, b} {
		for range 4 {
			wg.Go(func() {
				for range 25 {
					if got := call(t, "GET", p.base+"/Patient/shared-1", p.token, ""); got.status != 200 {
						t.Errorf("read: %d", got.status)
					}
				}
			})
		}
	}
	wg.Wait()
	var out, errb bytes.Buffer
	cmd := exec.Command(fhirgateBinary(t), "audit", "verify", "--store", storeURL)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("audit verify: %v\n%s%s", err, out.String(), errb.String())
	}
	var n int
	if _, err := fmt.Sscanf(out.String(), "audit chain intact: %d records", &n); err != nil || n < 200+25 {
		t.Fatalf("audit verify: %q (want at least %d records)", out.String(), 225)
	}
}
