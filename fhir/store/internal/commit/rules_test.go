package commit

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

func TestIndexDiff(t *testing.T) {
	e := func(p, v string) store.IndexEntry { return store.IndexEntry{Param: p, Value: []byte(v)} }
	old := []store.IndexEntry{e("name", "a"), e("name", "b"), e("gender", "f")}
	op := &store.Op{Index: []store.IndexEntry{e("name", "b"), e("name", "c"), e("name", "c"), e("gender", "f")}}
	remove, add, next := IndexDiff(old, op)
	if len(remove) != 1 || string(remove[0].Value) != "a" || len(add) != 1 || string(add[0].Value) != "c" || len(next) != 3 {
		t.Fatalf("remove %v add %v next %v", remove, add, next)
	}
	list, err := codec.DecodeIndexList(codec.EncodeIndexList(next), "name")
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	remove, add, next = IndexDiff(old, &store.Op{Delete: true, Index: op.Index})
	if len(remove) != 3 || len(add) != 0 || len(next) != 0 {
		t.Fatal("a deletion keeps entries")
	}
	if _, err := codec.DecodeIndexList([]byte{5, 'a'}, ""); err == nil {
		t.Fatal("a truncated list was decoded")
	}
}

// distinctEntries keeps what the map-based deduplication keeps, in the same order, whatever the
// arrangement of the entries (grouped by parameter or not, long runs or short).
func TestDistinctEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		var in []store.IndexEntry
		params := []string{"a", "b", "c", "d"}[:1+rng.IntN(4)]
		grouped := rng.IntN(2) == 0
		for len(in) < rng.IntN(80) {
			p := params[rng.IntN(len(params))]
			if grouped && len(in) > 0 && rng.IntN(4) > 0 {
				p = in[len(in)-1].Param
			}
			in = append(in, store.IndexEntry{Param: p, Value: []byte{byte('x' + rng.IntN(40))}})
		}
		got, want := distinctEntries(in), distinctEntriesMap(in)
		if len(got) != len(want) {
			t.Fatalf("%v: %d entries, want %d", in, len(got), len(want))
		}
		for i := range got {
			if got[i].Param != want[i].Param || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("%v: entry %d is %v, want %v", in, i, got[i], want[i])
			}
		}
	}
}
