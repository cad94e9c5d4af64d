package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"fhirgate/audit"
	"fhirgate/auth"
	"fhirgate/conformance"
	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/gateway/throttle"
)

// Config configures the gateway.
type Config struct {
	// BaseURL is the public base URL of the FHIR API (e.g. https://fhir.example.org/fhir).
	BaseURL string
	// Limits bound every request.
	Limits Limits
	// Throttle, when set, limits each client's rate and requests in flight (429 beyond).
	Throttle *throttle.Limiter
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed: the client address is the
	// TCP peer, or, from one of these, the nearest X-Forwarded-For hop that is not one of them.
	TrustedProxies []*net.IPNet
	// Logger is the structured logger (JSON in production).
	Logger *slog.Logger
	// Version is the software version reported in the CapabilityStatement.
	Version string
	// CORSOrigins are the browser origins allowed to call the API ("*" for any).
	CORSOrigins []string
	// SMART describes the authorization server (smart-configuration, CapabilityStatement security).
	SMART *conformance.SMART
	// DevIssuer, when set, is the development OIDC issuer, served under /dev-issuer.
	DevIssuer http.Handler
	// Introspection, when set, serves token introspection at IntrospectPath.
	Introspection *Introspection
	// Audit is the audit trail (nil: none, for tests of the REST layer only).
	Audit *audit.Trail
	// Checkpoints, when set, gives the last signed checkpoint of the audit chain, served (without patient
	// data) at /audit/checkpoint, where the patient's pages show which checkpoint seals their history.
	Checkpoints func() (audit.Checkpoint, bool)
	// StoreInfo describes the store in /readyz (engine, durability, warnings).
	StoreInfo map[string]string
	// Portal, when set, serves the patient's pages under /portal/.
	Portal http.Handler
}

// Pinger reports whether the store can serve (readiness).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Policy gives each request the guard that decides its access. Without a policy nothing is served.
type Policy interface {
	// GuardFor authenticates the request and returns its guard, or an error (401, 403).
	GuardFor(r *http.Request) (Guard, error)
}

// Guard is the access decision point of one request, as the gateway uses it: the FHIR service consults
// it (rest.Guard), and the response's consent headers and audit events say what it decided.
type Guard interface {
	rest.Guard
	// Principal is who asked (nil when the policy verifies no token).
	Principal() *auth.Principal
	// Decisions are the consent decisions taken.
	Decisions() []auth.Decision
}

// Server is the HTTP server of the FHIR API and its public endpoints.
type Server struct {
	cfg     Config
	audit   *audit.Trail
	echo    *echo.Echo
	svc     *rest.Service
	store   Pinger
	policy  Policy
	metrics *Metrics
	log     *slog.Logger
	capJSON []byte
	live    atomic.Int64 // the FHIR requests being worked on (Live)
}

// New builds the server.
func New(cfg Config, svc *rest.Service, st Pinger, policy Policy, m *Metrics) (*Server, error) {
	if svc == nil || st == nil || policy == nil {
		return nil, errors.New("gateway: a service, a store and a policy are required")
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	capJSON, err := conformance.CapabilityStatement(conformance.Options{
		BaseURL: cfg.BaseURL, Version: cfg.Version, Routes: rest.Routes, Service: svc, SMART: cfg.SMART,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, svc: svc, store: st, policy: policy, metrics: m, log: cfg.Logger.With("component", "gateway"),
		capJSON: capJSON, audit: cfg.Audit}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleEchoError
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, r := range cfg.TrustedProxies {
			trust = append(trust, echo.TrustIPRange(r))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trust...)
	}
	e.Pre(s.boundRequest)
	e.Pre(middleware.RemoveTrailingSlash()) // [base]/[type]/ is [base]/[type]
	e.Use(s.requestID, s.recoverPanics)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: cfg.CORSOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders: []string{"Authorization", "Content-Type", "Accept", "Prefer", "If-Match", "If-None-Match",
				"If-None-Exist", "If-Modified-Since", "X-Request-Id"},
			ExposeHeaders: []string{"ETag", "Location", "Content-Location", "Last-Modified", "X-Request-Id",
				"X-Correlation-Id", "X-Consent-Decision", "X-Consent-Policy", "X-Audit-Event", "WWW-Authenticate"},
			MaxAge: 600,
		}))
	}
	// Every FHIR path goes to one handler that routes with the REST route table, the same table batch
	// entries are matched against, so that HTTP and Bundle entries can never be routed differently.
	base := basePath(cfg.BaseURL)
	if cfg.SMART != nil {
		smart := conformance.SMARTConfiguration(cfg.SMART)
		e.GET(base+"/.well-known/smart-configuration", func(c echo.Context) error {
			c.Response().Header().Set("Access-Control-Allow-Origin", "*") // discovery is open to any origin
			return c.Blob(http.StatusOK, "application/json", smart)
		})
	}
	if cfg.DevIssuer != nil {
		e.Any("/dev-issuer/*", echo.WrapHandler(http.StripPrefix("/dev-issuer", cfg.DevIssuer)))
	}
	if cfg.Introspection != nil {
		e.POST(IntrospectPath, s.serveIntrospect)
	}
	if cfg.Portal != nil {
		e.Any("/portal", echo.WrapHandler(cfg.Portal))
		e.Any("/portal/*", echo.WrapHandler(cfg.Portal))
	}
	e.Any(base, s.fhirHandler)
	e.Any(base+"/*", s.fhirHandler)
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(200, map[string]string{"status": "ok"}) })
	if cfg.Checkpoints != nil {
		e.GET("/audit/checkpoint", func(c echo.Context) error {
			cp, ok := cfg.Checkpoints()
			if !ok {
				return c.JSON(404, map[string]string{"status": "no checkpoint yet"})
			}
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.JSON(200, struct {
				audit.Checkpoint
				Fingerprint string `json:"fingerprint"`
			}{cp, cp.Fingerprint()})
		})
	}
	e.GET("/readyz", s.ready)
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	s.echo = e
	return s, nil
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

