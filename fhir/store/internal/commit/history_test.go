package commit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// newestFirst offers versions of seq n down to 1, one a second, and counts how many it offered.
func newestFirst(n int, offered *int) iter.Seq2[*store.Version, error] {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func(yield func(*store.Version, error) bool) {
		for i := n; i >= 1; i-- {
			*offered++
			if !yield(&store.Version{Seq: uint64(i), LastUpdated: t0.Add(time.Duration(i) * time.Second)}, nil) {
				return
			}
		}
	}
}

func seqs(vs []*store.Version) string {
	var out []uint64
	for _, v := range vs {
		out = append(out, v.Seq)
	}
	return fmt.Sprint(out)
}

func TestCollect(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		q       store.HistoryQuery
		want    string
		offered int // the iterator stops as soon as the page is complete
	}{
		{store.HistoryQuery{}, "[5 4 3 2 1]", 5},
		{store.HistoryQuery{Limit: 2}, "[5 4]", 2},
		{store.HistoryQuery{Before: 4}, "[3 2 1]", 5},
		{store.HistoryQuery{Before: 4, Limit: 1}, "[3]", 3},
		{store.HistoryQuery{Since: t0.Add(3 * time.Second)}, "[5 4 3]", 4},
		{store.HistoryQuery{Since: t0.Add(9 * time.Second)}, "[]", 1},
	} {
		offered := 0
		got, err := Collect(ctx, tc.q, newestFirst(5, &offered))
		if err != nil || seqs(got) != tc.want || offered != tc.offered {
			t.Errorf("%+v: %s (%d offered), %v; want %s (%d offered)", tc.q, seqs(got), offered, err, tc.want, tc.offered)
		}
	}
	boom := errors.New("boom")
	_, err := Collect(ctx, store.HistoryQuery{}, func(yield func(*store.Version, error) bool) {
		if yield(&store.Version{Seq: 2}, nil) {
			yield(nil, boom)
		}
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	offered := 0
	if _, err := Collect(cancelled, store.HistoryQuery{}, newestFirst(5, &offered)); !errors.Is(err, context.Canceled) || offered != 1 {
		t.Fatalf("cancelled: %v after %d", err, offered)
	}
	if n := Remaining(store.HistoryQuery{Limit: 250}, 100, 200); n != 150 {
		t.Fatalf("remaining %d", n)
	}
	if n := Remaining(store.HistoryQuery{}, 100, 200); n != 200 {
		t.Fatalf("remaining without limit %d", n)
	}
}

func TestParseEntry(t *testing.T) {
	e, err := ParseEntry(store.HistoryQuery{}, codec.Pointer("Patient", "a", 3))
	if err != nil || e != (Entry{"Patient", "a", 3}) {
		t.Fatalf("system entry %+v %v", e, err)
	}
	e, err = ParseEntry(store.HistoryQuery{Type: "Patient"}, codec.Pointer("", "a", 3))
	if err != nil || e != (Entry{"Patient", "a", 3}) {
		t.Fatalf("type entry %+v %v", e, err)
	}
	if _, err := ParseEntry(store.HistoryQuery{}, []byte{1, 2}); err == nil {
		t.Fatal("a short entry parsed")
	}
	if err := e.Missing(nil); !errors.Is(err, store.ErrNotFound) || !strings.Contains(errors.Unwrap(err).Error(), "Patient/a/3") {
		t.Fatalf("missing: %v", err)
	}
}
