package codec

// Fuzz targets of every decoder of stored bytes: bytes read back from Pebble or Redis may be damaged
// (a bad disk, a hand edit, a restored copy), so no input may panic a decoder; and what an encoder wrote
// must decode to what it was given. Each target decodes the raw input, then round-trips a value built
// from the other inputs. Types never contain 0x00 and are never empty where a record names them; ids
// never contain 0x00 (see the engines' key layouts): the round trips keep to that.

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/store"
)

// realVersions are records as the engines write them.
func realVersions() [][]byte {
	lu := time.Date(2026, 3, 1, 10, 0, 0, 123_000_000, time.UTC)
	return [][]byte{
		EncodeVersion(&store.Version{VersionID: 1, LastUpdated: lu, Seq: 1, Method: "POST", Created: true,
			Body: []byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","lastUpdated":"2026-03-01T10:00:00.123Z"}}`)}),
		EncodeVersion(&store.Version{VersionID: 2, LastUpdated: lu, Seq: 300, Method: "DELETE", Deleted: true}),
		EncodeVersion(&store.Version{VersionID: 1, LastUpdated: lu, Seq: 1 << 40, Method: "POST", Created: true, Chained: true,
			Body: []byte(`{"resourceType":"AuditEvent","id":"ae-1"}`)}),
		EncodeVersion(&store.Version{VersionID: 7, LastUpdated: time.UnixMilli(-5).UTC(), Seq: 9, Method: "PATCH", Body: []byte(`{}`)}),
		// compressed (compress.go)
		EncodeVersion(&store.Version{VersionID: 1, LastUpdated: lu, Seq: 2, Method: "POST", Created: true, Chained: true,
			Body: []byte(`{"resourceType":"AuditEvent","id":"ae-2","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"action":"R","outcome":"0"}`)}),
	}
}

func noZero(s ...string) bool {
	for _, x := range s {
		if strings.IndexByte(x, 0) >= 0 {
			return false
		}
	}
	return true
}

func FuzzVersion(f *testing.F) {
	for _, rec := range realVersions() {
		f.Add(rec, uint64(3), int64(1_790_000_000_123), uint64(12), byte(flagCreated), byte(1), []byte(`{"a":1}`))
	}
	f.Add([]byte{formatV1, flagEncrypted, 1, 2, 3, 1}, uint64(0), int64(0), uint64(0), byte(0), byte(0), []byte(nil))
	f.Add([]byte{formatV1, 0, 0x80, 0x80}, uint64(1<<63), int64(-1<<62), uint64(1), byte(0xff), byte(9), []byte{0})
	f.Fuzz(func(t *testing.T, rec []byte, vid uint64, ms int64, seq uint64, flags, method byte, body []byte) {
		var got store.Version
		if err := DecodeVersion(rec, &got); err == nil {
			if got.Deleted != IsDeleted(rec) || (got.Deleted && got.Body != nil) || !slices.Contains(methods, got.Method) {
				t.Fatalf("%x decodes to %+v", rec, got)
			}
			if v, err := DecodeVersionOf("Patient", "x", rec); err != nil || v.Type != "Patient" || v.ID != "x" || v.VersionID != got.VersionID {
				t.Fatalf("DecodeVersionOf disagrees with DecodeVersion: %+v %v", v, err)
			}
		} else if _, err := DecodeVersionOf("Patient", "x", rec); err == nil {
			t.Fatal("DecodeVersionOf decodes what DecodeVersion refuses")
		}
		want := store.Version{VersionID: vid, LastUpdated: time.UnixMilli(ms).UTC(), Seq: seq,
			Method: methods[int(method)%len(methods)], Deleted: flags&flagDeleted != 0, Created: flags&flagCreated != 0,
			Chained: flags&flagChained != 0, Body: body}
		if want.Deleted {
			want.Body = nil // a deletion has no body
		}
		enc := EncodeVersion(&want)
		var back store.Version
		if err := DecodeVersion(enc, &back); err != nil {
			t.Fatalf("%+v: encoded %x does not decode: %v", want, enc, err)
		}
		if back.VersionID != want.VersionID || !back.LastUpdated.Equal(want.LastUpdated) || back.Seq != want.Seq ||
			back.Method != want.Method || back.Deleted != want.Deleted || back.Created != want.Created ||
			back.Chained != want.Chained || !bytes.Equal(back.Body, want.Body) || IsDeleted(enc) != want.Deleted {
			t.Fatalf("round trip: %+v became %+v", want, back)
		}
	})
}

func FuzzPointer(f *testing.F) {
	f.Add(Pointer("Patient", "p1", 3), "Observation", "o-1", uint64(1))
	f.Add(Pointer("", "p1", 1<<33), "AuditEvent", "ae-000001", uint64(1<<63))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, "", "", uint64(0))
	f.Add([]byte("Patient\x00p1\x01\x00\x00\x00\x00\x00\x00\x00\x03"), "T", "i", uint64(2))
	f.Fuzz(func(t *testing.T, p []byte, typ, id string, vid uint64) {
		// What parses is a pointer the encoder would write: the same bytes again.
		for _, withType := range []bool{true, false} {
			gt, gid, gvid, err := ParsePointer(p, withType)
			if err != nil {
				continue
			}
			if withType == (gt == "") || !bytes.Equal(Pointer(gt, gid, gvid), p) {
				t.Fatalf("%x (with type: %v) parses to %q %q %d", p, withType, gt, gid, gvid)
			}
		}
		if typ == "" || !noZero(typ, id) {
			return
		}
		gt, gid, gvid, err := ParsePointer(Pointer(typ, id, vid), true)
		if err != nil || gt != typ || gid != id || gvid != vid {
			t.Fatalf("with type: %q %q %d became %q %q %d, %v", typ, id, vid, gt, gid, gvid, err)
		}
		gt, gid, gvid, err = ParsePointer(Pointer("", id, vid), false)
		if err != nil || gt != "" || gid != id || gvid != vid {
			t.Fatalf("without type: %q %d became %q %d, %v", id, vid, gid, gvid, err)
		}
	})
}

func FuzzIndexTail(f *testing.F) {
	f.Add(IndexTail(nil, []byte("rPatient/pat-alice"), "ae-1"), []byte("chalmers"), "p1", uint64(1))
	f.Add(IndexBlockTail(nil, []byte("crest"), 1024), []byte{0, 0, 1}, "x", uint64(1<<40))
	f.Add(IndexTail(nil, []byte{'L', 0, 0xFF, 0}, ""), []byte{}, "", uint64(0))
	f.Add([]byte{'a', 0}, []byte{0xFF}, "\x01", uint64(7))
	f.Add([]byte{'a', 0, 2, 1}, []byte("v"), "id", uint64(3))
	f.Fuzz(func(t *testing.T, k, value []byte, id string, block uint64) {
		if v, gid, isBlock, err := SplitIndexTail(k); err == nil {
			// Whatever splits is a value and an id (or a block) that make that tail again.
			again := IndexTail(nil, v, gid)
			if isBlock {
				again = IndexBlockTail(nil, v, 0)
				if gid != "" || len(again) != len(k) || !bytes.Equal(again[:len(again)-8], k[:len(k)-8]) {
					t.Fatalf("block tail %x splits to %q %q", k, v, gid)
				}
			} else if !bytes.Equal(again, k) {
				t.Fatalf("tail %x splits to %q %q, which make %x", k, v, gid, again)
			}
		}
		v, gid, isBlock, err := SplitIndexTail(IndexTail(nil, value, id))
		if err != nil || isBlock || !bytes.Equal(v, value) || gid != id {
			t.Fatalf("entry %q %q became %q %q %v, %v", value, id, v, gid, isBlock, err)
		}
		v, gid, isBlock, err = SplitIndexTail(IndexBlockTail(nil, value, block))
		if err != nil || !isBlock || !bytes.Equal(v, value) || gid != "" {
			t.Fatalf("block %q %d became %q %q %v, %v", value, block, v, gid, isBlock, err)
		}
		// Escaping keeps byte order, and a value's tail is never the prefix of another value's.
		other := append(slices.Clone(value), 0)
		if bytes.Compare(IndexTail(nil, value, id), Escape(nil, other)) >= 0 {
			t.Fatalf("the tail of %q sorts after the escaped %q", value, other)
		}
	})
}

func FuzzIDs(f *testing.F) {
	f.Add(AppendIDs(nil, []string{"ae-000001", "ae-000002"}), "a\x00b", "")
	f.Add([]byte{5, 'a'}, "x", "y")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "", "z")
	f.Fuzz(func(t *testing.T, b []byte, a, c string) {
		var got []string
		if err := DecodeIDs(b, func(id string) bool { got = append(got, id); return true }); err == nil {
			// (Lengths may be written with more bytes than needed: decoding the ids' encoding gives them again.)
			var again []string
			if err := DecodeIDs(AppendIDs(nil, got), func(id string) bool { again = append(again, id); return true }); err != nil || !slices.Equal(again, got) {
				t.Fatalf("%x decodes to %q, whose encoding decodes to %q, %v", b, got, again, err)
			}
		}
		stop := 0
		err := DecodeIDs(b, func(string) bool { stop++; return false }) // b may not decode: the stop is what counts
		if stop > 1 {
			t.Fatalf("DecodeIDs went on after fn returned false (and returned %v)", err)
		}
		want := []string{a, c, a}
		got = nil
		if err := DecodeIDs(AppendIDs(nil, want), func(id string) bool { got = append(got, id); return true }); err != nil || !slices.Equal(got, want) {
			t.Fatalf("%q became %q, %v", want, got, err)
		}
	})
}

