package codec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"fhirgate/fhir/store"
)

func auditEventBody(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/auditevent.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDictionaryIsPinned(t *testing.T) {
	h := sha256.Sum256(dict1)
	if got := hex.EncodeToString(h[:]); got != dict1SHA256 {
		t.Fatalf("dictionary 1 is %s, pinned %s: a dictionary values were written with never changes", got, dict1SHA256)
	}
}

func TestVersionCompressed(t *testing.T) {
	body := auditEventBody(t)
	v := &store.Version{VersionID: 1, LastUpdated: time.UnixMilli(1_790_000_000_123).UTC(), Seq: 42, Method: "POST",
		Created: true, Chained: true, Body: body}
	rec := EncodeVersion(v)
	if rec[1]&flagCompressed == 0 {
		t.Fatal("an audit event's body is stored plain")
	}
	// The dictionary is what makes a single event small: at least 4x here (about 3 KB to under 750 bytes).
	if len(rec)*4 > len(body) {
		t.Errorf("a %d-byte audit event is stored in %d bytes", len(body), len(rec))
	}
	var back store.Version
	if err := DecodeVersion(rec, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Body, body) || back.Seq != 42 || !back.Chained || !back.Created || back.Method != "POST" {
		t.Fatalf("round trip: %+v", back)
	}
	// The decoded body is the reader's own: changing it does not change what the next read returns.
	back.Body[0] = 'x'
	var again store.Version
	if err := DecodeVersion(rec, &again); err != nil || !bytes.Equal(again.Body, body) {
		t.Fatal("decoded bodies share memory")
	}
}

// Values written before compression (flag clear) read as they always did.
func TestVersionPlainStillReadable(t *testing.T) {
	body := auditEventBody(t)
	rec := []byte{formatV1, flagCreated, 1, 0xF6, 0x01, 5, 1}
	rec = append(rec, body...)
	var v store.Version
	if err := DecodeVersion(rec, &v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Body, body) || v.Seq != 5 || v.VersionID != 1 {
		t.Fatalf("%+v", v)
	}
	// Small bodies are not worth compressing and stay plain.
	small := EncodeVersion(&store.Version{VersionID: 1, Body: []byte(`{"resourceType":"Basic"}`)})
	if small[1]&flagCompressed != 0 {
		t.Error("a small body was compressed")
	}
}

func TestCorruptCompressedRecord(t *testing.T) {
	body := auditEventBody(t)
	rec := EncodeVersion(&store.Version{VersionID: 1, Seq: 1, Method: "POST", Body: body})
	head := len(EncodeVersion(&store.Version{VersionID: 1, Seq: 1, Method: "POST"})) // where the body starts
	cases := map[string][]byte{
		"truncated":          rec[:len(rec)-20],
		"unknown dictionary": append(append([]byte(nil), rec[:head]...), append([]byte{9}, rec[head+1:]...)...),
		"huge length":        append(append([]byte(nil), rec[:head+1]...), binaryUvarint(1<<40)...),
	}
	for name, b := range cases {
		var v store.Version
		err := DecodeVersion(b, &v)
		if err == nil {
			t.Errorf("%s: decoded", name)
			continue
		}
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: %v is not store.ErrCorrupt", name, err)
		}
	}
}

func binaryUvarint(x uint64) []byte {
	var b []byte
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

func TestIndexListCompressed(t *testing.T) {
	var entries []store.IndexEntry
	for _, p := range []string{"type", "subtype", "action", "outcome", "agent", "agent-role", "entity", "patient", "purpose", "site", "source", "date"} {
		entries = append(entries, store.IndexEntry{Param: p, Value: []byte("http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP " + p)})
	}
	b := EncodeIndexList(entries)
	if b[0] != 0 || b[1] != writeDict {
		t.Fatalf("an index list of %d entries is stored plain", len(entries))
	}
	if len(b) >= len(PlainIndexList(entries)) {
		t.Errorf("compressed %d, plain %d", len(b), len(PlainIndexList(entries)))
	}
	got, err := DecodeIndexList(b, "")
	if err != nil || len(got) != len(entries) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range got {
		if got[i].Param != entries[i].Param || !bytes.Equal(got[i].Value, entries[i].Value) {
			t.Fatalf("entry %d: %+v", i, got[i])
		}
	}
	// A list written plain before compression reads as before.
	plain := PlainIndexList(entries)
	if got, err := DecodeIndexList(plain, "patient"); err != nil || len(got) != 1 {
		t.Fatalf("plain list: %v %v", got, err)
	}
	// A list of an empty parameter name survives (00 00 before it).
	odd := []store.IndexEntry{{Param: "", Value: []byte("x")}}
	if got, err := DecodeIndexList(EncodeIndexList(odd), ""); err != nil || len(got) != 1 || string(got[0].Value) != "x" {
		t.Fatalf("empty parameter: %v %v", got, err)
	}
	// A damaged compressed list is an error, never a panic or garbage.
	bad := append([]byte(nil), b...)
	bad[len(bad)/2] ^= 0xFF
	bad = bad[:len(bad)-3]
	if _, err := DecodeIndexList(bad, ""); err == nil {
		t.Error("a damaged list decoded")
	}
}

func BenchmarkVersionCompressed(b *testing.B) {
	body := auditEventBody(b)
	v := &store.Version{VersionID: 1, Seq: 1, Method: "POST", Body: body}
	rec := EncodeVersion(v)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			EncodeVersion(v)
		}
		b.ReportMetric(float64(len(rec)), "stored-bytes")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		var out store.Version
		for b.Loop() {
			if err := DecodeVersion(rec, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestBlockIDsCompact(t *testing.T) {
	// A derived block lists the events of a batch in the order they were made: v7 UUIDs sharing their
	// time prefix, and the odd id that is not a UUID (a client's, or upper case) kept as it is.
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("019af3c2-%04x-7%03x-8%03x-%012x", 0x5a00+i/16, i*7%4096, i*13%4096, uint64(i)*0x9e3779b97f4a7c15>>16))
	}
	ids = append(ids, "ae-000001", "019AF3C2-5A00-7000-8000-000000000000", "", "019af3c2-5a00-7000-8000-00000000000g")
	b := AppendIDs(nil, ids)
	var got []string
	if err := DecodeIDs(b, func(id string) bool { got = append(got, id); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("round trip:\n%q\n%q", got[:3], ids[:3])
	}
	if plain := 37 * len(ids); len(b)*2 > plain {
		t.Errorf("%d ids in %d bytes (%d length-prefixed)", len(ids), len(b), plain)
	}
	// Blocks written before (length-prefixed ids) still read.
	var old []byte
	for _, id := range ids[:5] {
		old = append(old, byte(len(id)))
		old = append(old, id...)
	}
	got = got[:0]
	if err := DecodeIDs(old, func(id string) bool { got = append(got, id); return true }); err != nil || !slices.Equal(got, ids[:5]) {
		t.Fatalf("old block: %q %v", got, err)
	}
	// A truncated UUID is an error, not garbage.
	if err := DecodeIDs([]byte{0, 4<<1 | 1, 1, 2}, func(string) bool { return true }); err == nil {
		t.Error("a truncated UUID decoded")
	}
}
