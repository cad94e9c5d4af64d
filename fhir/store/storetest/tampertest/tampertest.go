// Package tampertest is the shared part of the engines' tamper tests of the audit trail: a store holding
// a chain of AuditEvents (Build), checkpoints of its head signed as the gateway signs them (Sign), and the
// check of what audit.Verify reports once a test has tampered with the engine's own data (Expect). How
// to tamper is each engine's: Pebble keys, Redis keys, in-memory maps.
package tampertest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"fhirgate/audit"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// Events is how many events Build writes: ae-00 to ae-29, links 1 to 30.
const Events = 30

// AuditEvent is the chained create of an AuditEvent as the gateway writes one (abridged), about one of
// three patients, indexed by its patient.
func AuditEvent(id string, n int) store.Op {
	body := fmt.Sprintf(`{"resourceType":"AuditEvent","id":%q,"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},`+
		`"action":"R","recorded":"2026-01-01T00:00:%02dZ","outcome":"0","agent":[{"who":{"reference":"Practitioner/p"},"requestor":true}],`+
		`"source":{"observer":{"reference":"Device/fhirgate"}},"entity":[{"what":{"reference":"Patient/p%d"}}]}`, id, n%60, n%3)
	return store.Op{Type: "AuditEvent", ID: id, Body: []byte(body), Method: "POST", IfNoneExist: true, Chain: true,
		Index: []store.IndexEntry{{Param: "patient", Value: fmt.Appendf(nil, "rPatient/p%d", n%3)}}}
}

// Build writes Events chained events into s, in commits of three; each commit also writes what between
// gives for its first event's number (nil: nothing), as other requests' writes land between audit events.
func Build(tb testing.TB, s store.Store, between func(i int) []store.Op) {
	tb.Helper()
	for i := 0; i < Events; i += 3 {
		var ops []store.Op
		if between != nil {
			ops = between(i)
		}
		for j := i; j < i+3; j++ {
			ops = append(ops, AuditEvent(fmt.Sprintf("ae-%02d", j), j))
		}
		if _, err := s.Commit(context.Background(), &store.Tx{Ops: ops}); err != nil {
			tb.Fatal(err)
		}
	}
}

// Forge writes an AuditEvent outside the chain, as a writer that does not chain would (a rogue one, or
// someone with access to the store's write path), and returns the version it wrote.
func Forge(tb testing.TB, s store.Store, id string) *store.Version {
	tb.Helper()
	op := AuditEvent(id, 5)
	op.Chain = false
	vs, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{op}})
	if err != nil {
		tb.Fatal(err)
	}
	return vs[0]
}

// Sign signs checkpoints of the chain of s at the positions given, with a key of its own, and returns
// them with the key to verify them by.
func Sign(tb testing.TB, s store.ChainStore, positions ...uint64) ([]audit.Checkpoint, string) {
	tb.Helper()
	ctx := context.Background()
	signer := audit.EphemeralSigner()
	var cps []audit.Checkpoint
	for _, seq := range positions {
		link, err := s.ChainLink(ctx, seq)
		if err != nil {
			tb.Fatal(err)
		}
		v, err := s.ReadVersion(ctx, link.Type, link.ID, link.VersionID)
		if err != nil {
			tb.Fatal(err)
		}
		cps = append(cps, signer.Sign(seq, link.Hash, link.Type+"/"+link.ID, v.LastUpdated, v.LastUpdated))
	}
	return cps, signer.PublicKey()
}

// Expect checks what audit.Verify reports of s against the checkpoints: with seq 0 and no reason, an
// intact trail of want records; otherwise a break at position seq (0: any) whose reason says reason.
func Expect(t *testing.T, s store.ChainStore, cps []audit.Checkpoint, key string, want int, seq uint64, reason string) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), s, cps, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seq == 0 && reason == "" {
		if rep.Broken != nil {
			t.Fatalf("an untouched store is reported broken: %s", rep.Broken)
		}
		if rep.Chain.Records != want {
			t.Fatalf("%d records verified, want %d", rep.Chain.Records, want)
		}
		return rep
	}
	if rep.Broken == nil {
		t.Fatalf("the tampering went unnoticed (%d records, %d checkpoints)", rep.Chain.Records, rep.Checkpoints)
	}
	t.Logf("Verify: %s", rep.Broken)
	if seq != 0 && rep.Broken.Seq != seq {
		t.Errorf("the first bad position named is %d, want %d (%s)", rep.Broken.Seq, seq, rep.Broken)
	}
	if !strings.Contains(rep.Broken.Reason, reason) {
		t.Errorf("the reason %q does not say %q", rep.Broken.Reason, reason)
	}
	return rep
}

// FlipOutcome rewrites a stored version record as a careful attacker would: decoded, its body's
// "outcome":"0" made "outcome":"4", encoded again the way the engine encodes it (compressed or not), so
// that the record reads back well formed and only the chain can tell.
func FlipOutcome(tb testing.TB, record []byte) []byte {
	tb.Helper()
	v := &store.Version{}
	if err := codec.DecodeVersion(record, v); err != nil {
		tb.Fatal(err)
	}
	i := bytes.Index(v.Body, []byte(`"outcome":"0"`))
	if i < 0 {
		tb.Fatalf("no outcome in %q", v.Body)
	}
	v.Body[i+len(`"outcome":"`)] = '4'
	return codec.EncodeVersion(v)
}
