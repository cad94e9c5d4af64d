package redis

import (
	"context"
	"testing"

	"fhirgate/internal/sharedtest"
)

// TestRecordsShared: two stores on one prefix are two processes: a record one writes, the other reads,
// and of the two swapping from the same value, one wins.
func TestRecordsShared(t *testing.T) {
	a := openTest(t)
	b, err := Open(context.Background(), Config{URL: sharedtest.RedisURL(t), Prefix: a.Prefix(), AcceptDataLoss: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := a.PutRecord(ctx, "export", "job", []byte("lease: a")); err != nil {
		t.Fatal(err)
	}
	if v, err := b.GetRecord(ctx, "export", "job"); err != nil || string(v) != "lease: a" {
		t.Fatalf("the other process reads %q, %v", v, err)
	}
	if ok, err := b.SwapRecord(ctx, "export", "job", []byte("lease: a"), []byte("lease: b")); !ok || err != nil {
		t.Fatalf("the other process's swap: %v %v", ok, err)
	}
	if ok, err := a.SwapRecord(ctx, "export", "job", []byte("lease: a"), []byte("lease: a again")); ok || err != nil {
		t.Errorf("a swap from a stale value: %v %v", ok, err)
	}
}
