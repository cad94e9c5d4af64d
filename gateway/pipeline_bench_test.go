package gateway

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"fhirgate/gateway/throttle"
)

// The layers of the request path, added one at a time: what each costs a read by id over HTTP.
var pipelineLayers = []struct {
	name      string
	opts      authOptions
	throttled bool // the serve command's default rate and in-flight limits
}{
	{"none", authOptions{open: true, noConsent: true, noAudit: true}, false},
	{"token", authOptions{consentDefault: "permit", denyStatus: 404, noConsent: true, noAudit: true}, false},
	{"token+consent", authOptions{consentDefault: "permit", denyStatus: 404, noAudit: true}, false},
	{"token+consent+audit", authOptions{consentDefault: "permit", denyStatus: 404}, false},
	{"token+consent+audit+limits", authOptions{consentDefault: "permit", denyStatus: 404}, true},
}

// layerOptions are a layer's options, with a limiter of its own when it is throttled.
func layerOptions(opts authOptions, throttled bool) authOptions {
	if throttled {
		opts.throttle = throttle.New(throttle.Config{Rate: 20_000, Burst: 40_000, MaxInFlight: 64})
	}
	return opts
}

// BenchmarkPipelineLatency: one client reading by id, one request at a time, through each set of
// layers; p50-µs is the median latency, so that the difference between two lines is what a layer adds
// to a request.
//
//	go test -run '^$' -bench PipelineLatency -benchtime 3000x ./gateway/
func BenchmarkPipelineLatency(b *testing.B) {
	for _, l := range pipelineLayers {
		b.Run(l.name, func(b *testing.B) {
			a := newAuthServer(b, layerOptions(l.opts, l.throttled))
			tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
			client := &http.Client{Timeout: 10 * time.Second}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				pipelineRead(b, client, a.base+"/Patient/pat-alice", tok)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}

// BenchmarkPipelineThroughput: 16 clients per core reading by id through each set of layers: reads/s,
// and the median and 99th percentile of their latencies. On one core (clients and server share it):
//
//	go test -cpu 1 -run '^$' -bench PipelineThroughput -benchtime 20000x ./gateway/
func BenchmarkPipelineThroughput(b *testing.B) {
	for _, l := range pipelineLayers {
		b.Run(l.name, func(b *testing.B) {
			a := newAuthServer(b, layerOptions(l.opts, l.throttled))
			tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-martin", "TREAT")
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			paths := []string{"/Patient/pat-alice", "/Observation/obs-bob-01", "/Patient/pat-david", "/Encounter/enc-chloe-1"}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for i := 0; pb.Next(); i++ {
					t0 := time.Now()
					pipelineRead(b, client, a.base+paths[i%len(paths)], tok)
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// pipelineRead sends one GET with the token and requires a 200, reading the whole answer.
func pipelineRead(b *testing.B, client *http.Client, url, tok string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: status %d", url, resp.StatusCode)
	}
}
