package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// historyPatient is the demo patient whose access history the restart test follows.
const historyPatient = "pat-alice"

// historyEntry is one entry of the patient's AuditEvent search as served: its fullUrl and the whole
// entry's JSON (fullUrl, resource and search), byte for byte.
type historyEntry struct {
	FullURL  string
	Recorded time.Time
	Raw      []byte
}

// historyPass is one complete reading of the patient's history, page after page.
type historyPass struct {
	entries []historyEntry
	pages   int
	own     []string // the AuditEvents the pages' responses named: the patient's reading is itself recorded
}

func (h historyPass) urls() []string {
	out := make([]string, len(h.entries))
	for i, e := range h.entries {
		out[i] = e.FullURL
	}
	return out
}

// serveAt starts the binary as startServer does, but at a given address, so that a restart on the same
// data serves the same base URL (the fullUrl of every entry) as the run before it.
func serveAt(t *testing.T, addr, data string) *process {
	t.Helper()
	return launch(t, addr, "serve", "--dev", "--demo-data=true", "--store", "file:"+data, "--addr", addr, "--base-url", "http://"+addr+"/fhir")
}

// patientHistoryToken is the patient's own token from the development issuer: launch patient and fhirUser
// the patient, allowed to read their AuditEvents.
func patientHistoryToken(t *testing.T, p *process) string {
	t.Helper()
	return issueToken(t, strings.TrimSuffix(p.base, "/fhir"), url.Values{"grant_type": {"client_credentials"}, "client_id": {"history-test"},
		"scope": {"patient/AuditEvent.rs"}, "patient": {historyPatient}, "fhirUser": {"Patient/" + historyPatient}})
}

// auditRefsOf returns the AuditEvent references a response named in X-Audit-Event, failing the test when
// there are none or when some were left out (X-Audit-Event-Count).
func auditRefsOf(t *testing.T, what string, resp *http.Response) []string {
	t.Helper()
	h := resp.Header.Get("X-Audit-Event")
	if h == "" {
		t.Errorf("%s: a response (%d) without X-Audit-Event", what, resp.StatusCode)
		return nil
	}
	if c := resp.Header.Get("X-Audit-Event-Count"); c != "" {
		t.Errorf("%s: X-Audit-Event-Count %s: not every event is named", what, c)
	}
	refs := strings.Split(h, ", ")
	for _, r := range refs {
		if !strings.HasPrefix(r, "AuditEvent/") || strings.Count(r, "/") != 1 {
			t.Errorf("%s: X-Audit-Event names %q", what, r)
		}
	}
	return refs
}

