package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"fhirgate/audit"
	"fhirgate/auth"
	"fhirgate/auth/consent"
	"fhirgate/auth/devissuer"
	"fhirgate/auth/scope"
	"fhirgate/auth/token"
	"fhirgate/conformance"
	"fhirgate/fhir/profile"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/redis"
	"fhirgate/gateway"
	"fhirgate/gateway/throttle"
	"fhirgate/population"
	"fhirgate/portal"
)

type serveConfig struct {
	addr, baseURL, storeURL, issuer, audience, logFormat string
	corsOrigins, consentDefault, auditFailure            string
	notifyWebhook, portalClientID, debugAddr             string
	auditRetention, adminClients, auditorClients         string
	auditSourceClients, trustedProxies, auditCheckpoints string
	auditKey, profiles, devClients, introspectionClients string
	devTokenLifetime                                     time.Duration
	proxies                                              []*net.IPNet
	consentDenyStatus                                    int
	claims                                               token.ClaimNames
	dev, demoData, acceptDataLoss, devAllowRemote        bool
	maxBody, maxURL, maxHeader, maxBatchResponse         byteSize
	cacheSize                                            byteSize
	checkpointInterval                                   time.Duration
	limits                                               gateway.Limits
	maxCount, maxBundleEntries, maxIncludes, maxIncluded int
	rateLimit                                            float64
	rateBurst, maxInFlight                               int
	minProcs                                             int
	exportDir                                            string
	exportRetention                                      time.Duration
	exportMaxJobs, exportFileSize, exportYieldAt         int
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{maxBody: 16 << 20, maxURL: 16 << 10, maxHeader: 32 << 10, maxBatchResponse: 16 << 20, cacheSize: embedded.DefaultCacheSize}
	fs.StringVar(&c.addr, "addr", "", "listen address (default :8080; 127.0.0.1:8080 with --dev)")
	fs.StringVar(&c.baseURL, "base-url", "http://localhost:8080/fhir", "public base URL used in links, Location and fullUrl")
	fs.StringVar(&c.storeURL, "store", "file:./data", storeFlagUsage)
	fs.BoolVar(&c.acceptDataLoss, "redis-accept-data-loss", false, "run on a Redis whose persistence can lose acknowledged writes (anything but appendonly yes + appendfsync always); logged at start and shown in /readyz")
	fs.StringVar(&c.issuer, "issuer", "", "OIDC issuer URL (discovery and JWKS); required unless --dev")
	fs.StringVar(&c.audience, "audience", "", "expected aud of access tokens (default: the base URL)")
	fs.BoolVar(&c.dev, "dev", false, "development mode: open API unless --issuer, demo data, loud warning in the log")
	fs.BoolVar(&c.demoData, "demo-data", true, "with --dev, load the synthetic demo population on first start")
	fs.Var(&c.cacheSize, "cache-size", "the embedded store's block cache, e.g. 512MiB (filled as blocks are read; unused with Redis)")
	fs.Var(&c.maxBody, "max-body", "largest request body accepted, e.g. 16MiB (413 beyond)")
	fs.Var(&c.maxURL, "max-url", "longest request target (path and query) accepted, e.g. 16KiB (414 beyond)")
	fs.Var(&c.maxHeader, "max-header", "most bytes of request header fields accepted, e.g. 32KiB (431 beyond)")
	fs.IntVar(&c.limits.JSON.MaxDepth, "max-json-depth", 64, "deepest nesting of objects and arrays in a JSON body (400 beyond)")
	fs.IntVar(&c.limits.JSON.MaxValues, "max-json-values", 300_000, "most values (objects, arrays, strings, numbers, literals) in a JSON body (400 beyond)")
	fs.IntVar(&c.maxBundleEntries, "max-bundle-entries", 5000, "most entries in a batch or transaction Bundle (413 beyond)")
	fs.IntVar(&c.maxCount, "max-count", 1000, "largest page of a search or history: a larger _count is capped to it")
	fs.IntVar(&c.maxIncludes, "max-includes", 10, "most distinct _include and _revinclude parameters in a search (400 beyond)")
	fs.IntVar(&c.maxIncluded, "max-included", 5000, "most resources _include and _revinclude may add to one page (400 beyond)")
	fs.Var(&c.maxBatchResponse, "max-batch-response", "most bytes of a batch's answers, e.g. 16MiB: entries beyond are not run (or, for reads, not served)")
	fs.DurationVar(&c.limits.RequestTimeout, "request-timeout", 30*time.Second, "how long a request may run: past it, searches and transactions stop and the answer is 503, nothing written")
	fs.Float64Var(&c.rateLimit, "rate-limit", 20_000, "requests per second each client and user may make, sustained (429 beyond; 0: no limit); kept in this process's memory")
	fs.IntVar(&c.rateBurst, "rate-burst", 0, "requests each client and user may make at once after a pause (default twice --rate-limit)")
	fs.IntVar(&c.minProcs, "min-procs", defaultMinProcs, "the least number of Go processors (GOMAXPROCS) the server runs with, whatever the CPUs it may use: a request waiting for the audit trail's fsync holds one (0: leave GOMAXPROCS alone)")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 64, "requests each client and user may have in progress at once (429 beyond; 0: no cap)")
	fs.DurationVar(&c.limits.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send the request line and headers")
	fs.DurationVar(&c.limits.ReadTimeout, "read-timeout", 2*time.Minute, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&c.limits.WriteTimeout, "write-timeout", 5*time.Minute, "how long the server may take to answer once the request is read (more than --request-timeout)")
	fs.DurationVar(&c.limits.IdleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept open")
	fs.BoolVar(&c.devAllowRemote, "dev-allow-remote", false, "with --dev, listen on an address other than loopback and use a base URL on another host (its development issuer authenticates anyone: never with real data)")
	fs.StringVar(&c.devClients, "dev-clients", "", "with --dev, a JSON file of the development issuer's registered clients: {\"clients\": [{\"client_id\", \"type\": public|confidential-symmetric|confidential-asymmetric, \"client_secret\", \"jwks\" or \"jwks_uri\", \"redirect_uris\"}]}")
	fs.DurationVar(&c.devTokenLifetime, "dev-token-lifetime", devissuer.DefaultLifetime, "with --dev, the lifetime of the access tokens the development issuer grants users (authorization code, refresh)")
	fs.StringVar(&c.introspectionClients, "introspection-clients", "", "client ids of the OIDC provider that may introspect tokens at "+gateway.IntrospectPath+" with an access token of theirs, comma-separated (default none: no introspection; with --dev, the development issuer's confidential clients authenticate as at its token endpoint)")
	fs.StringVar(&c.logFormat, "log-format", "", "log format: json or text (default json; text with --dev)")
	fs.StringVar(&c.consentDefault, "consent-default", "permit", "decision when a patient has no applicable Consent: permit (opt-out) or deny (opt-in)")
	fs.IntVar(&c.consentDenyStatus, "consent-deny-status", 404, "status of a direct read refused by consent: 404 (existence hidden) or 403")
	fs.StringVar(&c.auditFailure, "audit-failure", "closed", "when an access cannot be recorded: closed (503, no data) or open (serve and log the failure)")
	fs.StringVar(&c.auditRetention, "audit-retention", "forever", "how long audit events are kept: forever (the only policy: audit events are never deleted)")
	fs.StringVar(&c.notifyWebhook, "notify-webhook", "", "URL told (POST, JSON without clinical content) of every patient notice: a professional's first access, a break-the-glass access")
	fs.StringVar(&c.portalClientID, "portal-client-id", "fhirgate-portal", "client id of the patient's pages (/portal/) at the OIDC provider (a public client; redirect URI <server>/portal/)")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "loopback address serving Go profiles at /debug/pprof/ (e.g. 127.0.0.1:6060; off by default)")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "browser origins allowed to call the API, comma-separated (default none; * with --dev)")
	fs.StringVar(&c.adminClients, "admin-clients", "", "client ids (client_id or azp) that administer the directory (Practitioner, PractitionerRole, Organization...) and may record Consents on a patient's behalf, comma-separated (default none; "+devAdminClient+" with --dev)")
	fs.StringVar(&c.auditorClients, "auditor-clients", "", "client ids that may read every AuditEvent, comma-separated (default none; "+devAuditorClient+" with --dev)")
	fs.StringVar(&c.auditSourceClients, "audit-source-clients", "", "client ids allowed to report AuditEvents of their own (POST [base]/AuditEvent), recorded as reported by that client, comma-separated (default none; "+devSourceClient+" with --dev)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "CIDRs of reverse proxies whose X-Forwarded-For is believed, comma-separated (default none: the client address is the TCP peer)")
	fs.StringVar(&c.auditCheckpoints, "audit-checkpoints", "", "file where signed audit checkpoints are appended (ideally on another disk, or a mount the server cannot rewrite); they are always logged too")
	fs.DurationVar(&c.checkpointInterval, "audit-checkpoint-interval", 10*time.Second, "the longest time between two signed audit checkpoints (one is also taken every 10,000 events)")
	fs.StringVar(&c.auditKey, "audit-key", "", "file holding the key that signs audit checkpoints, created on first start (default: audit-key in the data directory of a file: store; a key for this process only with another store)")
	fs.StringVar(&c.profiles, "profiles", "", "folder of an implementation guide's package (its package/ folder): the StructureDefinitions there are loaded at start, beside R4's core profiles; a resource whose meta.profile names one is held to it on write, and $validate knows them")
	fs.StringVar(&c.exportDir, "export-dir", "", "folder of the bulk exports' files (default: exports in the data directory of a file: store; a temporary folder, removed at exit, with another store); processes sharing a Redis store must share it")
	fs.DurationVar(&c.exportRetention, "export-retention", 24*time.Hour, "how long a finished bulk export's files are kept before they are deleted")
	fs.IntVar(&c.exportMaxJobs, "export-max-jobs", 2, "bulk exports running at once (a kick-off beyond is 429 with Retry-After)")
	fs.IntVar(&c.exportFileSize, "export-file-size", 10000, "most resources in one file of a bulk export")
	fs.IntVar(&c.exportYieldAt, "export-yield-at", 4, "FHIR requests in progress at which bulk exports pause between patients, at most 50ms each (0: never)")
	fs.StringVar(&c.claims.Scope, "claim-scope", "scope", "access-token claim holding the SMART scopes")
	fs.StringVar(&c.claims.Patient, "claim-patient", "patient", "access-token claim holding the launch patient")
	fs.StringVar(&c.claims.FHIRUser, "claim-fhir-user", "fhirUser", "access-token claim holding the user's FHIR resource")
	fs.StringVar(&c.claims.Purpose, "claim-purpose", "purpose_of_use", "access-token claim holding the purpose of use")
	fs.StringVar(&c.claims.Organization, "claim-organization", "organization", "access-token claim holding the user's organization")
	return c
}

