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
	"net/url"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/gateway"
	"fhirgate/population"
)

type serveConfig struct {
	addr, baseURL, storeURL, issuer, audience, logFormat string
	dev, demoData                                        bool
	maxBody                                              byteSize
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{maxBody: 16 << 20}
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.baseURL, "base-url", "http://localhost:8080/fhir", "public base URL used in links, Location and fullUrl")
	fs.StringVar(&c.storeURL, "store", "file:./data", "store: file:DIR (embedded engine, files in DIR)")
	fs.StringVar(&c.issuer, "issuer", "", "OIDC issuer URL (discovery and JWKS); required unless --dev")
	fs.StringVar(&c.audience, "audience", "", "expected aud of access tokens (default: the base URL)")
	fs.BoolVar(&c.dev, "dev", false, "development mode: open API unless --issuer, demo data, loud warning in the log")
	fs.BoolVar(&c.demoData, "demo-data", true, "with --dev, load the synthetic demo population on first start")
	fs.Var(&c.maxBody, "max-body", "largest request body accepted, e.g. 16MiB (413 beyond)")
	fs.StringVar(&c.logFormat, "log-format", "", "log format: json or text (default json; text with --dev)")
	return c
}

func (c *serveConfig) validate() error {
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
		return usageError{errors.New("--issuer: OIDC token verification is not available in this build yet; run with --dev")}
	}
	return nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// openStore opens the store named by a --store URL.
func openStore(raw string, log *slog.Logger, observe func(time.Duration, int, error)) (*embedded.Store, error) {
	switch {
	case strings.HasPrefix(raw, "file:"):
		dir := strings.TrimPrefix(raw, "file:")
		if dir == "" {
			return nil, usageError{errors.New("--store file: needs a directory, e.g. file:./data")}
		}
		return embedded.Open(embedded.Config{Dir: dir, Logger: log, CommitObserver: observe})
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"):
		return nil, usageError{errors.New("--store redis:// is not available in this build yet; use file:DIR")}
	}
	return nil, usageError{fmt.Errorf("--store %q: expected file:DIR", raw)}
}

func serve(args []string, stderr io.Writer) error {
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
	if cfg.dev {
		log.Warn("DEVELOPMENT MODE: the API is open to anyone who can reach it and demo data may be loaded; never use --dev with real patient data")
	}

	metrics := gateway.NewMetrics(nil)
	st, err := openStore(cfg.storeURL, log, metrics.ObserveCommit)
	if err != nil {
		return err
	}
	defer st.Close()
	validator, err := fhir.NewValidator()
	if err != nil {
		return err
	}
	svc, err := rest.New(rest.Config{BaseURL: cfg.baseURL}, st, validator)
	if err != nil {
		return err
	}
	srv, err := gateway.New(gateway.Config{BaseURL: cfg.baseURL, MaxBody: int64(cfg.maxBody), Logger: log, Version: version},
		svc, st, gateway.OpenPolicy{}, metrics)
	if err != nil {
		return err
	}
	if cfg.dev && cfg.demoData {
		if err := loadDemo(context.Background(), svc, st, log); err != nil {
			return fmt.Errorf("loading the demo data: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", cfg.addr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("fhirgate listening", "addr", ln.Addr().String(), "base_url", cfg.baseURL, "store", cfg.storeURL, "version", version)
	if cfg.dev {
		fmt.Fprintf(stderr, "\nTry it:\n  curl -s %s/metadata | head -c 300\n  curl -s '%s/Patient?name=dupont'\n  curl -s '%s/Patient/pat-alice/$everything?_count=20'\n\n",
			cfg.baseURL, cfg.baseURL, cfg.baseURL)
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
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	log.Info("stopped")
	return nil
}

// loadDemo loads the synthetic demo population into an empty store (first start only).
func loadDemo(ctx context.Context, svc *rest.Service, st store.Store, log *slog.Logger) error {
	existing, err := st.History(ctx, store.HistoryQuery{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	ctx = rest.WithGuard(ctx, rest.AllowAll{})
	n := 0
	for _, b := range population.Demo() {
		resp, err := svc.Do(ctx, &rest.Request{Interaction: rest.Transaction, Body: b, Return: rest.ReturnMinimal})
		if err != nil {
			return err
		}
		var out struct {
			Entry []json.RawMessage `json:"entry"`
		}
		json.Unmarshal(resp.Body, &out)
		n += len(out.Entry)
	}
	log.Info("demo data loaded", "resources", n)
	return nil
}
