package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// WriteText prints the report for a person: what ran, throughput, latencies, then every status code
// and failure.
func (r *Report) WriteText(w io.Writer) {
	el := time.Duration(r.Elapsed)
	fmt.Fprintf(w, "workload     %s, %d connections, %.1f s, against %s\n", r.Workload, r.Connections, el.Seconds(), r.Server)
	fmt.Fprintf(w, "requests     %d: %d ok (2xx), %d errors\n", r.Requests, r.OK, r.Errors)
	fmt.Fprintf(w, "throughput   %.0f req/s (2xx only)", r.Throughput)
	if r.Resources > 0 {
		fmt.Fprintf(w, ", %.0f resources/s", r.ResourceRate)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "latency      p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max), ms(r.Latency.Mean))
	fmt.Fprintf(w, "received     %.1f MB\n", float64(r.BytesIn)/1e6)
	for _, s := range slices.Sorted(maps.Keys(r.Status)) {
		fmt.Fprintf(w, "status %d   %d\n", s, r.Status[s])
	}
	for _, f := range slices.Sorted(maps.Keys(r.Failures)) {
		fmt.Fprintf(w, "no answer    %d: %s\n", r.Failures[f], f)
	}
}

func ms(m Millis) string { return fmt.Sprintf("%.2f ms", float64(m)/float64(time.Millisecond)) }
