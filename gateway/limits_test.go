package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/gateway/throttle"
)

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.read}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// raw sends text as one HTTP/1.1 request on a new connection and returns the status and body of the answer.
func raw(t *testing.T, a *authServer, text string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", a.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAuthenticatedBeforeTheBody: a request without a valid token is answered 401 from its headers alone,
// whatever its body, content type or Accept: a 16 MiB upload is neither read nor buffered.
func TestAuthenticatedBeforeTheBody(t *testing.T) {
	var counted *countingListener
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404,
		listener: func(l net.Listener) net.Listener { counted = &countingListener{Listener: l}; return counted }})
	const size = 16 << 20
	for _, tc := range []struct {
		name, headers string
	}{
		{"no token, FHIR JSON", "Content-Type: application/fhir+json\r\n"},
		{"no token, XML both ways (else 415 and 406)", "Content-Type: application/fhir+xml\r\nAccept: application/fhir+xml\r\n"},
		{"a forged token", "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\r\nContent-Type: application/fhir+json\r\n"},
		{"no token, expecting 100-continue", "Content-Type: application/fhir+json\r\nExpect: 100-continue\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counted.read.Load()
			conn, err := net.Dial("tcp", a.Server.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			head := fmt.Sprintf("POST /fhir/Patient HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n", tc.headers, size)
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			// Not one byte of the body is sent before the answer is read.
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
			if !strings.Contains(string(body), `"resourceType":"OperationOutcome"`) {
				t.Fatalf("not an OperationOutcome: %s", body)
			}
			// Then the client sends its 16 MiB anyway: the server has closed the connection (or drains a
			// little of it at most) rather than buffering it.
			chunk := make([]byte, 64<<10)
			sent := 0
			for sent < size {
				if err := conn.SetWriteDeadline(time.Now().Add(2 * time.Second)); err != nil {
					t.Fatal(err)
				}
				n, err := conn.Write(chunk)
				sent += n
				if err != nil {
					break
				}
			}
			conn.Close()
			time.Sleep(50 * time.Millisecond) // let the server's reads of what is in flight be counted
			read := counted.read.Load() - before
			t.Logf("the client wrote %d of %d bytes; the server read %d", sent, size, read)
			if read > 1<<20 {
				t.Fatalf("the server read %d bytes of a refused 16 MiB upload", read)
			}
		})
	}
	// With a token, the same headers get what they deserve.
	tok := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	r := a.do(t, "POST", "/Patient", []byte(`<Patient/>`), "Authorization: Bearer "+tok, "Content-Type: application/fhir+xml")
	r.wantStatus(t, 415)
	r = a.do(t, "GET", "/Patient", nil, "Authorization: Bearer "+tok, "Accept: application/fhir+xml")
	r.wantStatus(t, 406)
	// The CapabilityStatement stays public, and the 401 is the same for unknown paths under the base.
	a.do(t, "GET", "/metadata", nil).wantStatus(t, 200)
	a.do(t, "GET", "/NoSuchType/1", nil).wantStatus(t, 401)
}

// limitedServer is an authServer whose every limit is small enough to reach in a test.
func limitedServer(t *testing.T, o authOptions) *authServer {
	t.Helper()
	o.consentDefault, o.denyStatus = "permit", 404
	o.limits = &Limits{MaxURL: 2048, MaxHeader: 8192, MaxBody: 64 << 10}
	o.limits.JSON.MaxDepth, o.limits.JSON.MaxValues = 9, 1000
	inner := o.service
	o.service = func(c *rest.Config) {
		c.MaxBundleEntries, c.MaxIncludes, c.MaxIncluded, c.MaxCount = 10, 2, 3, 5
		if inner != nil {
			inner(c)
		}
	}
	return newAuthServer(t, o)
}

// refusedBy checks a refusal: its status, an OperationOutcome naming the limit's flag.
func refusedBy(t *testing.T, r result, status int, flag string) {
	t.Helper()
	r.wantStatus(t, status)
	_, _, details := r.issue(t)
	if !strings.Contains(details, "--"+flag) {
		t.Fatalf("the outcome does not name --%s: %s", flag, details)
	}
}

