package embedded

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"fhirgate/fhir/store"
)

// BenchmarkCommitParallel measures durable (fsynced) single-resource commits from 32 concurrent writers
// on this machine's 2 cores (SetParallelism(16) x GOMAXPROCS), the group-commit throughput.
func BenchmarkCommitParallel(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"heart rate"},"valueQuantity":{"value":72,"unit":"/min"}}`)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("o%d", n.Add(1))
			if _, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{{Type: "Observation", ID: id, Body: body, Method: "POST"}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRead measures reading the current version of a resource.
func BenchmarkRead(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"resourceType":"Patient","gender":"female","birthDate":"1970-01-01"}`)
	for i := 0; i < 1000; i++ {
		if _, err := s.Commit(context.Background(), &store.Tx{Ops: []store.Op{{Type: "Patient", ID: fmt.Sprint(i), Body: body, Method: "PUT"}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Read(context.Background(), "Patient", fmt.Sprint(i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
