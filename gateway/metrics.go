package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"fhirgate/fhir"
)

// Metrics are the Prometheus metrics of the server.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	commits  *prometheus.HistogramVec
	limits   *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (a new registry when nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fhirgate_requests_total", Help: "FHIR requests by interaction, resource type and status.",
		}, []string{"interaction", "type", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fhirgate_request_duration_seconds", Help: "FHIR request latency by interaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"interaction"}),
		commits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fhirgate_store_commit_duration_seconds", Help: "Store commit latency (including the fsync).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"result"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fhirgate_limit_refusals_total", Help: "Requests (and Bundle entries) refused for going beyond a limit, by the limit's flag.",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.requests, m.latency, m.commits, m.limits)
	return m
}

func (m *Metrics) observe(interaction, typ string, status int, d time.Duration) {
	if typ != "" && !fhir.IsResourceType(typ) {
		typ = "unknown" // keep the label's cardinality bounded
	}
	m.requests.WithLabelValues(interaction, typ, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(interaction).Observe(d.Seconds())
}

// limit counts one refusal for going beyond a limit.
func (m *Metrics) limit(name string) { m.limits.WithLabelValues(name).Inc() }

// ObserveCommit records one store commit (wire it to the engine's commit observer).
func (m *Metrics) ObserveCommit(d time.Duration, ops int, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.commits.WithLabelValues(result).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