func nestedExtensions(levels int, inner string) string {
	s := inner
	for range levels {
		s = `{"url":"http://example.org/x","extension":[` + s + `]}`
	}
	return s
}

// TestLimitsAtAndBeyond: each limit accepts a request at the limit and answers one just beyond it with
// its 4xx and an OperationOutcome naming it, counted in /metrics by the limit's flag.
func TestLimitsAtAndBeyond(t *testing.T) {
	a := limitedServer(t, authOptions{})
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	auth := "Authorization: Bearer " + admin
	// Three patients' observations for the include limits: 3 for lim-3, 4 for lim-4.
	for _, p := range []struct {
		id string
		n  int
	}{{"lim-3", 3}, {"lim-4", 4}} {
		a.putPatient(t, p.id)
		for i := range p.n {
			obs := fmt.Sprintf(`{"resourceType":"Observation","id":"%s-o%d","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, p.id, i, p.id)
			a.do(t, "PUT", fmt.Sprintf("/Observation/%s-o%d", p.id, i), []byte(obs), auth).wantStatus(t, 201)
		}
	}
	limited := map[string]int{}

	t.Run("max-url", func(t *testing.T) {
		target := func(n int) string {
			p := "/fhir/Observation?_count=1&x="
			return p + strings.Repeat("a", n-len(p))
		}
		if got := len(target(2048)); got != 2048 {
			t.Fatalf("fixture: %d", got)
		}
		a.do(t, "GET", "http://"+a.Server.Listener.Addr().String()+target(2048), nil, auth).wantStatus(t, 200)
		refusedBy(t, a.do(t, "GET", "http://"+a.Server.Listener.Addr().String()+target(2049), nil, auth), 414, "max-url")
		limited["max-url"]++
	})
	t.Run("max-header", func(t *testing.T) {
		// The header fields' bytes: "Name: value\r\n" for each, the Host line aside (Go keeps it apart).
		request := func(total int) string {
			authLine := len("Authorization") + len("Bearer "+admin) + 4
			pad := total - authLine - len("X-Pad") - 4
			return "GET /fhir/Observation?_count=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin +
				"\r\nX-Pad: " + strings.Repeat("p", pad) + "\r\nConnection: close\r\n\r\n"
		}
		// (Connection: close counts too.)
		at := request(8192 - len("Connection") - len("close") - 4)
		if status, _, body := raw(t, a, at); status != 200 {
			t.Fatalf("at the limit: %d %s", status, body)
		}
		status, _, body := raw(t, a, request(8192-len("Connection")-len("close")-4+1))
		if status != 431 || !strings.Contains(body, "--max-header") || !strings.Contains(body, "OperationOutcome") {
			t.Fatalf("beyond the limit: %d %s", status, body)
		}
		limited["max-header"]++
	})
	t.Run("max-body", func(t *testing.T) {
		doc := `{"resourceType":"Patient","gender":"female"}`
		at := []byte(doc + strings.Repeat(" ", 64<<10-len(doc)))
		a.do(t, "POST", "/Patient", at, auth).wantStatus(t, 201)
		refusedBy(t, a.do(t, "POST", "/Patient", append(at, ' '), auth), 413, "max-body")
		limited["max-body"]++
	})
	t.Run("max-json-depth", func(t *testing.T) {
		// The Patient is depth 1, each nested extension adds an array and an object: 4 make depth 9.
		at := `{"resourceType":"Patient","extension":[` + nestedExtensions(3, `{"url":"http://example.org/y","valueString":"z"}`) + `]}`
		a.do(t, "POST", "/Patient", []byte(at), auth).wantStatus(t, 201)
		beyond := `{"resourceType":"Patient","extension":[` + nestedExtensions(3, `{"url":"http://example.org/y","valueCodeableConcept":{"text":"z"}}`) + `]}`
		refusedBy(t, a.do(t, "POST", "/Patient", []byte(beyond), auth), 400, "max-json-depth")
		limited["max-json-depth"]++
	})
	t.Run("max-json-values", func(t *testing.T) {
		// The Patient, its resourceType, the name array, the name and the given array: 5, and n names.
		doc := func(n int) []byte {
			return []byte(`{"resourceType":"Patient","name":[{"given":[` + strings.TrimSuffix(strings.Repeat(`"a",`, n), ",") + `]}]}`)
		}
		a.do(t, "POST", "/Patient", doc(995), auth).wantStatus(t, 201)
		refusedBy(t, a.do(t, "POST", "/Patient", doc(996), auth), 400, "max-json-values")
		limited["max-json-values"]++
	})
	t.Run("max-bundle-entries", func(t *testing.T) {
		batch := func(n int) []byte {
			entries := make([]string, n)
			for i := range entries {
				entries[i] = `{"request":{"method":"GET","url":"Patient/lim-3"}}`
			}
			return []byte(`{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`)
		}
		a.do(t, "POST", "", batch(10), auth).wantStatus(t, 200)
		refusedBy(t, a.do(t, "POST", "", batch(11), auth), 413, "max-bundle-entries")
		limited["max-bundle-entries"]++
	})
	t.Run("max-includes", func(t *testing.T) {
		a.get(t, admin, "/Observation?subject=Patient/lim-3&_include=Observation:subject&_include=Observation:performer").wantStatus(t, 200)
		refusedBy(t, a.get(t, admin, "/Observation?subject=Patient/lim-3&_include=Observation:subject&_include=Observation:performer&_revinclude=Provenance:target"), 400, "max-includes")
		limited["max-includes"]++
		// The same include a thousand times is one include, followed once.
		form := strings.TrimSuffix(strings.Repeat("_include=Observation:subject&", 1000), "&")
		r := a.do(t, "POST", "/Observation/_search?subject=Patient/lim-3", []byte(form), auth, "Content-Type: application/x-www-form-urlencoded")
		r.wantStatus(t, 200)
		if got := refs(t, r.body, "include"); len(got) != 1 || got[0] != "Patient/lim-3" {
			t.Fatalf("included %v", got)
		}
	})
	t.Run("max-included", func(t *testing.T) {
		r := a.get(t, admin, "/Patient?_id=lim-3&_revinclude=Observation:subject")
		r.wantStatus(t, 200)
		if got := refs(t, r.body, "include"); len(got) != 3 {
			t.Fatalf("included %v", got)
		}
		refusedBy(t, a.get(t, admin, "/Patient?_id=lim-4&_revinclude=Observation:subject"), 400, "max-included")
		limited["max-included"]++
	})
	t.Run("max-count caps, never refuses", func(t *testing.T) {
		for _, count := range []string{"100000000", "99999999999999999999999"} {
			r := a.get(t, admin, "/Observation?_count="+count)
			r.wantStatus(t, 200)
			if got := refs(t, r.body, "match"); len(got) != 5 {
				t.Fatalf("_count=%s gave %d matches; the cap is 5", count, len(got))
			}
			var b struct {
				Link []struct{ Relation, URL string }
			}
			mustJSON(t, r.body, &b)
			for _, l := range b.Link {
				u, _ := url.Parse(l.URL)
				if l.Relation == "self" && u.Query().Get("_count") != "5" {
					t.Fatalf("the self link does not say the page was capped: %s", l.URL)
				}
			}
		}
		a.get(t, admin, "/Observation?_count=-1").wantStatus(t, 400)
	})

	// Every refusal was counted by its limit.
	m := a.do(t, "GET", "http://"+a.Server.Listener.Addr().String()+"/metrics", nil)
	for flag, n := range limited {
		line := fmt.Sprintf(`fhirgate_limit_refusals_total{limit=%q} %d`, flag, n)
		if !strings.Contains(string(m.body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestBatchAnswerBounded: a batch's answers stop at --max-batch-response: an entry whose answer would go
// beyond is not served, the entries after it are not run (a write among them is not made), and the
// writes before it are answered.
func TestBatchAnswerBounded(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	// The size of Alice's Patient as a read answers it, from a server that is the same but unbounded.
	probe := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, fixed: at, noAudit: true})
	admin := probe.mintAs(t, adminClient, "system/*.cruds", "", "")
	one := len(probe.get(t, admin, "/Patient/pat-alice").body)

	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, fixed: at, noAudit: true,
		service: func(c *rest.Config) { c.MaxBatchResponse = 2 * one }})
	admin = a.mintAs(t, adminClient, "system/*.cruds", "", "")
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
		{"request":{"method":"GET","url":"Patient/pat-alice"}},
		{"request":{"method":"GET","url":"Patient/pat-alice"}},
		{"request":{"method":"GET","url":"Patient/pat-alice"}},
		{"resource":{"resourceType":"Basic","code":{"text":"after the limit"}},"request":{"method":"POST","url":"Basic"}}]}`
	before := a.changes(t, "Basic")
	r := a.do(t, "POST", "", []byte(batch), "Authorization: Bearer "+admin)
	r.wantStatus(t, 200)
	var b struct {
		Entry []struct {
			Resource json.RawMessage
			Response struct {
				Status  string
				Outcome json.RawMessage
			}
		}
	}
	mustJSON(t, r.body, &b)
	if len(b.Entry) != 4 {
		t.Fatalf("%d entries", len(b.Entry))
	}
	for i, want := range []string{"200", "200", "400", "400"} {
		if !strings.HasPrefix(b.Entry[i].Response.Status, want) {
			t.Fatalf("entry %d: %s, want %s", i, b.Entry[i].Response.Status, want)
		}
	}
	if len(b.Entry[2].Resource) != 0 || !strings.Contains(string(b.Entry[2].Response.Outcome), "--max-batch-response") {
		t.Fatalf("the third read: %s / %s", b.Entry[2].Resource, b.Entry[2].Response.Outcome)
	}
	if a.changes(t, "Basic") != before {
		t.Fatal("the write after the limit was made")
	}
	if len(r.body) > 3*one+4096 {
		t.Fatalf("an answer of %d bytes for a limit of %d", len(r.body), 2*one)
	}
}

// TestAuditEventHeaderBounded: X-Audit-Event names at most 10 events; beyond, X-Audit-Event-Count says how
// many the request recorded that it could name.
func TestAuditEventHeaderBounded(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	batch := func(n int) []byte {
		entries := make([]string, n)
		for i := range entries {
			entries[i] = `{"request":{"method":"GET","url":"Observation/obs-alice-01"}}`
		}
		return []byte(`{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`)
	}
	// The batch's own event and one per entry.
	r := a.do(t, "POST", "", batch(9), "Authorization: Bearer "+martin)
	r.wantStatus(t, 200)
	if n := len(strings.Split(r.header.Get("X-Audit-Event"), ",")); n != 10 || r.header.Get("X-Audit-Event-Count") != "" {
		t.Fatalf("9 entries: %d events named, count %q", n, r.header.Get("X-Audit-Event-Count"))
	}
	r = a.do(t, "POST", "", batch(200), "Authorization: Bearer "+martin)
	r.wantStatus(t, 200)
	if n := len(strings.Split(r.header.Get("X-Audit-Event"), ",")); n != 10 || r.header.Get("X-Audit-Event-Count") != "201" {
		t.Fatalf("200 entries: %d events named, count %q", n, r.header.Get("X-Audit-Event-Count"))
	}
	if len(r.header.Get("X-Audit-Event")) > 600 {
		t.Fatalf("X-Audit-Event of %d bytes", len(r.header.Get("X-Audit-Event")))
	}
}

// TestSlowHeadersCut: a client that sends its headers slowly is cut at the read-header timeout.
func TestSlowHeadersCut(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, noAudit: true,
		limits: &Limits{ReadHeaderTimeout: 300 * time.Millisecond}})
	conn, err := net.Dial("tcp", a.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// One more header byte every 100 ms: never a complete request.
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(conn, "X"); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// The server closes the connection (after a bare 4xx, or without a word).
	answer, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %v", time.Since(start))
	}
	if len(answer) > 0 && !strings.HasPrefix(string(answer), "HTTP/1.1 4") {
		t.Fatalf("answered %q", answer)
	}
	if d := time.Since(start); d < 200*time.Millisecond { // (the server's timer starts before our clock)
		t.Fatalf("cut after %v, before the timeout", d)
	}
}

// TestRequestDeadline: a request that runs past --request-timeout answers 503 and writes nothing.
func TestRequestDeadline(t *testing.T) {
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404,
		limits: &Limits{RequestTimeout: time.Nanosecond}})
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	auth := "Authorization: Bearer " + admin
	patients := a.changes(t, "Patient")
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"create", "POST", "/Patient", `{"resourceType":"Patient","gender":"male"}`},
		{"transaction", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:0d4bd5a5-0a55-4c34-8b8a-1c8e1b1c2f01","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
			{"resource":{"resourceType":"Patient","id":"deadline-2"},"request":{"method":"PUT","url":"Patient/deadline-2"}}]}`},
		{"search", "GET", "/Observation?status=final", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := a.do(t, tc.method, tc.path, body, auth)
			refusedBy(t, r, 503, "request-timeout")
			if code, _, _ := r.issue(t); code != "timeout" {
				t.Fatalf("issue code %q", code)
			}
			if r.header.Get("X-Audit-Event") == "" {
				t.Fatal("the timeout was not audited")
			}
		})
	}
	if a.changes(t, "Patient") != patients {
		t.Fatal("a request past its deadline wrote")
	}
	if _, err := a.store.Read(context.Background(), "Patient", "deadline-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the transaction's update was made: %v", err)
	}
}

// TestRateLimitPerClient: a client over its rate gets 429 with Retry-After while another is served; the
// refusals are recorded in aggregate (the first at once, the others counted).
func TestRateLimitPerClient(t *testing.T) {
	clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lim := throttle.New(throttle.Config{Rate: 0.5, Burst: 25, Now: func() time.Time { return clock }})
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, throttle: lim})
	greedy := a.mintAs(t, "greedy-app", "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	other := a.mintAs(t, "other-app", "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	for range 25 {
		a.get(t, greedy, "/Observation/obs-alice-01").wantStatus(t, 200)
	}
	chain := func() int {
		rep, err := store.VerifyChain(context.Background(), a.store, []string{"AuditEvent"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Records
	}
	before := chain()
	var firstRefusal string
	for i := range 20 {
		r := a.get(t, greedy, "/Observation/obs-alice-01")
		refusedBy(t, r, 429, "rate-limit")
		if code, _, _ := r.issue(t); code != "throttled" {
			t.Fatalf("issue code %q", code)
		}
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
			t.Fatalf("Retry-After %q (one request per 2 s)", r.header.Get("Retry-After"))
		}
		if strings.Contains(string(r.body), "Alice") || strings.Contains(string(r.body), "obs-alice") {
			t.Fatalf("a refusal carries data: %s", r.body)
		}
		if i == 0 {
			firstRefusal = r.header.Get("X-Audit-Event")
		} else if r.header.Get("X-Audit-Event") != firstRefusal {
			t.Fatalf("refusal %d names %q, not the first refusal's event %q", i+1, r.header.Get("X-Audit-Event"), firstRefusal)
		}
		// Meanwhile the other client is served as usual.
		a.get(t, other, "/Observation/obs-alice-01").wantStatus(t, 200)
	}
	// 20 reads of the other client, and one event for the 20 refusals (the others counted).
	if got := chain() - before; got != 20+1 {
		t.Fatalf("%d events for 20 refusals and 20 reads", got)
	}
	// Once the bucket refills, the greedy client is served again.
	clock = clock.Add(2 * time.Second)
	a.get(t, greedy, "/Observation/obs-alice-01").wantStatus(t, 200)
}

// TestInFlightPerClient: a client with --max-in-flight requests in progress gets 429 for one more, while
// another client is served. (That a request is admitted before its body is read is shown by the tests of
// unauthenticated uploads; here the request in progress is held at the limiter, so no timing is involved.)
func TestInFlightPerClient(t *testing.T) {
	lim := throttle.New(throttle.Config{MaxInFlight: 1})
	a := newAuthServer(t, authOptions{consentDefault: "permit", denyStatus: 404, throttle: lim})
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	other := a.mintAs(t, "other-app", "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	// The admin client has a request in progress: its ticket is held here, under the key the gateway
	// gives a principal (client, issuer, subject), read from the token's own claims.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(admin, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	client, _ := claims["client_id"].(string)
	if client == "" {
		client, _ = claims["azp"].(string)
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	ticket, reason, _ := lim.Acquire(client + " " + iss + " " + sub)
	if reason != throttle.Allowed {
		t.Fatalf("the held request was not admitted: %v", reason)
	}
	r := a.get(t, admin, "/Patient?_count=1")
	refusedBy(t, r, 429, "max-in-flight")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	a.get(t, other, "/Observation/obs-alice-01").wantStatus(t, 200) // another client is served
	ticket.Done()
	a.get(t, admin, "/Patient?_count=1").wantStatus(t, 200) // once the request has ended, the next is
}

// TestNoStoreOnPatientData: every answer that may carry patient data is kept out of caches; the
// CapabilityStatement is not.
func TestNoStoreOnPatientData(t *testing.T) {
	a := newAuthServer(t)
	martin := a.mint(t, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
	for _, p := range []string{"/Patient/pat-alice", "/Observation?patient=pat-alice", "/Patient/pat-alice/$everything",
		"/Patient/pat-alice/_history", "/_history?_count=1", "/Patient/no-such-patient"} {
		r := a.get(t, martin, p)
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("GET %s (%d): Cache-Control %q, Pragma %q", p, r.status, r.header.Get("Cache-Control"), r.header.Get("Pragma"))
		}
	}
	r := a.do(t, "GET", "/metadata", nil)
	r.wantStatus(t, 200)
	if r.header.Get("Cache-Control") != "" || r.header.Get("Pragma") != "" {
		t.Errorf("/metadata: Cache-Control %q, Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
	}
}

// TestDotIDsRefused: ids made only of dots are path segments to every URL normaliser ([base]/Basic/..
// is [base]/), so they are never ids.
func TestDotIDsRefused(t *testing.T) {
	a := newAuthServer(t)
	admin := a.mintAs(t, adminClient, "system/*.cruds", "", "")
	auth := "Authorization: Bearer " + admin
	basics := a.changes(t, "Basic")
	for _, id := range []string{".", "..", "..."} {
		body := []byte(`{"resourceType":"Basic","id":"` + id + `","code":{"text":"x"}}`)
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			var b []byte
			if method == "PUT" {
				b = body
			}
			r := a.do(t, method, "/Basic/"+id, b, auth)
			r.wantStatus(t, 400)
			if _, expr, _ := r.issue(t); expr != "id" {
				t.Fatalf("%s /Basic/%s: expression %q", method, id, expr)
			}
		}
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(body) + `,"request":{"method":"PUT","url":"Basic/` + id + `"}}]}`
		a.do(t, "POST", "", []byte(tx), auth).wantStatus(t, 400)
	}
	a.do(t, "PUT", "/Basic/a.b", []byte(`{"resourceType":"Basic","id":"a.b","code":{"text":"x"}}`), auth).wantStatus(t, 201)
	if got := a.changes(t, "Basic"); got != basics+1 {
		t.Fatalf("%d Basic changes, want only a.b's", got-basics)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
}
