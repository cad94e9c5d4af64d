package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"fhirgate/audit"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
)

// cliAuditEvent is an AuditEvent about a patient, as the gateway records a read (abridged).
func cliAuditEvent(id, patient, resource string) []byte {
	return []byte(`{"resourceType":"AuditEvent","id":"` + id + `",` +
		`"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},` +
		`"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R",` +
		`"recorded":"2026-03-01T10:00:00Z","outcome":"0",` +
		`"agent":[{"who":{"reference":"Practitioner/prac-house"},"requestor":true}],` +
		`"source":{"observer":{"reference":"Device/fhirgate"}},` +
		`"entity":[{"what":{"reference":"` + patient + `"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}},` +
		`{"what":{"reference":"` + resource + `"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4"}}]}`)
}

// buildAuditStore writes AuditEvents through audit.StoreSink (chained, indexed as the server does),
// some requests with one event and some with two, and closes the store. It returns the ids in write
// order and, for each, its patient.
func buildAuditStore(t *testing.T, dir string) (ids []string, patientOf map[string]string) {
	t.Helper()
	st, err := embedded.Open(embedded.Config{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: "http://localhost:8080/fhir"}, st, v)
	if err != nil {
		t.Fatal(err)
	}
	sink := audit.NewStoreSink(st, svc)
	patientOf = map[string]string{}
	patients := []string{"Patient/pat-alice", "Patient/pat-bob", "Patient/pat-chloe"}
	ctx := context.Background()
	for i := 0; i < 12; {
		var recs []audit.Record
		for j := 0; j < 1+i%2 && i < 12; j, i = j+1, i+1 {
			id := fmt.Sprintf("evt-%02d", i)
			p := patients[i%3]
			recs = append(recs, audit.Record{ID: id, Body: cliAuditEvent(id, p, fmt.Sprintf("Observation/obs-%d/_history/1", i))})
			ids = append(ids, id)
			patientOf[id] = p
		}
		if err := sink.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return ids, patientOf
}

// exportIDs runs `fhirgate audit export` and returns the ids of the NDJSON lines, checking each line
// is one AuditEvent.
func exportIDs(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"audit", "export"}, args...), &out, &errb); code != 0 {
		t.Fatalf("audit export %v: exit %d: %s", args, code, errb.String())
	}
	var ids []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct{ ResourceType, ID string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ResourceType != "AuditEvent" {
			t.Fatalf("export line is not one AuditEvent: %q (%v)", sc.Text(), err)
		}
		ids = append(ids, ev.ID)
	}
	if !strings.Contains(errb.String(), fmt.Sprintf("exported %d audit events", len(ids))) {
		t.Errorf("stderr %q does not count the %d events", errb.String(), len(ids))
	}
	return ids
}

func TestAuditVerifyAndExport(t *testing.T) {
	dir := t.TempDir()
	ids, patientOf := buildAuditStore(t, dir)
	storeFlag := "file:" + dir

	t.Run("verify an intact store", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"audit", "verify", "--store", storeFlag}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
		}
		s := out.String()
		t.Logf("fhirgate audit verify: %s", s)
		if !strings.Contains(s, "intact") || !strings.Contains(s, fmt.Sprintf("%d records", len(ids))) ||
			!regexp.MustCompile(`\d+ records/s`).MatchString(s) || !regexp.MustCompile(`head [0-9a-f]{64}`).MatchString(s) {
			t.Fatalf("output %q: want intact, the count (%d records), a records/s rate and the head", s, len(ids))
		}
	})

	t.Run("export", func(t *testing.T) {
		if got := exportIDs(t, "--since", "2000-01-01", "--store", storeFlag); !slices.Equal(got, ids) {
			t.Fatalf("export: %v, want every event oldest first %v", got, ids)
		}
		if got := exportIDs(t, "--since", "2999-01-01", "--store", storeFlag); len(got) != 0 {
			t.Fatalf("export since the future: %v", got)
		}
		for _, p := range []string{"pat-alice", "Patient/pat-bob"} {
			want := []string{}
			for _, id := range ids {
				if patientOf[id] == "Patient/"+strings.TrimPrefix(p, "Patient/") {
					want = append(want, id)
				}
			}
			got := exportIDs(t, "--since", "2000-01-01", "--patient", p, "--store", storeFlag)
			if !slices.Equal(append([]string{}, got...), want) {
				t.Fatalf("export --patient %s: %v, want %v", p, got, want)
			}
		}
		var out, errb bytes.Buffer
		if code := run([]string{"audit", "export", "--store", storeFlag}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--since") {
			t.Fatalf("export without --since: exit %d, %q", code, errb.String())
		}
	})

	t.Run("verify an altered store", func(t *testing.T) {
		// Flip one bit of the 5th event's stored body, directly in the database (its one record).
		victim := ids[4]
		db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
		if err != nil {
			t.Fatal(err)
		}
		ckey := []byte("cAuditEvent\x00" + victim)
		for _, k := range [][]byte{ckey} {
			val, closer, err := db.Get(k)
			if err != nil {
				db.Close()
				t.Fatalf("key %q: %v", k, err)
			}
			// The body is stored compressed (ADR 0008): a flipped byte near its end either decodes to other
			// bytes or does not decode at all; verify must call both altered.
			edited := bytes.Clone(val)
			closer.Close()
			if len(edited) < 64 {
				db.Close()
				t.Fatal("nothing to edit")
			}
			edited[len(edited)-3] ^= 0x20
			if err := db.Set(k, edited, pebble.Sync); err != nil {
				db.Close()
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run([]string{"audit", "verify", "--store", storeFlag}, &out, &errb)
		if code == 0 {
			t.Fatalf("exit 0 on an altered store: %s", out.String())
		}
		s := out.String()
		t.Logf("fhirgate audit verify (exit %d): %s", code, s)
		if !strings.Contains(s, "BROKEN") || !strings.Contains(s, "AuditEvent/"+victim+"/_history/1") || !strings.Contains(s, "record 5 ") ||
			!strings.Contains(s, "altered") || !strings.Contains(s, "4 records verified") {
			t.Fatalf("output %q: want BROKEN naming record 5, AuditEvent/%s/_history/1, altered, 4 records verified before it", s, victim)
		}
		if !strings.Contains(errb.String(), "tampered") {
			t.Fatalf("stderr %q", errb.String())
		}
	})
}

// quietPebble silences Pebble's log.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
