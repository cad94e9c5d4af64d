package gateway

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"fhirgate/audit"
)

// BenchmarkReadAuditOn and BenchmarkReadAuditOff: reads by id over HTTP from 32 concurrent clients (2
// cores x 16), with token verification and consent, with and without the durable audit trail (off: the
// events are built, then dropped). BenchmarkReadAuditFsyncOnly stores them with a sink that does nothing
// but append their bytes to a file and fdatasync it per group: the cost of durability alone, the ceiling
// of any audit store that syncs before answering (BenchmarkReadAuditDsyncOnly: the same with O_DSYNC
// writes).
//
//	go test -run '^$' -bench 'ReadAudit' -benchtime 30000x ./gateway/
func BenchmarkReadAuditOn(b *testing.B) { benchReads(b, nil) }

func BenchmarkReadAuditOff(b *testing.B) { benchReads(b, discardSink{}) }

func BenchmarkReadAuditFsyncOnly(b *testing.B) { benchReads(b, newSyncSink(b)) }

// BenchmarkReadAuditDsyncOnly: the same ceiling with each request's events written to an O_DSYNC file
// (durable when the write returns, no separate sync), the other way to make bytes durable.
func BenchmarkReadAuditDsyncOnly(b *testing.B) { benchReads(b, newDsyncSink(b)) }

// benchGCPercent is the collector's target fhirgate serve runs with (cmd/fhirgate, serverGCPercent).
const benchGCPercent = 400

func benchReads(b *testing.B, sink audit.Sink) {
	defer debug.SetGCPercent(debug.SetGCPercent(benchGCPercent))
	opts := authOptions{consentDefault: "permit", denyStatus: 404}
	if sink != nil {
		opts.audit = &audit.Config{Sink: sink}
	}
	a := newAuthServer(b, opts)
	tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-martin")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	paths := []string{"/Patient/pat-alice", "/Observation/obs-bob-01", "/Patient/pat-david", "/Encounter/enc-chloe-1"}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			pipelineRead(b, client, a.base+paths[i%len(paths)], tok)
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// syncSink appends events to a preallocated file and makes them durable with fdatasync, one sync for
// every event written before it (group commit): an audit store that costs nothing but its durability.
type syncSink struct {
	f       *os.File
	mu      sync.Mutex // the file's end
	end     int64
	syncMu  sync.Mutex // one sync at a time
	durable int64      // guarded by syncMu
	events  atomic.Int64
	syncs   atomic.Int64
}

func newSyncSink(b *testing.B) *syncSink {
	f, err := os.Create(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, 1<<30); err != nil {
		b.Fatal(err)
	}
	s := &syncSink{f: f}
	b.Cleanup(func() {
		if n := s.syncs.Load(); n > 0 {
			b.ReportMetric(float64(s.events.Load())/float64(n), "events/sync")
		}
	})
	return s
}

func (s *syncSink) Append(ctx context.Context, events []audit.Record) error {
	s.mu.Lock()
	for _, e := range events {
		n, err := s.f.WriteAt(e.Body, s.end)
		s.end += int64(n)
		if err != nil {
			s.mu.Unlock()
			return err
		}
	}
	mine := s.end
	s.mu.Unlock()
	s.events.Add(int64(len(events)))
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.durable >= mine {
		return nil // synced by another request's sync
	}
	s.mu.Lock()
	upTo := s.end
	s.mu.Unlock()
	if err := syscall.Fdatasync(int(s.f.Fd())); err != nil {
		return err
	}
	s.syncs.Add(1)
	s.durable = upTo
	return nil
}

// dsyncSink writes each request's events at its own offset of a preallocated, zero-filled O_DSYNC file:
// concurrent requests' writes proceed together, each durable when it returns.
type dsyncSink struct {
	f   *os.File
	mu  sync.Mutex // the file's end
	end int64
}

func newDsyncSink(b *testing.B) *dsyncSink {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "audit.log"), os.O_CREATE|os.O_RDWR|syscall.O_DSYNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	// Written once so that later writes change no metadata (as a preallocated log would be).
	zero := make([]byte, 1<<20)
	for i := int64(0); i < 256; i++ {
		if _, err := f.WriteAt(zero, i<<20); err != nil {
			b.Fatal(err)
		}
	}
	return &dsyncSink{f: f}
}

func (s *dsyncSink) Append(ctx context.Context, events []audit.Record) error {
	var buf []byte
	for _, e := range events {
		buf = append(buf, e.Body...)
	}
	s.mu.Lock()
	off := s.end
	s.end += int64(len(buf))
	s.mu.Unlock()
	_, err := s.f.WriteAt(buf, off)
	return err
}