// readHistory pages through the patient's AuditEvent search, following Bundle.link next until there is
// none, and keeps every entry as served.
func readHistory(t *testing.T, p *process, token string) historyPass {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second, Transport: bearer{token}}
	var h historyPass
	seen := map[string]bool{}
	next := p.base + "/AuditEvent?patient=Patient/" + historyPatient + "&_count=50"
	for next != "" {
		if h.pages++; h.pages > 1000 {
			t.Fatalf("more than 1000 pages of history: the next links do not end")
		}
		resp, err := client.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		h.own = append(h.own, auditRefsOf(t, "the patient's history page", resp)...)
		var bundle struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Link         []struct{ Relation, URL string }
			Entry        []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(body, &bundle); err != nil || bundle.ResourceType != "Bundle" || bundle.Type != "searchset" {
			t.Fatalf("GET %s: not a searchset Bundle (%v): %s", next, err, body)
		}
		for _, raw := range bundle.Entry {
			var e struct {
				FullURL  string `json:"fullUrl"`
				Resource struct {
					ResourceType, ID, Recorded string
				} `json:"resource"`
				Search struct{ Mode string } `json:"search"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("an entry of the patient's history: %v: %s", err, raw)
			}
			if e.Resource.ResourceType != "AuditEvent" || e.FullURL != p.base+"/AuditEvent/"+e.Resource.ID || e.Search.Mode != "match" {
				t.Fatalf("an entry of the patient's history is not a matching AuditEvent at its fullUrl: %s", raw)
			}
			if seen[e.FullURL] {
				t.Fatalf("%s served twice in one pass through the pages", e.FullURL)
			}
			seen[e.FullURL] = true
			recorded, err := time.Parse(time.RFC3339Nano, e.Resource.Recorded)
			if err != nil {
				t.Fatalf("%s: recorded %q: %v", e.FullURL, e.Resource.Recorded, err)
			}
			h.entries = append(h.entries, historyEntry{FullURL: e.FullURL, Recorded: recorded, Raw: bytes.Clone(raw)})
		}
		next = ""
		for _, l := range bundle.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	// Without _sort an AuditEvent search reads newest first (fhir/rest: _sort=-date, on recorded, which
	// has millisecond precision), events recorded in the same millisecond by ascending id (fhir/search
	// compareHit); the pages follow that order.
	for i := 1; i < len(h.entries); i++ {
		a, b := h.entries[i-1], h.entries[i]
		if b.Recorded.After(a.Recorded) || b.Recorded.Equal(a.Recorded) && b.FullURL <= a.FullURL {
			t.Fatalf("the history is not newest first: %s (%s) before %s (%s)", a.FullURL, a.Recorded, b.FullURL, b.Recorded)
		}
	}
	return h
}

// sameHistoryAndMore checks that every entry of before is in after, byte for byte identical and in the
// same relative order, and that what after holds beyond before is only events in allowed (named by
// responses since before was read).
func sameHistoryAndMore(t *testing.T, when string, before, after historyPass, allowed []string) {
	t.Helper()
	at := map[string]int{}
	for i, e := range after.entries {
		at[e.FullURL] = i
	}
	last := -1
	for _, e := range before.entries {
		i, ok := at[e.FullURL]
		if !ok {
			t.Fatalf("%s: %s, in the patient's history before, is missing from it", when, e.FullURL)
		}
		if !bytes.Equal(after.entries[i].Raw, e.Raw) {
			t.Fatalf("%s: %s is served differently, from byte %d:\nbefore: %s\nafter:  %s", when, e.FullURL, firstDifference(e.Raw, after.entries[i].Raw), e.Raw, after.entries[i].Raw)
		}
		if i <= last {
			t.Fatalf("%s: %s moved: now at %d, after the entry at %d", when, e.FullURL, i, last)
		}
		last = i
	}
	ok := map[string]bool{}
	for _, e := range before.entries {
		ok[e.FullURL] = true
	}
	for _, e := range after.entries {
		if !ok[e.FullURL] && !slices.Contains(allowed, "AuditEvent/"+e.FullURL[strings.LastIndex(e.FullURL, "/")+1:]) {
			t.Fatalf("%s: %s is new in the patient's history, and no response since named it: %s", when, e.FullURL, e.Raw)
		}
	}
}

// firstDifference returns the offset of the first byte where a and b differ.
func firstDifference(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// containsAll fails the test unless every AuditEvent reference in refs is an entry of h.
func containsAll(t *testing.T, when string, h historyPass, base string, refs []string) {
	t.Helper()
	urls := map[string]bool{}
	for _, u := range h.urls() {
		urls[u] = true
	}
	missing := 0
	for _, r := range refs {
		if !urls[base+"/"+r] {
			if missing++; missing <= 5 {
				t.Errorf("%s: %s, named by a response about the patient's data, is not in the patient's history", when, r)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%s: %d of %d events named by responses are not in the patient's history (%d entries)", when, missing, len(refs), len(h.entries))
	}
}

// TestPatientHistoryIdenticalAcrossRestart: under concurrent reads of a patient's data by practitioners
// (permitted and refused), every AuditEvent the responses named is in the patient's own history
// (AuditEvent?patient=, read with the patient's token, every page; a reading while the load runs is
// consistent with it); after a clean stop and a restart on the same data the history is the same, entry
// for entry and byte for byte, plus only the events that recorded the patient reading it; and after a
// kill -9 of the restarted server and another restart, still the same, plus only the events of the
// reads made since.
func TestPatientHistoryIdenticalAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	fhirgateBinary(t) // built once per test binary: not part of the time logged below
	start := time.Now()
	data := t.TempDir()
	addr := freeAddr(t)
	p := serveAt(t, addr, data)
	server := strings.TrimSuffix(p.base, "/fhir")
	treat := issueToken(t, server, url.Values{"grant_type": {"client_credentials"}, "client_id": {"history-test"}, "scope": {"user/*.rs"},
		"fhirUser": {"Practitioner/prac-martin"}, "purpose_of_use": {"TREAT"}})
	// Alice's consent denies the insurer: the adviser's reads are refused (404), and recorded in her
	// history as refusals.
	denied := issueToken(t, server, url.Values{"grant_type": {"client_credentials"}, "client_id": {"history-test"}, "scope": {"user/*.rs"},
		"fhirUser": {"Practitioner/prac-adviser"}})
	type read struct {
		token, path string
		want        int
	}
	reads := []read{
		{treat, "/Patient/" + historyPatient, 200},
		{treat, "/Observation?patient=" + historyPatient + "&_count=5", 200},
		{treat, "/Patient/" + historyPatient + "/Encounter", 200},
		{denied, "/Patient/" + historyPatient, 404},
	}
	// do makes one read and returns the AuditEvents its response named.
	do := func(base string, r read) ([]string, error) {
		req, _ := http.NewRequest("GET", base+r.path, nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			return nil, err
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != r.want {
			return nil, fmt.Errorf("GET %s: %d, want %d", r.path, resp.StatusCode, r.want)
		}
		return auditRefsOf(t, "GET "+r.path, resp), nil
	}

	// 1. Concurrent reads of the patient's data until 400 responses were received.
	var mu sync.Mutex
	var named []string
	var received atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; received.Load() < 400; i++ {
				refs, err := do(p.base, reads[(w+i)%len(reads)])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				named = append(named, refs...)
				mu.Unlock()
				received.Add(1)
			}
		}(w)
	}
	loaded := make(chan struct{})
	go func() { wg.Wait(); close(loaded) }()
	// Meanwhile, once a quarter of the load is in, the patient pages through the history while events
	// keep being added: a pass that must hold no duplicate and keep the order (readHistory), and whose
	// entries must all be in the history read after the load, identical.
wait:
	for received.Load() < 100 {
		select {
		case <-loaded: // the load ended early: a worker failed
			break wait
		case <-time.After(5 * time.Millisecond):
		}
	}
	during := readHistory(t, p, patientHistoryToken(t, p))
	<-loaded
	if t.Failed() {
		t.FailNow()
	}

	// 2. The patient's history holds every one of them, and nothing else but the record of the patient
	// reading it (the demo data's loading records no access to it).
	h1 := readHistory(t, p, patientHistoryToken(t, p))
	containsAll(t, "after the load", h1, p.base, named)
	sameHistoryAndMore(t, "after the load", historyPass{}, h1, slices.Concat(named, during.own, h1.own))
	sameHistoryAndMore(t, "read during the load, then after it", during, h1, slices.Concat(named, during.own, h1.own))

	// 3. Clean stop, restart on the same data (and address: the fullUrls are the same): the same history,
	// plus the record of the patient's reading of it.
	//
	// The history reads newest first, so what was added since the last reading comes before what it
	// showed: the earlier entries are the tail of the later list, almost always. Not always: recorded has
	// millisecond precision and events of the same millisecond follow by id, a random one within the
	// millisecond (UUIDv7), so a newer event can sort after an older one. What is asserted is therefore
	// that every earlier entry is still there, served byte for byte the same, in the same relative order,
	// and that every entry that was not there is an event a response named since.
	p.stop(t)
	p2 := serveAt(t, addr, data)
	h2 := readHistory(t, p2, patientHistoryToken(t, p2))
	sameHistoryAndMore(t, "after SIGTERM and a restart", h1, h2, append(slices.Clone(h1.own), h2.own...))
	containsAll(t, "after SIGTERM and a restart", h2, p2.base, h1.own)

	// 4. A few more reads, kill -9 at once, restart: still the same history, plus those reads.
	var more []string
	for _, r := range reads {
		refs, err := do(p2.base, r)
		if err != nil {
			t.Fatal(err)
		}
		more = append(more, refs...)
	}
	p2.crash(t)
	p3 := serveAt(t, addr, data)
	h3 := readHistory(t, p3, patientHistoryToken(t, p3))
	sameHistoryAndMore(t, "after kill -9 and a restart", h2, h3, slices.Concat(h2.own, more, h3.own))
	containsAll(t, "after kill -9 and a restart", h3, p3.base, slices.Concat(h2.own, more))
	p3.stop(t)
	t.Logf("%d responses about %s named %d events; history %d entries during the load, %d after it (%d pages), %d after a restart, %d after kill -9 and a restart; %v",
		received.Load(), historyPatient, len(named), len(during.entries), len(h1.entries), h1.pages, len(h2.entries), len(h3.entries), time.Since(start).Round(time.Millisecond))
}
