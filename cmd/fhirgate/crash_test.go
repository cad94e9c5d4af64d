package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the fhirgate binary once per test binary run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func fhirgateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fhirgate-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fhirgate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running fhirgate serve.
type process struct {
	cmd   *exec.Cmd
	base  string
	logs  *bytes.Buffer
	token string            // a system/*.cruds token from the server's development issuer
	ready map[string]string // what /readyz answered when the server became ready
}

// stop ends the server as an operator does (SIGTERM) and waits for its clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs.String())
	}
}

// crash kills the server at once (kill -9) and waits until it is gone.
func (p *process) crash(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := p.cmd.Wait(); !errors.As(err, &exit) {
		t.Fatalf("after kill -9: %v, want the exit of a killed process", err)
	}
}

// client returns an HTTP client that sends the process's token.
func (p *process) client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: bearer{p.token}}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// devToken asks a --dev server's issuer for a token.
func devToken(t *testing.T, server, scope string) string {
	t.Helper()
	return issueToken(t, server, url.Values{"grant_type": {"client_credentials"}, "client_id": {"test"}, "scope": {scope}})
}

// issueToken posts a token request to a --dev server's issuer and returns the access token.
func issueToken(t *testing.T, server string, form url.Values) string {
	t.Helper()
	resp, err := http.PostForm(server+"/dev-issuer/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("no token from %s for %v (%s, %v)", server, form, resp.Status, err)
	}
	return out.AccessToken
}

func startServer(t *testing.T, dataDir string, extra ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr + "/fhir"
	p := launch(t, addr, append([]string{"serve", "--dev", "--demo-data=false", "--store", "file:" + dataDir, "--addr", addr, "--base-url", base}, extra...)...)
	p.token = devToken(t, "http://"+addr, "system/*.cruds")
	return p
}