func FuzzIndexList(f *testing.F) {
	f.Add(EncodeIndexList([]store.IndexEntry{{Param: "family", Value: []byte("pchalmers")}, {Param: "family", Value: []byte("pwindsor")},
		{Param: "gender", Value: []byte("cmale")}}), "family", []byte("v"), "name")
	f.Add(EncodeIndexList([]store.IndexEntry{{Param: "patient", Value: []byte("rPatient/pat-alice")}}), "", []byte{}, "")
	f.Add([]byte{5, 'a'}, "a", []byte{0}, "x")
	f.Add([]byte{1, 'p', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "p", []byte(nil), "p")
	f.Fuzz(func(t *testing.T, b []byte, param string, value []byte, p2 string) {
		all, err := DecodeIndexList(b, "")
		some, err2 := DecodeIndexList(b, param)
		vals, err3 := DecodeIndexValues(b, param)
		if (err == nil) != (err2 == nil) || (err == nil) != (err3 == nil) {
			t.Fatalf("%x: the list decodes (%v) but not filtered by %q (%v, %v)", b, err, param, err2, err3)
		}
		if err == nil {
			again, err := DecodeIndexList(EncodeIndexList(all), "")
			if err != nil || len(again) != len(all) {
				t.Fatalf("%x decodes to %v, whose encoding decodes to %v, %v", b, all, again, err)
			}
			for i := range all {
				if again[i].Param != all[i].Param || !bytes.Equal(again[i].Value, all[i].Value) {
					t.Fatalf("%x: entry %d %v became %v", b, i, all[i], again[i])
				}
			}
			if param != "" && len(vals) != len(some) {
				t.Fatalf("%d values of %q, %d entries", len(vals), param, len(some))
			}
		}
		want := []store.IndexEntry{{Param: param, Value: value}, {Param: p2, Value: []byte("x")}, {Param: param, Value: nil}}
		got, err := DecodeIndexList(EncodeIndexList(want), "")
		if err != nil || len(got) != len(want) {
			t.Fatalf("%v became %v, %v", want, got, err)
		}
		for i := range want {
			if got[i].Param != want[i].Param || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("entry %d: %v became %v", i, want[i], got[i])
			}
		}
	})
}

