package embedded

import (
	"context"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/storetest"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	var last *store.Version
	for i := 0; i < 3; i++ {
		vs, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Patient", ID: "p", Method: "PUT",
			Body: []byte(`{"resourceType":"Patient","id":"p"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		last = vs[0]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, "Patient", "p"); err == nil {
		t.Fatal("read after close succeeded")
	}
	s = open(t, dir)
	defer s.Close()
	cur, err := s.Read(ctx, "Patient", "p")
	if err != nil || cur.VersionID != 3 || string(cur.Body) != string(last.Body) {
		t.Fatalf("after reopen: %+v, %v", cur, err)
	}
	// The sequence and the clock continue where they stopped.
	vs, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Patient", ID: "q", Method: "PUT",
		Body: []byte(`{"resourceType":"Patient","id":"q"}`)}}})
	if err != nil || vs[0].Seq != last.Seq+1 || vs[0].LastUpdated.Before(last.LastUpdated) {
		t.Fatalf("after reopen, new version %+v (last seq %d)", vs[0], last.Seq)
	}
}
