package gateway

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkReadAuditOn and BenchmarkReadAuditOff: reads by id over HTTP from 32 concurrent clients (2
// cores x 16), with token verification and consent, with and without the durable audit trail.
//
//	go test -run '^$' -bench 'ReadAudit' -benchtime 20000x ./gateway/
func BenchmarkReadAuditOn(b *testing.B) { benchReads(b, true) }

func BenchmarkReadAuditOff(b *testing.B) { benchReads(b, false) }

func benchReads(b *testing.B, audit bool) {
	opts := authOptions{consentDefault: "permit", denyStatus: 404}
	if !audit {
		opts.audit = &AuditConfig{Sink: discardSink{}}
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