func (c *serveConfig) validate() error {
	if c.addr == "" {
		c.addr = ":8080"
		if c.dev {
			c.addr = "127.0.0.1:8080"
		}
	}
	u, err := url.Parse(c.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--base-url %q is not an absolute http(s) URL", c.baseURL)}
	}
	if c.audience == "" {
		c.audience = strings.TrimSuffix(c.baseURL, "/")
	}
	switch c.logFormat {
	case "":
		c.logFormat = "json"
		if c.dev {
			c.logFormat = "text"
		}
	case "json", "text":
	default:
		return usageError{fmt.Errorf("--log-format must be json or text")}
	}
	if c.issuer == "" && !c.dev {
		return usageError{errors.New("--issuer is required (the OIDC provider whose tokens this server accepts); use --dev for a development server")}
	}
	if c.issuer != "" {
		if u, err := url.Parse(c.issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usageError{fmt.Errorf("--issuer %q is not an absolute URL", c.issuer)}
		}
	}
	if c.consentDefault != "permit" && c.consentDefault != "deny" {
		return usageError{errors.New("--consent-default must be permit or deny")}
	}
	if c.consentDenyStatus != 404 && c.consentDenyStatus != 403 {
		return usageError{errors.New("--consent-deny-status must be 404 or 403")}
	}
	if c.auditFailure != "closed" && c.auditFailure != "open" {
		return usageError{errors.New("--audit-failure must be closed or open")}
	}
	if c.auditRetention != "forever" {
		return usageError{errors.New("--audit-retention: audit events are kept forever; no deletion policy is supported")}
	}
	if c.notifyWebhook != "" {
		if u, err := url.Parse(c.notifyWebhook); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usageError{fmt.Errorf("--notify-webhook %q is not an absolute http(s) URL", c.notifyWebhook)}
		}
	}
	if c.devClients != "" && !c.dev {
		return usageError{errors.New("--dev-clients is for the development issuer: use it with --dev")}
	}
	if c.corsOrigins == "" && c.dev {
		c.corsOrigins = "*"
	}
	if c.dev && c.adminClients == "" {
		c.adminClients = devAdminClient
	}
	if c.dev && c.auditorClients == "" {
		c.auditorClients = devAuditorClient
	}
	if c.dev && c.auditSourceClients == "" {
		c.auditSourceClients = devSourceClient
	}
	for _, cidr := range list(c.trustedProxies) {
		if !strings.Contains(cidr, "/") { // one address
			if ip := net.ParseIP(cidr); ip != nil && ip.To4() != nil {
				cidr += "/32"
			} else {
				cidr += "/128"
			}
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return usageError{fmt.Errorf("--trusted-proxies: %q is not an address or a CIDR", cidr)}
		}
		c.proxies = append(c.proxies, n)
	}
	if c.checkpointInterval <= 0 || c.checkpointInterval > 10*time.Second {
		return usageError{errors.New("--audit-checkpoint-interval must be more than 0 and at most 10s")}
	}
	if c.maxURL < 1024 {
		return usageError{errors.New("--max-url must be at least 1KiB")}
	}
	if c.maxHeader < 4096 {
		return usageError{errors.New("--max-header must be at least 4KiB")}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"--max-json-depth", c.limits.JSON.MaxDepth}, {"--max-json-values", c.limits.JSON.MaxValues}, {"--max-bundle-entries", c.maxBundleEntries},
		{"--max-count", c.maxCount}, {"--max-includes", c.maxIncludes}, {"--max-included", c.maxIncluded}} {
		if v.n < 1 {
			return usageError{fmt.Errorf("%s must be at least 1", v.name)}
		}
	}
	if c.limits.JSON.MaxDepth < 8 {
		return usageError{errors.New("--max-json-depth must be at least 8 (FHIR resources nest)")}
	}
	if c.rateLimit < 0 || c.rateBurst < 0 || c.maxInFlight < 0 {
		return usageError{errors.New("--rate-limit, --rate-burst and --max-in-flight cannot be negative")}
	}
	if c.rateBurst == 0 {
		c.rateBurst = max(1, int(2*c.rateLimit))
	}
	l := c.limits
	if l.RequestTimeout <= 0 || l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 {
		return usageError{errors.New("--request-timeout and the server timeouts must be more than 0")}
	}
	if l.WriteTimeout <= l.RequestTimeout {
		return usageError{errors.New("--write-timeout must be longer than --request-timeout (an answer is written after the work)")}
	}
	c.limits.MaxURL, c.limits.MaxHeader, c.limits.MaxBody = int(c.maxURL), int(c.maxHeader), int64(c.maxBody)
	if c.dev && !c.devAllowRemote {
		// The development issuer gives a token to anyone who asks: such a server must not be reachable
		// from another machine, nor name itself by another host.
		if !loopbackAddr(c.addr) {
			return usageError{fmt.Errorf("--dev listens on loopback only (--addr %s is not): its development issuer authenticates anyone; add --dev-allow-remote to accept the risk", c.addr)}
		}
		if !loopbackHost(u.Hostname()) {
			return usageError{fmt.Errorf("--dev serves a loopback --base-url only (%s is not): add --dev-allow-remote to accept the risk", c.baseURL)}
		}
	}
	return nil
}

