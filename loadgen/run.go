package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RunConfig describes one load.
type RunConfig struct {
	Server      string // the FHIR base URL
	Workload    string // read, search, create, transaction or mixed
	Connections int    // concurrent connections, each with one request in flight (1 to MaxConnections)
	Duration    time.Duration
	// Requests, when positive, ends the run after that many requests even before Duration.
	Requests int
	// Patients and Seed describe the population loaded by Populate, which read, search, create and
	// mixed address; transaction generates the patients that follow it.
	Patients int
	Seed     int64
	// Bundles, when given, are the transaction (or batch) Bundles the transaction workload posts,
	// round robin, instead of generated patients.
	Bundles     [][]byte
	Credentials *Credentials
}

// Report is the outcome of a run. Only 2xx answers count as throughput; any other status and every
// request that got no answer count as errors.
type Report struct {
	Server       string         `json:"server"`
	Workload     string         `json:"workload"`
	Connections  int            `json:"connections"`
	Elapsed      Seconds        `json:"elapsed_s"`
	Requests     int            `json:"requests"`
	OK           int            `json:"ok"`
	Errors       int            `json:"errors"`
	Throughput   float64        `json:"throughput_per_s"` // 2xx answers per second
	Resources    int            `json:"resources"`        // resources read, written or loaded by 2xx answers
	ResourceRate float64        `json:"resources_per_s"`
	BytesIn      int64          `json:"bytes_received"`
	Latency      Latency        `json:"latency_ms"`
	Status       map[int]int    `json:"status"`             // answers by status code
	Failures     map[string]int `json:"failures,omitempty"` // requests that got no answer, by reason
}

// Latency holds percentiles of the time from sending a request to reading the whole answer, over
// every request that got an answer.
type Latency struct {
	P50  Millis `json:"p50"`
	P90  Millis `json:"p90"`
	P99  Millis `json:"p99"`
	Max  Millis `json:"max"`
	Mean Millis `json:"mean"`
}

// Millis is a duration written in JSON as milliseconds.
type Millis time.Duration

// MarshalJSON writes the duration in milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.3f", float64(m)/float64(time.Millisecond)), nil
}

// Seconds is a duration written in JSON as seconds.
type Seconds time.Duration

// MarshalJSON writes the duration in seconds with millisecond precision.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.3f", time.Duration(s).Seconds()), nil
}

// Check reports the first bound a configuration breaks: a known workload, 1 to MaxConnections
// connections, a duration above 0 and at most MaxDuration.
func (cfg RunConfig) Check() error {
	if !slices.Contains(Workloads, cfg.Workload) {
		return fmt.Errorf("workload %q: want one of %s", cfg.Workload, strings.Join(Workloads, ", "))
	}
	if cfg.Connections < 1 || cfg.Connections > MaxConnections {
		return fmt.Errorf("connections %d: want 1 to %d", cfg.Connections, MaxConnections)
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxDuration {
		return fmt.Errorf("duration %v: want more than 0 and at most %v", cfg.Duration, MaxDuration)
	}
	return nil
}

// worker holds what one connection measured.
type worker struct {
	latencies []time.Duration
	status    map[int]int
	failures  map[string]int
	resources int
	bytes     int64
}

// Run drives cfg.Workload for cfg.Duration (and at most cfg.Requests requests) and reports. The
// context cancels a run early; what was measured until then is reported.
func Run(ctx context.Context, cfg RunConfig) (*Report, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	w, err := newWorkload(cfg.Workload, cfg.Patients, cfg.Seed, cfg.Bundles)
	if err != nil {
		return nil, err
	}
	c, err := newClient(cfg.Server, cfg.Connections, cfg.Credentials)
	if err != nil {
		return nil, err
	}
	defer c.close()

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var started atomic.Int64
	take := func() bool { return cfg.Requests <= 0 || started.Add(1) <= int64(cfg.Requests) }

	workers := make([]*worker, cfg.Connections)
	var wg sync.WaitGroup
	begin := time.Now()
	for k := range workers {
		wk := &worker{status: map[int]int{}, failures: map[string]int{}}
		workers[k] = wk
		r := newRand(uint64(k) + 1)
		wg.Go(func() {
			for ctx.Err() == nil && take() {
				req := w.next(r)
				t0 := time.Now()
				resp, err := c.do(ctx, req)
				elapsed := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended while this request was in flight: not measured
					}
					wk.failures[failureReason(err)]++
					continue
				}
				wk.latencies = append(wk.latencies, elapsed)
				wk.status[resp.status]++
				wk.bytes += resp.size
				if resp.status >= 200 && resp.status < 300 {
					wk.resources += req.resources
				}
			}
		})
	}
	wg.Wait()
	return summarize(cfg, time.Since(begin), workers), nil
}

// failureReason names why a request got no answer, without the parts that differ between requests.
func failureReason(err error) string {
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(err) {
		err = inner
	}
	return clip(err.Error(), 120)
}

func summarize(cfg RunConfig, elapsed time.Duration, workers []*worker) *Report {
	rep := &Report{Server: cfg.Server, Workload: cfg.Workload, Connections: cfg.Connections,
		Elapsed: Seconds(elapsed), Status: map[int]int{}, Failures: map[string]int{}}
	var all []time.Duration
	for _, wk := range workers {
		all = append(all, wk.latencies...)
		for s, n := range wk.status {
			rep.Status[s] += n
			rep.Requests += n
			if s >= 200 && s < 300 {
				rep.OK += n
			} else {
				rep.Errors += n
			}
		}
		for f, n := range wk.failures {
			rep.Failures[f] += n
			rep.Requests += n
			rep.Errors += n
		}
		rep.Resources += wk.resources
		rep.BytesIn += wk.bytes
	}
	if s := elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.OK) / s
		rep.ResourceRate = float64(rep.Resources) / s
	}
	rep.Latency = percentiles(all)
	return rep
}

func percentiles(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(p float64) Millis {
		i := sort.Search(len(d), func(i int) bool { return float64(i+1) >= p*float64(len(d)) })
		return Millis(d[min(i, len(d)-1)])
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: Millis(d[len(d)-1]), Mean: Millis(sum / time.Duration(len(d)))}
}

// newRand returns the random source of worker k.
func newRand(k uint64) *rand.Rand { return rand.New(rand.NewPCG(k, k*0x9e3779b97f4a7c15)) }
