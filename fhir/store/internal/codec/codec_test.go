package codec

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/store"
)

func TestRecordRoundTripAndRefusals(t *testing.T) {
	v := &store.Version{VersionID: 7, Method: "PATCH", Body: []byte(`{"a":1}`), Seq: 99, Created: true,
		LastUpdated: time.UnixMilli(1_790_000_000_123).UTC()}
	rec := EncodeVersion(v)
	var got store.Version
	if err := DecodeVersion(rec, &got); err != nil || got.VersionID != 7 || got.Method != "PATCH" || got.Seq != 99 ||
		!got.Created || got.Deleted || !got.LastUpdated.Equal(v.LastUpdated) || string(got.Body) != `{"a":1}` {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if IsDeleted(rec) || !IsDeleted(EncodeVersion(&store.Version{Deleted: true, Method: "DELETE"})) {
		t.Fatal("IsDeleted")
	}
	enc := slices.Clone(rec)
	enc[1] |= flagEncrypted
	if err := DecodeVersion(enc, &store.Version{}); err == nil {
		t.Fatal("a record marked encrypted was decoded as plain")
	}
	enc = slices.Clone(rec)
	enc[0] = 9
	if err := DecodeVersion(enc, &store.Version{}); err == nil {
		t.Fatal("an unknown format was decoded")
	}
	for n := range 6 {
		if err := DecodeVersion(rec[:n], &store.Version{}); err == nil {
			t.Fatalf("a record cut at %d bytes was decoded", n)
		}
	}
}

// Index tails sort by value, then id, whatever bytes the values hold; a value's blocks come after its
// single entries (in block order) and before the next value.
func TestIndexTailOrder(t *testing.T) {
	values := [][]byte{[]byte("a"), []byte("a\x00"), []byte("a\x00b"), []byte("a\x01"), []byte("ab"), {}, []byte("\x00")}
	var tails [][]byte
	for _, v := range values {
		for _, id := range []string{"2", "1"} {
			tails = append(tails, IndexTail(nil, v, id))
		}
		for _, b := range []uint64{1 << 40, 7, 256} {
			tails = append(tails, IndexBlockTail(nil, v, b))
		}
	}
	slices.SortFunc(tails, bytes.Compare)
	var prev []byte
	prevID, prevBlock := "", false
	blocks := 0
	for i, tail := range tails {
		v, id, block, err := SplitIndexTail(tail)
		if err != nil {
			t.Fatal(err)
		}
		if block {
			blocks++
			if id != "" {
				t.Fatalf("block tail %q gives id %q", tail, id)
			}
		}
		if i > 0 {
			c := bytes.Compare(prev, v)
			if c > 0 || c == 0 && (prevBlock && !block || !prevBlock && !block && prevID >= id) {
				t.Fatalf("%q/%s (block %v) sorts after %q/%s (block %v)", prev, prevID, prevBlock, v, id, block)
			}
		}
		prev, prevID, prevBlock = v, id, block
	}
	if blocks != 3*len(values) {
		t.Fatalf("%d blocks split back, want %d", blocks, 3*len(values))
	}
	if _, _, _, err := SplitIndexTail(append(Escape(nil, []byte("a")), 0, 2, 1)); err == nil {
		t.Fatal("a block tail without its 8-byte number is accepted")
	}
	ids := []string{"a", "", "ae-\x00-1", strings.Repeat("x", 300)}
	var got []string
	if err := DecodeIDs(AppendIDs(nil, ids), func(id string) bool { got = append(got, id); return true }); err != nil || !slices.Equal(got, ids) {
		t.Fatalf("ids %q round trip to %q, %v", ids, got, err)
	}
	if err := DecodeIDs([]byte{5, 'a'}, func(string) bool { return true }); err == nil {
		t.Fatal("a truncated id list is accepted")
	}
}

func TestChainLinkAndHead(t *testing.T) {
	r := store.ChainRecord{Seq: 4, Type: "AuditEvent", ID: "x", VersionID: 1, Prev: [32]byte{1}, Hash: [32]byte{2}}
	got, err := DecodeChainLink(4, EncodeChainLink(r))
	if err != nil || got != r {
		t.Fatalf("%+v %v", got, err)
	}
	seq, h, err := DecodeChainHead(EncodeChainHead(9, r.Hash))
	if err != nil || seq != 9 || h != r.Hash {
		t.Fatal("head round trip")
	}
	if _, _, err := DecodeChainHead([]byte{1}); err == nil {
		t.Fatal("a short head was decoded")
	}
}