// loopbackAddr reports whether a listen address binds loopback only (":8080" binds every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// The clients a development server administers with and audits with (the development issuer gives
// anyone a token for them: --dev is for demonstrations, never for real data).
const (
	devAdminClient   = "fhirgate-admin"
	devAuditorClient = "fhirgate-auditor"
	devSourceClient  = "fhirgate-audit-source"
)

// list splits a comma-separated flag value.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// storeOptions are how a command opens its store.
type storeOptions struct {
	log     *slog.Logger
	observe func(time.Duration, int, error)
	// acceptDataLoss lets a Redis store run on persistence settings that can lose acknowledged writes.
	acceptDataLoss bool
	// readOnly: the command only reads (audit verify, export); Redis persistence is not its concern.
	readOnly bool
	// cacheSize is the embedded store's block cache (0: its default).
	cacheSize int64
}

// storeFlagUsage documents --store for every command.
const storeFlagUsage = "store: file:DIR (embedded engine, files in DIR) or redis://[user:pass@]host:port/db[?prefix=P] (rediss:// for TLS; shared by several processes)"

// openStore opens the store named by a --store URL, and describes its durability for /readyz.
func openStore(raw string, o storeOptions) (store.Store, map[string]string, error) {
	switch {
	case strings.HasPrefix(raw, "file:"):
		dir := strings.TrimPrefix(raw, "file:")
		if dir == "" {
			return nil, nil, usageError{errors.New("--store file: needs a directory, e.g. file:./data")}
		}
		st, err := embedded.Open(embedded.Config{Dir: dir, Logger: o.log, CommitObserver: o.observe, CacheSize: o.cacheSize})
		return st, map[string]string{"engine": "embedded", "durability": "every commit is synced to disk before it is acknowledged"}, err
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"):
		if _, _, err := redis.ParseURL(raw); err != nil {
			return nil, nil, usageError{fmt.Errorf("--store: %w", err)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		st, err := redis.Open(ctx, redis.Config{URL: raw, Logger: o.log, CommitObserver: o.observe, AcceptDataLoss: o.acceptDataLoss || o.readOnly})
		if errors.Is(err, redis.ErrUnsafePersistence) {
			return nil, nil, fmt.Errorf("--store: %w (see docs/redis.md; --redis-accept-data-loss runs anyway, at that risk)", err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--store: %w", err)
		}
		info := map[string]string{"engine": "redis", "durability": st.Durability().String()}
		if st.Durability().Accepted {
			info["warning"] = "the Redis server can lose acknowledged writes (--redis-accept-data-loss)"
		}
		return st, info, nil
	}
	return nil, nil, usageError{fmt.Errorf("--store %q: expected file:DIR or redis://host:port/db", raw)}
}

// closeStore closes the store a command opened (a command defers it, joining the error to its own).
func closeStore(st store.Store) error {
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

func serve(args []string, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg.logFormat, stderr)
	slog.SetDefault(log)
	tuneGC()
	if from, to := tuneProcs(cfg.minProcs); to != from {
		log.Info("Go processors raised: the CPUs the server may use are unchanged", "gomaxprocs_from", from, "gomaxprocs", to, "flag", "--min-procs")
	}
	if cfg.dev {
		log.Warn("DEVELOPMENT MODE: a development OIDC issuer that authenticates no one hands out tokens at /dev-issuer, and demo data may be loaded; never use --dev with real patient data")
		if cfg.devAllowRemote {
			log.Warn("DEVELOPMENT MODE REACHABLE FROM OTHER MACHINES (--dev-allow-remote): anyone who can reach this server can obtain a token for any demo user", "addr", cfg.addr, "base_url", cfg.baseURL)
		}
	}

	var profiles *profile.Set // R4's core profiles
	if cfg.profiles != "" {
		if profiles, err = profile.LoadDir(cfg.profiles); err != nil {
			return fmt.Errorf("--profiles: %w", err)
		}
		log.Info("profiles loaded", "dir", cfg.profiles, "profiles", len(profiles.URLs()))
	}

	metrics := gateway.NewMetrics(nil)
	st, storeInfo, err := openStore(cfg.storeURL, storeOptions{log: log, observe: metrics.ObserveCommit, acceptDataLoss: cfg.acceptDataLoss,
		cacheSize: int64(cfg.cacheSize)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore(st)) }() // on an early return: the end closes it, and a second Close does nothing
	gcfg := gateway.Config{BaseURL: cfg.baseURL, Limits: cfg.limits, TrustedProxies: cfg.proxies,
		Logger: log, Version: version, StoreInfo: storeInfo, CORSOrigins: list(cfg.corsOrigins)}
	if cfg.rateLimit > 0 || cfg.maxInFlight > 0 {
		gcfg.Throttle = throttle.New(throttle.Config{Rate: cfg.rateLimit, Burst: cfg.rateBurst, MaxInFlight: cfg.maxInFlight})
	}
	tcfg := token.Config{Issuer: cfg.issuer, Audience: cfg.audience, Claims: cfg.claims}
	introspectURL := serverRoot(cfg.baseURL) + gateway.IntrospectPath
	var dev *devissuer.Issuer
	if cfg.issuer == "" { // --dev: the development issuer, verified through the very same path
		dev, err = newDevIssuer(cfg)
		if err != nil {
			return err
		}
		gcfg.DevIssuer = dev.Handler()
		tcfg.Issuer = dev.URL()
		tcfg.HTTPClient = &http.Client{Transport: dev.Transport(), Timeout: 10 * time.Second}
		tcfg.Revoked = dev.Revoked // in process: a revocation is seen from the next request on
	}
	startCtx, cancelStart := context.WithTimeout(context.Background(), 30*time.Second)
	verifier, err := token.New(startCtx, tcfg)
	cancelStart()
	if err != nil {
		return fmt.Errorf("--issuer: %w", err)
	}
	switch {
	case dev != nil:
		gcfg.Introspection = &gateway.Introspection{Verify: introspectVerify(verifier), Caller: dev.ClientAuthenticator(introspectURL)}
	case cfg.introspectionClients != "":
		gcfg.Introspection = &gateway.Introspection{Verify: introspectVerify(verifier), Caller: bearerCaller(verifier, list(cfg.introspectionClients))}
	}
	gcfg.SMART = conformance.SMARTFromDiscovery(verifier.Discovery())
	gcfg.SMART.PatientClaim = cfg.claims.Patient
	if gcfg.Introspection != nil {
		gcfg.SMART.IntrospectionEndpoint = introspectURL
	}
	if gcfg.SMART.AuthorizationEndpoint != "" && gcfg.SMART.TokenEndpoint != "" {
		u, _ := url.Parse(cfg.baseURL)
		gcfg.Portal, err = portal.Handler(portal.Config{FHIRBase: cfg.baseURL, ClientID: cfg.portalClientID,
			CheckpointURL:         u.Scheme + "://" + u.Host + "/audit/checkpoint",
			AuthorizationEndpoint: gcfg.SMART.AuthorizationEndpoint, TokenEndpoint: gcfg.SMART.TokenEndpoint})
		if err != nil {
			return err
		}
	} else {
		log.Warn("the OIDC provider publishes no authorization or token endpoint: the patient's pages (/portal/) are off")
	}
	signer, err := auditSigner(cfg, log)
	if err != nil {
		return err
	}
	if cfg.auditFailure == "open" {
		log.Warn("--audit-failure open: accesses that cannot be recorded are served anyway")
	}
	app, err := gateway.Assemble(gateway.Assembly{
		Store:   st,
		Gateway: gcfg,
		Service: rest.Config{MaxCount: cfg.maxCount, MaxBundleEntries: cfg.maxBundleEntries, MaxIncludes: cfg.maxIncludes,
			MaxIncluded: cfg.maxIncluded, MaxBatchResponse: int(cfg.maxBatchResponse), Profiles: profiles},
		Authenticator: auth.NewAuthenticator(verifier, cfg.baseURL),
		Access: auth.Options{DenyStatus: cfg.consentDenyStatus, AdminClients: list(cfg.adminClients),
			AuditorClients: list(cfg.auditorClients), AuditSourceClients: list(cfg.auditSourceClients)},
		ConsentDefault: consent.Decision(cfg.consentDefault),
		Audit:          audit.Config{FailOpen: cfg.auditFailure == "open"},
		Notify:         &audit.NotifyConfig{Tell: noticeWebhook(cfg.notifyWebhook)},
		Checkpoints:    &audit.CheckpointConfig{Signer: signer, File: cfg.auditCheckpoints, Interval: cfg.checkpointInterval},
		Export:         &rest.ExportConfig{Dir: exportDir(cfg), Retention: cfg.exportRetention, MaxJobs: cfg.exportMaxJobs, MaxPerFile: cfg.exportFileSize},
		ExportYieldAt:  exportYieldAt(cfg.exportYieldAt),
		Metrics:        metrics,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	svc, access, srv := app.Service, app.Access, app.Server
	if cfg.dev && cfg.demoData {
		if err := loadDemo(context.Background(), svc, st, access, log); err != nil {
			return fmt.Errorf("loading the demo data: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", cfg.addr, err)
	}
	httpSrv := srv.HTTPServer(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	if cfg.debugAddr != "" {
		if err := serveDebug(cfg.debugAddr, log); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("fhirgate listening", "addr", ln.Addr().String(), "base_url", cfg.baseURL, "store", redacted(cfg.storeURL), "version", version)
	if cfg.dev {
		printDevHelp(stderr, cfg)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", "err", err)
	}
	// The counts of refusals in aggregate, the patient notices still queued, the last checkpoint.
	if err := app.Close(shutdownCtx); err != nil {
		log.Error("the last audit checkpoint", "err", err)
	}
	if err := closeStore(st); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// noticeWebhook is what tells --notify-webhook of each notice (nothing without one).
func noticeWebhook(url string) func(context.Context, audit.Notice) error {
	if url == "" {
		return nil
	}
	return gateway.NoticeWebhook(url, nil)
}

// loadDemo loads the synthetic demo population into a store without patients (first start only), through the
// access decision point as the development administration client: the same rules as for any client.
func loadDemo(ctx context.Context, svc *rest.Service, st store.Store, access *auth.Access, log *slog.Logger) error {
	existing, err := st.History(ctx, store.HistoryQuery{Type: "Patient", Limit: 1}) // (the server's own Device is always there)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	admin := access.Guard(&auth.Principal{Subject: devAdminClient, ClientID: devAdminClient,
		Scopes: scope.Parse("system/*.cruds"), PurposeOfUse: []string{"HOPERAT"}})
	n := 0
	for _, b := range population.Demo() {
		resp, err := svc.Do(ctx, admin, &rest.Request{Interaction: rest.Transaction, Body: b, Return: rest.ReturnMinimal})
		if err != nil {
			return err
		}
		var out struct {
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			return fmt.Errorf("the demo transaction's response: %w", err)
		}
		n += len(out.Entry)
	}
	log.Info("demo data loaded", "resources", n)
	return nil
}

// auditSigner returns the key that signs audit checkpoints: --audit-key, or the data directory's, or
// one for this process only (said in the log: its checkpoints verify with the key they carry).
func auditSigner(cfg *serveConfig, log *slog.Logger) (*audit.Signer, error) {
	path := cfg.auditKey
	if path == "" && storeDir(cfg.storeURL) != "" {
		if err := os.MkdirAll(storeDir(cfg.storeURL), 0o700); err != nil {
			return nil, err
		}
		path = filepath.Join(storeDir(cfg.storeURL), "audit-key")
	}
	if path == "" {
		log.Warn("no --audit-key: audit checkpoints are signed with a key of this process only; give one to sign them with the same key across restarts")
		return audit.EphemeralSigner(), nil
	}
	return audit.LoadSigner(path)
}

// redacted is a store URL without its password, for the logs.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// exportYieldAt is --export-yield-at as the assembly takes it (0 there is the default, never is negative).
func exportYieldAt(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// exportDir returns the folder of the bulk exports ("" for a temporary one).
func exportDir(cfg *serveConfig) string {
	if cfg.exportDir == "" && storeDir(cfg.storeURL) != "" {
		return filepath.Join(storeDir(cfg.storeURL), "exports")
	}
	return cfg.exportDir
}

// storeDir returns the directory of a file: store ("" for other stores).
func storeDir(raw string) string {
	if d, ok := strings.CutPrefix(raw, "file:"); ok {
		return d
	}
	return ""
}

// newDevIssuer starts the development OIDC issuer; its key is kept in the data directory.
func newDevIssuer(cfg *serveConfig) (*devissuer.Issuer, error) {
	u, _ := url.Parse(cfg.baseURL)
	keyDir := filepath.Join(storeDir(cfg.storeURL), "dev-issuer")
	if storeDir(cfg.storeURL) == "" {
		keyDir = filepath.Join(os.TempDir(), "fhirgate-dev-issuer")
	}
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	var clients []devissuer.Client
	if cfg.devClients != "" {
		var err error
		if clients, err = devissuer.LoadClients(cfg.devClients); err != nil {
			return nil, usageError{fmt.Errorf("--dev-clients: %w", err)}
		}
	}
	return devissuer.New(devissuer.Config{
		Issuer: u.Scheme + "://" + u.Host + "/dev-issuer", Audience: cfg.audience, KeyDir: keyDir,
		Users:          demoUsers,
		Patients:       demoPatients,
		Clients:        clients,
		AccessLifetime: cfg.devTokenLifetime,
	})
}

// serverRoot is the scheme and host of a base URL.
func serverRoot(baseURL string) string {
	u, _ := url.Parse(baseURL)
	return u.Scheme + "://" + u.Host
}

// The demo population's users and patients, offered by the development issuer's sign-in page.
var (
	demoUsers = []devissuer.Choice{
		{Ref: "Practitioner/prac-house", Label: "Dr Gregory House (Hôpital Nord)"},
		{Ref: "Practitioner/prac-martin", Label: "Dr Claire Martin (Clinique Sud)"},
		{Ref: "Practitioner/prac-adviser", Label: "Dr Paul Durand (medical adviser, Assur Plus)"},
		{Ref: "Patient/pat-alice", Label: "Alice Dupont (patient)"},
		{Ref: "Patient/pat-bob", Label: "Bob Leroy (patient)"},
		{Ref: "Patient/pat-chloe", Label: "Chloé Bernard (patient)"},
		{Ref: "Patient/pat-david", Label: "David Petit (patient)"},
	}
	demoPatients = []devissuer.Choice{
		{Ref: "Patient/pat-alice", Label: "Alice Dupont"},
		{Ref: "Patient/pat-bob", Label: "Bob Leroy"},
		{Ref: "Patient/pat-chloe", Label: "Chloé Bernard"},
		{Ref: "Patient/pat-david", Label: "David Petit"},
	}
)

func printDevHelp(w io.Writer, cfg *serveConfig) {
	u, _ := url.Parse(cfg.baseURL)
	server := u.Scheme + "://" + u.Host
	fmt.Fprintf(w, `
Try it (tokens from the development issuer at %[1]s/dev-issuer):

  # a practitioner
  TOKEN=$(go run ./cmd/fhirgate token --server %[1]s --scope 'user/*.cruds' --fhir-user Practitioner/prac-house)
  curl -s -H "Authorization: Bearer $TOKEN" '%[2]s/Patient?name=dupont'

  # a patient, reading their own record
  TOKEN=$(go run ./cmd/fhirgate token --server %[1]s --scope 'patient/*.rs' --patient pat-alice --fhir-user Patient/pat-alice)
  curl -s -H "Authorization: Bearer $TOKEN" '%[2]s/Patient/pat-alice/$everything'

  # the administration client (%[3]s): writes the directory, records Consents on a patient's behalf
  TOKEN=$(go run ./cmd/fhirgate token --server %[1]s --client %[3]s --scope 'system/*.cruds')
  curl -s -H "Authorization: Bearer $TOKEN" '%[2]s/PractitionerRole?practitioner=Practitioner/prac-adviser'

  # the auditor (%[4]s): reads every AuditEvent
  TOKEN=$(go run ./cmd/fhirgate token --server %[1]s --client %[4]s --scope 'system/AuditEvent.rs')
  curl -s -H "Authorization: Bearer $TOKEN" '%[2]s/AuditEvent?_sort=-date&_count=10'

`, server, cfg.baseURL, devAdminClient, devAuditorClient)
}

// serveDebug serves Go's profiles (net/http/pprof) on addr, which must be a loopback address: profiles
// show the program's internals and hold no access control of their own.
func serveDebug(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return usageError{fmt.Errorf("--debug-addr %q: want a loopback address and port, e.g. 127.0.0.1:6060", addr)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// (Not /debug/pprof/cmdline: the command line may hold a store URL with its password.)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := srv.Serve(ln) // never shut down: a return is a failure
		log.Error("profiles no longer served", "addr", ln.Addr().String(), "err", err)
	}()
	log.Info("profiles served", "addr", ln.Addr().String(), "path", "/debug/pprof/")
	return nil
}

// defaultMinProcs is --min-procs' default. Every request waits for its audit event to be fsynced, and a
// goroutine in a blocking system call keeps its processor (P) until the runtime's monitor takes it back,
// which it does late when nothing else looks runnable; with one P — Go's default on a one-CPU machine
// or container, or GOMAXPROCS=1 — requests then queue behind each fsync instead of sharing it. Measured
// on one CPU (taskset -c 1, BenchmarkReadAuditOn, 16 clients): 1,639 audited reads/s with one P, 5,686
// with two, 6,321 with four; unaudited reads are the same with 1, 2 or 4 (11,468, 11,191, 10,228).
const defaultMinProcs = 4

// tuneProcs raises GOMAXPROCS to at least least (an operator's GOMAXPROCS included: it bounds the threads
// running Go code at once, not the CPUs they run on, which the CPU affinity and quota bound).
func tuneProcs(least int) (from, to int) {
	from = runtime.GOMAXPROCS(0)
	if least > from {
		runtime.GOMAXPROCS(least)
		return from, least
	}
	return from, from
}

// serverGCPercent is the collector's target when GOGC is not set: the live heap is small (the store's
// block cache lives outside it), so collecting less often buys throughput for little memory; 400 gave
// about 9% more audited reads/s than Go's default of 100 (BenchmarkPipelineThroughput, 2 cores).
const serverGCPercent = 400

// tuneGC sets the collector's target unless the operator chose one with GOGC (GOMEMLIMIT still applies).
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(serverGCPercent)
	}
}
