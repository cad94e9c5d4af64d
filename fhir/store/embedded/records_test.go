package embedded

import (
	"context"
	"testing"
)

// TestRecordsSurviveReopen: a record written, swapped and deleted is as it was left after the store is
// closed and opened again.
func TestRecordsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	if err := s.PutRecord(ctx, "export", "job-1", []byte("running")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.SwapRecord(ctx, "export", "job-1", []byte("running"), []byte("completed")); !ok || err != nil {
		t.Fatalf("swap: %v %v", ok, err)
	}
	if err := s.PutRecord(ctx, "export", "job-2", []byte("gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, "export", "job-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	var got []string
	if err := s.ListRecords(ctx, "export", func(k string, v []byte) bool {
		got = append(got, k+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "job-1=completed" {
		t.Errorf("after reopening: %v, want [job-1=completed]", got)
	}
}