func basePath(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "/fhir"
	}
	p := strings.TrimSuffix(u.Path, "/")
	if p == "" {
		return ""
	}
	return p
}

func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	out := map[string]any{"status": "ready", "store": "ok"}
	for k, v := range s.cfg.StoreInfo {
		out["store_"+k] = v
	}
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		out["status"], out["store"] = "unavailable", "unreachable"
		return c.JSON(503, out)
	}
	return c.JSON(200, out)
}

// fhirHandler serves every FHIR route. Who asks is established from the headers before anything reads
// the body: a request without a valid token gets its 401 whatever its body, content type or Accept.
func (s *Server) fhirHandler(c echo.Context) error {
	start := time.Now()
	s.live.Add(1)
	defer s.live.Add(-1)
	r := c.Request()
	f, formatErr := negotiate(c.QueryParam("_format"), r.Header.Get("Accept"), c.QueryParam("_pretty"))
	c.Set(formatKey, f)
	req, err := s.route(c)
	if formatErr != nil && err == nil && acceptsNDJSON(req, r.Header.Get("Accept")) {
		formatErr = nil
	}
	var resp *rest.Response
	var guard Guard
	if public := err == nil && req.Interaction == rest.Capabilities; !public {
		// Whatever may carry patient data is kept out of every cache.
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		var authErr error
		if guard, authErr = s.policy.GuardFor(r); authErr != nil {
			guard, err = nil, authErr
		}
	}
	if err == nil && guard != nil {
		var ticket throttle.Ticket
		ticket, err = s.admit(c, guard)
		defer ticket.Done()
	}
	if err == nil {
		err = formatErr
	}
	if err == nil {
		resp, err = s.serve(c, req, guard)
	}
	if s.audit != nil && (req != nil && req.Interaction != rest.Capabilities || fhir.KindOf(err) == fhir.KindUnauthorized) {
		if refs, aerr := s.recordAudit(c, req, resp, guard, err); aerr != nil {
			resp, err = nil, aerr // no audit record, no data
		} else if len(refs) > 0 {
			if len(refs) > maxAuditRefs {
				c.Response().Header().Set("X-Audit-Event-Count", strconv.Itoa(len(refs)))
				refs = refs[:maxAuditRefs]
			}
			c.Response().Header().Set("X-Audit-Event", strings.Join(refs, ", "))
		}
	}
	// Consent headers on responses that carry patient data, and on consent refusals answered 403.
	if guard != nil && (err == nil || fhir.KindOf(err) == fhir.KindForbidden) {
		refused := err != nil
		if d, p, ok := auth.ConsentHeaders(guard.Decisions(), refused); ok {
			c.Response().Header().Set("X-Consent-Decision", d)
			c.Response().Header().Set("X-Consent-Policy", p)
		}
	}
	status := 0
	if err != nil {
		status = fhir.KindOf(err).Status()
	} else {
		status = resp.Status
		for _, e := range resp.Entries {
			if fe := fhir.AsError(e.Err); fe != nil && fe.Limit != "" {
				s.metrics.limit(fe.Limit)
			}
		}
	}
	interaction, typ := "unknown", ""
	if req != nil {
		interaction, typ = string(req.Interaction), req.Type
	}
	s.metrics.observe(interaction, typ, status, time.Since(start))
	if err != nil {
		return err
	}
	return s.write(c, f, resp)
}

const formatKey = "fhirgate.format"

