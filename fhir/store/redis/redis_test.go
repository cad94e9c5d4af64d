package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/fhir/store/storetest"
	"fhirgate/internal/sharedtest"
)

// openTest opens a store on the test Redis under a fresh key prefix, removed when the test ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	url := sharedtest.RedisURL(t)
	var b [6]byte
	rand.Read(b[:])
	prefix := "fhirgate-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		if err := redistest.Drop(context.Background(), url, prefix); err != nil {
			t.Errorf("cleaning up %s: %v", prefix, err)
		}
	})
	s, err := Open(context.Background(), Config{URL: url, Prefix: prefix, AcceptDataLoss: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

var quiet = slog.New(slog.DiscardHandler)

// Two stores on the same prefix are two processes sharing one Redis: each sees the other's writes at
// once, and If-Match decides between them.
func TestTwoClientsShareTheStore(t *testing.T) {
	a := openTest(t)
	b, err := Open(context.Background(), Config{URL: sharedtest.RedisURL(t), Prefix: a.Prefix(), AcceptDataLoss: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	vs, err := a.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Patient", ID: "p", Method: "PUT", Body: []byte(`{"resourceType":"Patient","id":"p"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Read(ctx, "Patient", "p")
	if err != nil || got.VersionID != 1 || got.Seq != vs[0].Seq {
		t.Fatalf("the other client reads %+v, %v", got, err)
	}
	n, _ := b.Changes(ctx, "Patient")
	if n != 1 {
		t.Fatalf("the other client counts %d Patient writes", n)
	}
	// Both update against version 1: one wins, the other is told the version moved.
	errs := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() {
			_, err := s.Commit(ctx, &store.Tx{Ops: []store.Op{{Type: "Patient", ID: "p", Method: "PUT", IfMatch: 1,
				Body: []byte(`{"resourceType":"Patient","id":"p","active":true}`)}}})
			errs <- err
		}()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("If-Match from two clients: %v and %v", e1, e2)
	}
	cur, _ := a.Read(ctx, "Patient", "p")
	if cur.VersionID != 2 {
		t.Fatalf("current version %d", cur.VersionID)
	}
}

func TestRefusesUnsafePersistence(t *testing.T) {
	url := sharedtest.RedisURL(t)
	s, err := Open(context.Background(), Config{URL: url, Prefix: "fhirgate-test:unsafe:"})
	if err == nil {
		d := s.Durability()
		s.Close()
		if !d.Safe {
			t.Fatalf("opened on %s without acceptance", d)
		}
		t.Skip("the test Redis runs with appendfsync always; nothing to refuse")
	}
	if !errors.Is(err, ErrUnsafePersistence) || !strings.Contains(err.Error(), "appendfsync always") {
		t.Fatalf("error %v", err)
	}
}

func TestParseURL(t *testing.T) {
	opts, prefix, err := ParseURL("rediss://user:secret@cache.example:6380/3?prefix=fg1:")
	if err != nil || opts.Addr != "cache.example:6380" || opts.DB != 3 || opts.Username != "user" || opts.Password != "secret" ||
		opts.TLSConfig == nil || prefix != "fg1:" || opts.ReadTimeout == 0 {
		t.Fatalf("%+v %q %v", opts, prefix, err)
	}
	for _, bad := range []string{"http://x", "file:./data", "redis://host:1/notanumber"} {
		if _, _, err := ParseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