// launch starts the binary with args, serving at addr, and waits until its /readyz answers 200 (whose
// JSON it keeps in the process); the process is killed when the test ends.
func launch(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(fhirgateBinary(t), args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr + "/fhir", logs: logs}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil { // not stopped by the test
			p.crash(t)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			p.ready = map[string]string{}
			err := json.NewDecoder(resp.Body).Decode(&p.ready)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if err != nil {
					t.Fatalf("/readyz answered 200 with %v", err)
				}
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server did not become ready:\n%s", logs.String())
	return nil
}

func put(client *http.Client, url string, body string) (int, error) {
	req, _ := http.NewRequest("PUT", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func postBundle(client *http.Client, base, body string) (int, error) {
	resp, err := client.Post(base, "application/fhir+json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func status(t *testing.T, p *process, url string) int {
	t.Helper()
	resp, err := p.client(10 * time.Second).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCrashDurability runs the real binary, makes concurrent acknowledged writes (single resources and
// five-resource transactions), kill -9s it in the middle of the load, restarts it on the same data
// directory, and checks that every acknowledged write is there and that no transaction is half-written.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	data := t.TempDir()
	p := startServer(t, data)
	client := p.client(10 * time.Second)

	var ackedSingles sync.Map // id -> true
	var ackedTx sync.Map      // tx number -> true
	var sentTx atomic.Int64
	var acks atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%4 == 3 {
					n := sentTx.Add(1)
					var entries []string
					for k := 0; k < 5; k++ {
						entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Observation","id":"tx%d-%d","status":"final","code":{"text":"t"}},"request":{"method":"PUT","url":"Observation/tx%d-%d"}}`, n, k, n, k))
					}
					code, err := postBundle(client, p.base, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)
					if err == nil && code == 200 {
						ackedTx.Store(n, true)
						acks.Add(1)
					}
					continue
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				code, err := put(client, p.base+"/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","active":true}`)
				if err == nil && code == 201 {
					ackedSingles.Store(id, true)
					acks.Add(1)
				}
			}
		}(w)
	}
	// Let the load run, then kill -9 while requests are in flight.
	for acks.Load() < 400 {
		time.Sleep(20 * time.Millisecond)
	}
	p.crash(t)
	close(stop)
	wg.Wait()

	p2 := startServer(t, data)
	singles, txs := 0, 0
	ackedSingles.Range(func(k, _ any) bool {
		singles++
		if c := status(t, p2, p2.base+"/Patient/"+k.(string)); c != 200 {
			t.Errorf("acknowledged Patient/%s lost after kill -9: %d", k, c)
		}
		return true
	})
	for n := int64(1); n <= sentTx.Load(); n++ {
		present := 0
		for k := 0; k < 5; k++ {
			if status(t, p2, fmt.Sprintf("%s/Observation/tx%d-%d", p2.base, n, k)) == 200 {
				present++
			}
		}
		_, acked := ackedTx.Load(n)
		if acked {
			txs++
		}
		switch {
		case acked && present != 5:
			t.Errorf("acknowledged transaction %d has %d of 5 resources after kill -9", n, present)
		case present != 0 && present != 5:
			t.Errorf("transaction %d half-written: %d of 5 resources", n, present)
		}
	}
	t.Logf("after kill -9: %d acknowledged single writes and %d acknowledged transactions all present; %d transactions sent", singles, txs, sentTx.Load())
}

// TestGracefulShutdown sends SIGTERM while a slow request is in flight: the request completes, the
// process exits 0 after closing the store, and a restart finds the data.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	data := t.TempDir()
	p := startServer(t, data)
	client := p.client(20 * time.Second)
	// A large transaction keeps the server busy while the signal arrives.
	var entries []string
	for k := 0; k < 400; k++ {
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Observation","id":"g%d","status":"final","code":{"text":"t"}},"request":{"method":"PUT","url":"Observation/g%d"}}`, k, k))
	}
	done := make(chan int, 1)
	go func() {
		code, err := postBundle(client, p.base, `{"resourceType":"Bundle","type":"transaction","entry":[`+strings.Join(entries, ",")+`]}`)
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
		}
		done <- code
	}()
	time.Sleep(20 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 200 {
		t.Fatalf("in-flight transaction got %d", code)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", p.logs.String())
	}
	p2 := startServer(t, data)
	if c := status(t, p2, p2.base+"/Observation/g399"); c != 200 {
		t.Fatalf("after restart, the transaction's last resource: %d", c)
	}
}

// TestAuditSurvivesCrashUnderReadLoad: kill -9 under read load; after a restart every response that was
// fully received has its AuditEvent, and the audit chain verifies.
func TestAuditSurvivesCrashUnderReadLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	data := t.TempDir()
	checkpoints := filepath.Join(t.TempDir(), "checkpoints")
	p := startServer(t, data, "--demo-data=true", "--audit-checkpoints", checkpoints, "--audit-checkpoint-interval", "50ms")
	reader := &http.Client{Timeout: 10 * time.Second, Transport: bearer{devToken(t, strings.TrimSuffix(p.base, "/fhir"), "user/*.rs")}}
	var mu sync.Mutex
	var events []string
	var received atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	paths := []string{"/Patient/pat-chloe", "/Observation?patient=pat-david&_count=5", "/Patient/pat-alice/Encounter"}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := reader.Get(p.base + paths[(w+i)%len(paths)])
				if err != nil {
					continue
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					continue // not fully received
				}
				refs := resp.Header.Get("X-Audit-Event")
				if refs == "" {
					t.Errorf("a response (%d) without X-Audit-Event", resp.StatusCode)
					continue
				}
				mu.Lock()
				events = append(events, strings.Split(refs, ", ")...)
				mu.Unlock()
				received.Add(1)
			}
		}(w)
	}
	for received.Load() < 300 {
		time.Sleep(20 * time.Millisecond)
	}
	p.crash(t)
	close(stop)
	wg.Wait()

	p2 := startServer(t, data, "--audit-checkpoints", checkpoints, "--audit-checkpoint-interval", "50ms")
	auditor := &http.Client{Timeout: 10 * time.Second, Transport: bearer{issueToken(t, strings.TrimSuffix(p2.base, "/fhir"),
		url.Values{"grant_type": {"client_credentials"}, "client_id": {devAuditorClient}, "scope": {"system/AuditEvent.rs"}})}}
	mu.Lock()
	defer mu.Unlock()
	for _, ref := range events {
		resp, err := auditor.Get(p2.base + "/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s, named by a response the client received, is missing after kill -9 (%d)", ref, resp.StatusCode)
		}
	}
	p2.stop(t)
	var out, errb bytes.Buffer
	if code := run([]string{"audit", "verify", "--store", "file:" + data, "--checkpoints", checkpoints}, &out, &errb); code != 0 {
		t.Fatalf("audit verify after the crash: exit %d\n%s%s", code, out.String(), errb.String())
	}
	var n int
	if i := strings.Index(out.String(), " signed checkpoints hold"); i < 0 {
		t.Fatalf("audit verify did not hold the chain against the checkpoints: %s", out.String())
	} else if fields := strings.Fields(out.String()[:i]); len(fields) == 0 {
		t.Fatalf("audit verify: %s", out.String())
	} else if n, _ = strconv.Atoi(fields[len(fields)-1]); n < 2 {
		t.Fatalf("%d checkpoints written across the crash and the restart", n)
	}
	t.Logf("%d responses fully received before kill -9, %d audit events all present; %s", received.Load(), len(events), strings.TrimSpace(out.String()))
}
