package embedded

// Fuzz targets of what the engine decodes from its own keys and values (the record formats are
// codec's, fuzzed there): history and chain keys, chain links at their keys, the derived position, and
// the ids and index values read back out of keys. No input may panic; what the encoders wrote decodes to
// what they were given. Types, parameters and ids never contain 0x00: the round trips keep to that.

import (
	"bytes"
	"strings"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

func FuzzSeqKey(f *testing.F) {
	f.Add(systemKey(1), uint64(1))
	f.Add(chainKey(1<<40), uint64(1<<63))
	f.Add(typeKey("Patient", 3), uint64(0))
	f.Add([]byte{pSystem}, uint64(255))
	f.Fuzz(func(t *testing.T, key []byte, seq uint64) {
		for _, prefix := range []byte{pSystem, pChain} {
			if got, err := parseSeqKey(prefix, key); err == nil && !bytes.Equal(binaryKey(prefix, got), key) {
				t.Fatalf("%x parses to %d", key, got)
			}
		}
		if got, err := parseSeqKey(pSystem, systemKey(seq)); err != nil || got != seq {
			t.Fatalf("system key %d became %d, %v", seq, got, err)
		}
		if got, err := parseSeqKey(pChain, chainKey(seq)); err != nil || got != seq {
			t.Fatalf("chain key %d became %d, %v", seq, got, err)
		}
		if _, err := parseSeqKey(pChain, systemKey(seq)); err == nil {
			t.Fatal("a history key parsed as a chain key")
		}
	})
}

func binaryKey(prefix byte, seq uint64) []byte {
	if prefix == pChain {
		return chainKey(seq)
	}
	return systemKey(seq)
}

func FuzzChainLinkAtKey(f *testing.F) {
	link := store.ChainRecord{Seq: 12, Type: "AuditEvent", ID: "ae-000011", VersionID: 1,
		Prev: store.ChainHash([32]byte{}, []byte("x")), Hash: store.ChainHash([32]byte{1}, []byte("y"))}
	f.Add(chainKey(12), codec.EncodeChainLink(link), "AuditEvent", "ae-1", uint64(12))
	f.Add(systemKey(12), codec.EncodeChainLink(link), "T", "", uint64(0))
	f.Add(chainKey(1), []byte{0}, "AuditEvent", "x", uint64(1<<63))
	f.Fuzz(func(t *testing.T, key, val []byte, typ, id string, seq uint64) {
		if r, err := decodeChainLink(key, val); err == nil && (!bytes.Equal(chainKey(r.Seq), key) || !bytes.Equal(codec.EncodeChainLink(r), val)) {
			t.Fatalf("%x -> %x decodes to %+v", key, val, r)
		}
		if typ == "" || strings.ContainsRune(typ+id, 0) {
			return
		}
		want := store.ChainRecord{Seq: seq, Type: typ, ID: id, VersionID: seq / 3, Prev: link.Hash, Hash: link.Prev}
		got, err := decodeChainLink(chainKey(seq), codec.EncodeChainLink(want))
		if err != nil || got != want {
			t.Fatalf("%+v became %+v, %v", want, got, err)
		}
	})
}

func FuzzDerived(f *testing.F) {
	f.Add(encodeDerived(40), uint64(40))
	f.Add([]byte{1, 2, 3}, uint64(0))
	f.Add(make([]byte, 9), uint64(1<<63))
	f.Fuzz(func(t *testing.T, b []byte, seq uint64) {
		if got, err := decodeDerived(b); err == nil && !bytes.Equal(encodeDerived(got), b) {
			t.Fatalf("%x decodes to %d", b, got)
		}
		if got, err := decodeDerived(encodeDerived(seq)); err != nil || got != seq {
			t.Fatalf("%d became %d, %v", seq, got, err)
		}
	})
}

// FuzzKeys: what the scans read back out of keys. ScanIDs takes an id from a current key after the
// type's prefix; IndexScan splits an index key after the parameter's prefix; instance history walks a
// resource's version keys, which must hold none of another resource's.
func FuzzKeys(f *testing.F) {
	f.Add("Patient", "p1", "family", []byte("pchalmers"), uint64(3), "p10")
	f.Add("AuditEvent", "ae-000001", "patient", []byte("rPatient/pat-alice"), uint64(1), "ae-000001x")
	f.Add("Observation", "o", "date", []byte{'L', 0, 0xFF}, uint64(1<<40), "")
	f.Fuzz(func(t *testing.T, typ, id, param string, value []byte, vid uint64, other string) {
		if typ == "" || id == "" || strings.ContainsRune(typ+id+param+other, 0) {
			return
		}
		prefix := currentKey(typ, "")
		if k := currentKey(typ, id); !bytes.HasPrefix(k, prefix) || string(k[len(prefix):]) != id {
			t.Fatalf("current key %q does not give back %q", k, id)
		}
		pp := indexParamPrefix(typ, param)
		k := indexKey(typ, param, value, id)
		v, gid, block, err := codec.SplitIndexTail(k[len(pp):])
		if !bytes.HasPrefix(k, pp) || err != nil || block || !bytes.Equal(v, value) || gid != id {
			t.Fatalf("index key %q splits to %q %q %v, %v", k, v, gid, block, err)
		}
		// A resource's version keys lie between its prefix and the key of any later version, and no
		// other resource's lie there.
		vk, vp := versionKey(typ, id, vid), versionPrefix(typ, id)
		if !bytes.HasPrefix(vk, vp) || len(vk) != len(vp)+8 {
			t.Fatalf("version key %q outside its prefix %q", vk, vp)
		}
		if other != id && bytes.HasPrefix(versionKey(typ, other, vid), vp) {
			t.Fatalf("a version of %s/%s lies among those of %s/%s", typ, other, typ, id)
		}
		if ub := upperBound(vp); ub != nil && bytes.Compare(vk, ub) >= 0 {
			t.Fatalf("version key %q after its prefix's bound %q", vk, ub)
		}
	})
}
