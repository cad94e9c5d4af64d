package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"fhirgate/fhir/store"
)

// testRecords: records are put, read, swapped only from the value expected, listed in key order within
// their namespace, and deleted; they are no resources.
func testRecords(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetRecord(ctx, "jobs", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing record: %v, want ErrNotFound", err)
	}
	if err := s.PutRecord(ctx, "jobs", "b", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, "other", "a", []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		old, value []byte
		want       bool
	}{
		{"create over an existing record", nil, []byte("x"), false},
		{"from a stale value", []byte("zero"), []byte("x"), false},
		{"from the current value", []byte("one"), []byte("two"), true},
		{"again from the value it had", []byte("one"), []byte("x"), false},
	} {
		ok, err := s.SwapRecord(ctx, "jobs", "b", tc.old, tc.value)
		if err != nil || ok != tc.want {
			t.Errorf("%s: swapped %v (%v), want %v", tc.name, ok, err, tc.want)
		}
	}
	if ok, err := s.SwapRecord(ctx, "jobs", "a", nil, []byte("new")); !ok || err != nil {
		t.Errorf("creating a record by swap: %v %v", ok, err)
	}
	var listed []string
	if err := s.ListRecords(ctx, "jobs", func(k string, v []byte) bool {
		listed = append(listed, k+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(listed) != "[a=new b=two]" {
		t.Errorf("listed %v, want [a=new b=two]", listed)
	}
	if ok, err := s.SwapRecord(ctx, "jobs", "a", []byte("new"), nil); !ok || err != nil {
		t.Errorf("deleting a record by swap: %v %v", ok, err)
	}
	if err := s.DeleteRecord(ctx, "jobs", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, "jobs", "b"); err != nil {
		t.Errorf("deleting a missing record: %v", err)
	}
	n := 0
	if err := s.ListRecords(ctx, "jobs", func(string, []byte) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("%d records left (%v)", n, err)
	}
	if v, err := s.GetRecord(ctx, "other", "a"); err != nil || string(v) != "elsewhere" {
		t.Errorf("another namespace's record: %q %v", v, err)
	}
	if vs, err := s.History(ctx, store.HistoryQuery{}); err != nil || len(vs) != 0 {
		t.Errorf("records made history: %d versions (%v)", len(vs), err)
	}
}

// testRecordSwapRace: of writers swapping from the same value at once, exactly one wins.
func testRecordSwapRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.PutRecord(ctx, "lease", "job", []byte("free")); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.SwapRecord(ctx, "lease", "job", []byte("free"), []byte(fmt.Sprint("holder ", i)))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d writers took the record, want 1", won.Load())
	}
}