func FuzzChainLink(f *testing.F) {
	link := store.ChainRecord{Seq: 4, Type: "AuditEvent", ID: "ae-000004", VersionID: 1, Prev: store.ChainHash([32]byte{}, []byte("a")),
		Hash: store.ChainHash([32]byte{1}, []byte("b"))}
	f.Add(EncodeChainLink(link), uint64(4), "AuditEvent", "x", uint64(1), []byte("prev"), []byte("hash"))
	f.Add(make([]byte, 73), uint64(0), "T", "", uint64(0), []byte{}, []byte{})
	f.Add(EncodeChainLink(link)[:72], uint64(1<<63), "AuditEvent", "ae", uint64(2), []byte{1}, []byte{2})
	f.Fuzz(func(t *testing.T, val []byte, seq uint64, typ, id string, vid uint64, prev, hash []byte) {
		if r, err := DecodeChainLink(seq, val); err == nil && (r.Seq != seq || r.Type == "" || !bytes.Equal(EncodeChainLink(r), val)) {
			t.Fatalf("%x decodes to %+v", val, r)
		}
		if typ == "" || !noZero(typ, id) {
			return
		}
		want := store.ChainRecord{Seq: seq, Type: typ, ID: id, VersionID: vid}
		copy(want.Prev[:], prev)
		copy(want.Hash[:], hash)
		got, err := DecodeChainLink(seq, EncodeChainLink(want))
		if err != nil || got != want {
			t.Fatalf("%+v became %+v, %v", want, got, err)
		}
	})
}

func FuzzChainHead(f *testing.F) {
	f.Add(EncodeChainHead(30, store.ChainHash([32]byte{}, []byte("x"))), uint64(30), []byte("h"))
	f.Add([]byte{1}, uint64(0), []byte{})
	f.Add(make([]byte, 41), uint64(1<<63), make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte, seq uint64, hash []byte) {
		if s, h, err := DecodeChainHead(b); err == nil && !bytes.Equal(EncodeChainHead(s, h), b) {
			t.Fatalf("%x decodes to %d %x", b, s, h)
		}
		var want [32]byte
		copy(want[:], hash)
		s, h, err := DecodeChainHead(EncodeChainHead(seq, want))
		if err != nil || s != seq || h != want {
			t.Fatalf("%d %x became %d %x, %v", seq, want, s, h, err)
		}
	})
}
