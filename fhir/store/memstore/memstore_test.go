package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New(Config{}) })
}

func put(typ, id, extra string) store.Op {
	return store.Op{Type: typ, ID: id, Method: "PUT", Body: []byte(fmt.Sprintf(`{"resourceType":%q,"id":%q%s}`, typ, id, extra))}
}

// A fixed clock gives every version its instant, to the millisecond; the observer sees every commit.
func TestConfig(t *testing.T) {
	at := time.Date(2026, 5, 4, 3, 2, 1, 999_999_999, time.UTC)
	var observed []string
	s := New(Config{Now: func() time.Time { return at }, CommitObserver: func(d time.Duration, ops int, err error) {
		observed = append(observed, fmt.Sprint(ops, err == nil))
	}})
	defer s.Close()
	vs, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{put("Patient", "a", ""), put("Patient", "b", "")}})
	if err != nil || !vs[0].LastUpdated.Equal(at.Truncate(time.Millisecond)) || !vs[1].LastUpdated.Equal(vs[0].LastUpdated) {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	if _, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{{Type: "Patient"}}}); err == nil {
		t.Fatal("a commit of an op without an id or a body succeeded")
	}
	if fmt.Sprint(observed) != "[2 true 1 false]" {
		t.Fatalf("observed %v", observed)
	}
}

// What a caller does with what it got does not change the store; what it gave is copied.
func TestCopies(t *testing.T) {
	ctx := context.Background()
	s := New(Config{})
	defer s.Close()
	op := put("Patient", "a", "")
	op.Index = []store.IndexEntry{{Param: "name", Value: []byte("ann")}}
	vs, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{op}})
	if err != nil {
		t.Fatal(err)
	}
	op.Index[0].Value[0] = 'X'
	vs[0].Body[0] = 'X'
	v, _ := s.Read(ctx, "Patient", "a")
	v.Body[1] = 'X'
	got, _ := s.Read(ctx, "Patient", "a")
	if got.Body[0] != '{' || got.Body[1] != '"' {
		t.Fatalf("the stored body changed: %s", got.Body)
	}
	e, _ := s.IndexEntries(ctx, "Patient", "a")
	if string(e[0].Value) != "ann" {
		t.Fatalf("the stored index changed: %q", e[0].Value)
	}
	e[0].Value[0] = 'Y'
	if vals, _ := s.IndexValues(ctx, "Patient", "a", "name"); string(vals[0]) != "ann" {
		t.Fatalf("the stored index changed: %q", vals[0])
	}
}

// Scans call back without holding the store's lock: a callback may read and write the store.
func TestScanCallbacksMayUseTheStore(t *testing.T) {
	ctx := context.Background()
	s := New(Config{})
	defer s.Close()
	var ops []store.Op
	for i := range 600 {
		op := put("Patient", fmt.Sprintf("p%03d", i), "")
		op.Index = []store.IndexEntry{{Param: "name", Value: []byte("same")}}
		ops = append(ops, op)
	}
	if _, err := s.Commit(ctx, &store.Tx{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.IndexScan(ctx, "Patient", "name", nil, nil, func(_ []byte, id string) bool {
		if _, err := s.Read(ctx, "Patient", id); err != nil {
			t.Fatal(err)
		}
		if n%100 == 0 {
			if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{put("Observation", id, "")}}); err != nil {
				t.Fatal(err)
			}
		}
		n++
		return true
	})
	if err != nil || n != 600 {
		t.Fatalf("scanned %d, %v", n, err)
	}
	n = 0
	var readErr error
	err = s.ScanIDs(ctx, "Patient", func(id string) bool {
		n++
		_, readErr = s.ReadMany(ctx, "Patient", []string{id})
		return readErr == nil
	})
	if err != nil || readErr != nil || n != 600 {
		t.Fatalf("ScanIDs gave %d ids, %v (reading them: %v)", n, err, readErr)
	}
}

// Readers and writers at once: every read sees whole commits (the race detector watches the rest).
func TestReadersDuringCommits(t *testing.T) {
	ctx := context.Background()
	s := New(Config{})
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				a, b := put("Patient", fmt.Sprintf("w%d", w), ""), put("Observation", fmt.Sprintf("w%d", w), "")
				a.Index = []store.IndexEntry{{Param: "n", Value: []byte(fmt.Sprint(i))}}
				if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{a, b}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := s.History(ctx, store.HistoryQuery{})
				if err != nil {
					t.Error(err)
					return
				}
				// A commit writes a Patient and an Observation: a read never sees half of one.
				if len(h)%2 != 0 {
					t.Errorf("history shows half a commit: %d versions", len(h))
				}
				if err := s.IndexScan(ctx, "Patient", "n", nil, nil, func([]byte, string) bool { return true }); err != nil {
					t.Error(err)
					return
				}
				if err := s.ChainRecords(ctx, func(store.ChainRecord) bool { return true }); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Changes(ctx, "Patient"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n, _ := s.Changes(ctx, "Patient"); n != 400 {
		t.Fatalf("%d Patient writes counted, want 400", n)
	}
}

// A closed store refuses everything, as unavailable.
func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := New(Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err := s.Read(ctx, "Patient", "a")
	if !errors.Is(err, store.ErrClosed) || fhir.KindOf(err) != fhir.KindUnavailable {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{put("Patient", "a", "")}}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("commit after close: %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("ping after close: %v", err)
	}
}
