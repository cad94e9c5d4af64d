package gateway

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"fhirgate/fhir"
	"fhirgate/gateway/throttle"
)

// Limits bound every request, so that no client — authenticated or not — can make one request cost the
// server (or the audit trail) more than they allow. A zero value takes the default given beside it. What
// a search or a Bundle may ask (page size, includes, entries, a batch's answer) is bounded by the FHIR
// service's configuration (rest.Config).
type Limits struct {
	// MaxURL is the longest request target, path and query (16 KiB; 414 beyond).
	MaxURL int
	// MaxHeader is the most bytes of header fields (32 KiB; 431 beyond). Both are answered with an
	// OperationOutcome up to the HTTP server's own bound on the request line and headers together (1 MiB,
	// or MaxURL + 2×MaxHeader if more), beyond which it answers a bare 431 itself.
	MaxHeader int
	// MaxBody is the largest request body (16 MiB; 413 beyond).
	MaxBody int64
	// JSON bounds the nesting and the values of a JSON body (64 levels, 300,000 values; 400 beyond).
	JSON fhir.JSONLimits
	// RequestTimeout is how long the FHIR service may work on a request (30 s): past it, searches and
	// transactions stop and the answer is 503, nothing written.
	RequestTimeout time.Duration
	// The HTTP server's timeouts: for the request line and headers (10 s), the whole request (2 min),
	// the response (5 min, after the request is read) and an idle keep-alive connection (2 min).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// maxAuditRefs is the most AuditEvents X-Audit-Event names; X-Audit-Event-Count gives how many it would
// have named when there are more (a batch of many entries).
const maxAuditRefs = 10

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxURL, 16<<10)
	def(&l.MaxHeader, 32<<10)
	if l.MaxBody <= 0 {
		l.MaxBody = 16 << 20
	}
	def(&l.JSON.MaxDepth, 64)
	def(&l.JSON.MaxValues, 300_000)
	defDur(&l.RequestTimeout, 30*time.Second)
	defDur(&l.ReadHeaderTimeout, 10*time.Second)
	defDur(&l.ReadTimeout, 2*time.Minute)
	defDur(&l.WriteTimeout, 5*time.Minute)
	defDur(&l.IdleTimeout, 2*time.Minute)
	return l
}

// HTTPServer returns the HTTP server that serves s with its limits' timeouts and header bound; errorLog
// receives the server's own errors (nil: the standard logger).
func (s *Server) HTTPServer(errorLog *log.Logger) *http.Server {
	l := s.cfg.Limits
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    max(1<<20, l.MaxURL+2*l.MaxHeader),
		ErrorLog:          errorLog,
	}
}

// boundRequest refuses a request target longer than the limit (414) and header fields larger than the
// limit (431) before anything else reads them: the front door is bounded, and so is what the audit trail
// can be made to record.
func (s *Server) boundRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		l := s.cfg.Limits
		if n := len(r.RequestURI); n > l.MaxURL {
			return &fhir.Error{Kind: fhir.KindURITooLong, Code: "too-long", Limit: "max-url",
				Details: fmt.Sprintf("the URL is %d bytes long; the limit is %d (--max-url; search with POST [type]/_search)", n, l.MaxURL)}
		}
		n := 0
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4 // "k: v\r\n"
			}
		}
		if n > l.MaxHeader {
			return &fhir.Error{Kind: fhir.KindHeaderTooLarge, Code: "too-long", Limit: "max-header",
				Details: fmt.Sprintf("the header fields are %d bytes; the limit is %d (--max-header)", n, l.MaxHeader)}
		}
		return next(c)
	}
}

// admit applies the client's rate and concurrency limits (nothing without a limiter or a principal).
func (s *Server) admit(c echo.Context, g Guard) (throttle.Ticket, error) {
	p := g.Principal()
	if s.cfg.Throttle == nil || p == nil {
		return throttle.Ticket{}, nil
	}
	t, reason, wait := s.cfg.Throttle.Acquire(p.ClientID + " " + p.Issuer + " " + p.Subject)
	if reason == throttle.Allowed {
		return t, nil
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	if reason == throttle.InFlight {
		return t, &fhir.Error{Kind: fhir.KindTooManyRequests, Code: "throttled", Limit: "max-in-flight",
			Details: "this client has too many requests in progress (--max-in-flight); retry when one has ended"}
	}
	return t, &fhir.Error{Kind: fhir.KindTooManyRequests, Code: "throttled", Limit: "rate-limit",
		Details: "this client has sent more requests than its rate allows (--rate-limit); retry after the time Retry-After gives"}
}

// checkJSON bounds a JSON body's nesting and values before any parser sees it.
func (s *Server) checkJSON(contentType string, body []byte) error {
	switch contentType {
	case fhirJSON, "application/json", "application/json-patch+json":
		return s.cfg.Limits.JSON.Check(body)
	}
	return nil
}

// timedOut turns the failure of a request that ran past its deadline into the 503 that says so.
func (s *Server) timedOut(ctx context.Context, r *http.Request, err error) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || r.Context().Err() != nil {
		return err
	}
	return &fhir.Error{Kind: fhir.KindTimeout, Code: "timeout", Limit: "request-timeout", Err: err,
		Details: fmt.Sprintf("the request ran past its deadline of %s (--request-timeout) and was stopped; nothing was written", s.cfg.Limits.RequestTimeout)}
}