// route matches the request against the REST route table.
func (s *Server) route(c echo.Context) (*rest.Request, error) {
	r := c.Request()
	path := strings.TrimPrefix(r.URL.EscapedPath(), basePath(s.cfg.BaseURL))
	raw := path
	if r.URL.RawQuery != "" {
		raw += "?" + r.URL.RawQuery
	}
	req, err := rest.Match(r.Method, raw)
	if err != nil {
		if fhir.KindOf(err) == fhir.KindNotAllowed {
			if allow := rest.Allowed(path); len(allow) > 0 {
				c.Response().Header().Set("Allow", strings.Join(allow, ", "))
			}
		}
		return nil, err
	}
	for _, k := range []string{"_format", "_pretty"} {
		delete(req.Params, k)
	}
	return req, nil
}

// serve completes the FHIR request from the HTTP request and runs it for the caller whose access guard
// decides (nil for public requests), within the request deadline. The request's ledger records what it
// touched.
func (s *Server) serve(c echo.Context, req *rest.Request, guard Guard) (*rest.Response, error) {
	r := c.Request()
	if req.Interaction == rest.Capabilities {
		return &rest.Response{Status: 200, Body: s.capJSON}, nil
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		form := req.Interaction == rest.SearchType || req.Interaction == rest.SearchSystem || req.Interaction == rest.Operation
		ct, err := requestMediaType(r.Header.Get("Content-Type"), r.Method == http.MethodPatch, form)
		if err != nil {
			return nil, err
		}
		req.ContentType = ct
		if req.Body, err = s.readBody(r); err != nil {
			return nil, err
		}
		if err := s.checkJSON(ct, req.Body); err != nil {
			return nil, err
		}
	}
	req.IfMatch = r.Header.Get("If-Match")
	req.IfNoneExist = r.Header.Get("If-None-Exist")
	req.IfNoneMatch = r.Header.Get("If-None-Match")
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		if err != nil {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "If-Modified-Since",
				Details: "If-Modified-Since must be an HTTP date"}
		}
		req.IfModifiedSince = t
	}
	req.Return, req.Strict = parsePrefer(r.Header.Values("Prefer"))
	req.RespondAsync = preferAsync(r.Header.Values("Prefer"))
	if p := principalOf(guard); p != nil {
		req.Caller = p.ClientID + " " + p.Issuer + " " + p.Subject
		if req.Interaction == rest.Operation && req.Operation == "export" && !bulkClient(p) {
			return nil, &fhir.Error{Kind: fhir.KindForbidden, Code: "forbidden",
				Details: "a bulk export needs system/ or user/ read scopes, and not a patient's token"}
		}
	}
	if req.Interaction == rest.Create && req.Type == "AuditEvent" && guard.Principal() != nil {
		// What a client submits is recorded as reported by it (the guard refuses it from anyone but an
		// audit-source client, and anything not marked so).
		var err error
		if req.Body, err = audit.AsReported(req.Body, guard.Principal().ClientID, time.Now()); err != nil {
			return nil, err
		}
	}
	req.Ledger = rest.NewLedger()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.RequestTimeout)
	defer cancel()
	resp, err := s.svc.Do(ctx, guard, req)
	return resp, s.timedOut(ctx, r, err)
}

// Live returns how many FHIR requests the server is working on, from their token's check to their
// response (bulk exports yield to them).
func (s *Server) Live() int { return int(s.live.Load()) }

// recordAudit writes the AuditEvents of a request before its response leaves.
func (s *Server) recordAudit(c echo.Context, req *rest.Request, resp *rest.Response, guard Guard, err error) ([]string, error) {
	r := c.Request()
	in := &audit.Interaction{Request: req, Method: r.Method, Target: r.URL.RequestURI(), ClientAddr: c.RealIP(),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID), Response: resp, Err: err, Export: startedExport(req, resp)}
	if guard != nil {
		in.Principal, in.Decisions = guard.Principal(), guard.Decisions()
	}
	return s.audit.Record(r.Context(), in)
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	limit := s.cfg.Limits.MaxBody
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "structure", Details: "the request body could not be read"}
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return &fhir.Error{Kind: fhir.KindTooLarge, Code: "too-long", Limit: "max-body",
		Details: fmt.Sprintf("the request body exceeds the limit of %d bytes (--max-body)", limit)}
}

// parsePrefer reads Prefer: return=... and handling=....
func parsePrefer(values []string) (rest.Return, bool) {
	ret, strict := rest.ReturnDefault, false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			for _, kv := range strings.Split(part, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
				val = strings.Trim(strings.TrimSpace(val), `"`)
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "return":
					switch val {
					case "minimal":
						ret = rest.ReturnMinimal
					case "representation":
						ret = rest.ReturnRepresentation
					case "OperationOutcome":
						ret = rest.ReturnOutcome
					}
				case "handling":
					strict = val == "strict"
				}
			}
		}
	}
	return ret, strict
}

