package redis

// Fuzz targets of what the engine decodes from its own keys' values (the record formats are codec's,
// fuzzed there): audit chain members, the sequence and clock counters, the fields of a resource's hash
// of versions. No input may panic; what the engine wrote decodes to what it was given.

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

func FuzzChainMember(f *testing.F) {
	link := store.ChainRecord{Seq: 25, Type: "AuditEvent", ID: "ae-24", VersionID: 1,
		Prev: store.ChainHash([32]byte{}, []byte("x")), Hash: store.ChainHash([32]byte{1}, []byte("y"))}
	f.Add(chainMember(link), "AuditEvent", "ae-1", uint64(1), uint64(1))
	f.Add(codec.EncodeChainLink(link), "T", "", uint64(0), uint64(1<<63))
	f.Add([]byte{0, 0, 0}, "AuditEvent", "x", uint64(1<<40), uint64(2))
	f.Fuzz(func(t *testing.T, m []byte, typ, id string, seq, vid uint64) {
		if r, err := decodeChainMember(m); err == nil && !bytes.Equal(chainMember(r), m) {
			t.Fatalf("%x decodes to %+v", m, r)
		}
		if typ == "" || strings.ContainsRune(typ+id, 0) {
			return
		}
		want := store.ChainRecord{Seq: seq, Type: typ, ID: id, VersionID: vid, Prev: link.Hash, Hash: link.Prev}
		if got, err := decodeChainMember(chainMember(want)); err != nil || got != want {
			t.Fatalf("%+v became %+v, %v", want, got, err)
		}
	})
}

func FuzzCounter(f *testing.F) {
	f.Add("1790000000123", uint64(1790000000123))
	f.Add("0", uint64(0))
	f.Add("-1", uint64(1<<64-1))
	f.Add("+5", uint64(5))
	f.Add("18446744073709551616", uint64(1))
	f.Fuzz(func(t *testing.T, s string, n uint64) {
		if got, err := parseCounter(s); err == nil && strings.TrimLeft(strconv.FormatUint(got, 10), "0") != strings.TrimLeft(s, "0") {
			t.Fatalf("%q parses to %d", s, got)
		}
		// The engine sets a counter to a uint64, which Redis keeps in decimal.
		if got, err := parseCounter(strconv.FormatUint(n, 10)); err != nil || got != n {
			t.Fatalf("%d became %d, %v", n, got, err)
		}
	})
}

func FuzzVersionField(f *testing.F) {
	f.Add("3", uint64(3))
	f.Add("03", uint64(1))
	f.Add("", uint64(1<<63))
	f.Fuzz(func(t *testing.T, s string, vid uint64) {
		if got, err := parseVersionField(s); err == nil && versionField(got) != s {
			t.Fatalf("%q parses to %d", s, got)
		}
		if got, err := parseVersionField(versionField(vid)); err != nil || got != vid {
			t.Fatalf("%d became %d, %v", vid, got, err)
		}
	})
}