// write sends a FHIR response.
func (s *Server) write(c echo.Context, f format, resp *rest.Response) error {
	h := c.Response().Header()
	if resp.VersionID != "" {
		h.Set("ETag", `W/"`+resp.VersionID+`"`)
	}
	if !resp.LastModified.IsZero() {
		h.Set("Last-Modified", resp.LastModified.UTC().Format(http.TimeFormat))
	}
	if resp.Location != "" {
		h.Set("Location", resp.Location)
		h.Set("Content-Location", resp.Location)
	}
	if resp.ContentLocation != "" {
		h.Set("Content-Location", resp.ContentLocation)
	}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	if resp.BodyFile != "" {
		h.Set("Content-Type", resp.ContentType)
		return c.File(resp.BodyFile)
	}
	if resp.Body == nil {
		return c.NoContent(resp.Status)
	}
	if resp.ContentType != "" {
		return c.Blob(resp.Status, resp.ContentType, resp.Body)
	}
	return s.writeJSON(c, f, resp.Status, resp.Body)
}

func (s *Server) writeJSON(c echo.Context, f format, status int, body []byte) error {
	if f.pretty {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			body = buf.Bytes()
		}
	}
	c.Response().Header().Set("Content-Type", f.contentType+"; charset=utf-8")
	return c.Blob(status, f.contentType+"; charset=utf-8", body)
}

// handleEchoError is the one place where an error becomes a response: a status and an OperationOutcome.
func (s *Server) handleEchoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		var fe *fhir.Error
		if errors.As(he.Internal, &fe) {
			err = fe
		} else {
			switch he.Code {
			case http.StatusNotFound:
				err = &fhir.Error{Kind: fhir.KindNotFound, Code: "not-supported", Details: "no such endpoint"}
			case http.StatusMethodNotAllowed:
				err = &fhir.Error{Kind: fhir.KindNotAllowed, MessageID: "MSG_OP_NOT_ALLOWED",
					Details: "this method is not allowed on this path"}
			case http.StatusRequestEntityTooLarge:
				err = tooLarge(s.cfg.Limits.MaxBody)
			default:
				err = &fhir.Error{Kind: fhir.KindInvalid, Details: strings.ToLower(http.StatusText(he.Code))}
			}
		}
	}
	fe := fhir.AsError(err)
	if fe.Limit != "" {
		s.metrics.limit(fe.Limit)
	}
	if fe.Kind == fhir.KindUnauthorized || fe.Kind == fhir.KindForbidden && fe.Scope != "" {
		c.Response().Header().Set("WWW-Authenticate", wwwAuthenticate(c.Request(), fe))
	}
	if fe.Kind.Status() >= 500 {
		s.log.Error("request failed", "status", fe.Kind.Status(), "method", c.Request().Method,
			"route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", errText(fe))
	}
	f, _ := c.Get(formatKey).(format)
	if f.contentType == "" {
		f.contentType = fhirJSON
	}
	if err := s.writeJSON(c, f, fe.Kind.Status(), rest.ErrorOutcome(fe)); err != nil {
		s.log.Warn("writing an error response failed", "err", err)
	}
}

// wwwAuthenticate is the RFC 6750 challenge of a 401 or of a 403 for want of scope.
func wwwAuthenticate(r *http.Request, fe *fhir.Error) string {
	quote := func(s string) string { return strings.NewReplacer(`"`, "'", `\`, "").Replace(s) }
	if fe.Kind == fhir.KindForbidden {
		return `Bearer realm="fhirgate", error="insufficient_scope", scope="` + quote(fe.Scope) + `"`
	}
	if r.Header.Get("Authorization") == "" {
		return `Bearer realm="fhirgate"`
	}
	return `Bearer realm="fhirgate", error="invalid_token", error_description="` + quote(fe.Details) + `"`
}

// errText is what the logs say of an error: its PHI-free details and its cause, never diagnostics.
func errText(fe *fhir.Error) string {
	if fe.Err != nil {
		return fe.Details + ": " + fe.Err.Error()
	}
	return fe.Details
}

// requestID echoes X-Request-Id, or assigns one (and then returns the client's as X-Correlation-Id).
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 200 {
			if id != "" {
				c.Response().Header().Set("X-Correlation-Id", id[:200])
			}
			id = rest.NewUUID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// recoverPanics turns a panic into a 500 OperationOutcome and one log line.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = &fhir.Error{Kind: fhir.KindInternal, Details: "internal error", Err: fmt.Errorf("panic: %v", p)}
			}
		}()
		return next(c)
	}
}
