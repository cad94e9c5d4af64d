// Package portal serves the patient's pages under /portal/: who accessed my record (from the patient's
// AuditEvents), who may see it (the patient's Consents, in words, with actions that write Consents), and
// the notices of first and emergency accesses. The pages are a SMART app of the server's own, in plain
// HTML, CSS and JavaScript embedded in the binary (no build step), in English and French. They call the
// FHIR API with the patient's token like any other app, so scopes, consent and audit apply to them.
package portal

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

//go:embed static
var static embed.FS

// Scope is what the pages ask for: the patient's data to read, their Consents to manage, and their
// notices to mark as read.
const Scope = "openid fhirUser launch/patient patient/*.rs patient/Consent.cruds patient/Communication.u"

// Config tells the pages where the FHIR API and the authorization server are.
type Config struct {
	// FHIRBase is the FHIR base URL (absolute), the token audience.
	FHIRBase string
	// CheckpointURL, when set, is where the server serves its latest signed audit checkpoint (on the
	// pages' own origin): the history says whether the newest access is sealed.
	CheckpointURL string
	// ClientID is the pages' client id at the authorization server (a public client).
	ClientID string
	// AuthorizationEndpoint and TokenEndpoint are the authorization server's (absolute URLs).
	AuthorizationEndpoint, TokenEndpoint string
}

// Handler serves the pages; mount it at /portal/ (it also answers /portal).
func Handler(cfg Config) (http.Handler, error) {
	for name, v := range map[string]string{"FHIR base": cfg.FHIRBase, "authorization endpoint": cfg.AuthorizationEndpoint, "token endpoint": cfg.TokenEndpoint} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("portal: the " + name + " must be an absolute http(s) URL, got " + v)
		}
	}
	if cfg.ClientID == "" {
		return nil, errors.New("portal: a client id is required")
	}
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	conf, err := json.Marshal(map[string]string{
		"fhirBase": strings.TrimSuffix(cfg.FHIRBase, "/"), "clientId": cfg.ClientID, "scope": Scope,
		"authorizationEndpoint": cfg.AuthorizationEndpoint, "tokenEndpoint": cfg.TokenEndpoint,
		"checkpointURL": cfg.CheckpointURL,
	})
	if err != nil {
		return nil, err
	}
	csp := contentSecurityPolicy(cfg)
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, "/portal")), "/")
		switch name {
		case "", "index.html":
			h.Set("Cache-Control", "no-store")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/"
			fileServer.ServeHTTP(w, r2)
		case "config.json":
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(conf) // an error here is the client gone: nothing left to do
		case "app.js", "style.css", "i18n.json":
			h.Set("Cache-Control", "no-cache")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + name
			fileServer.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	}), nil
}

// contentSecurityPolicy allows the pages' own files and calls to the FHIR API and the token endpoint
// only: no inline script or style, no third-party anything, no framing.
func contentSecurityPolicy(cfg Config) string {
	connect := []string{"'self'"}
	for _, raw := range []string{cfg.FHIRBase, cfg.TokenEndpoint} {
		if u, err := url.Parse(raw); err == nil {
			o := u.Scheme + "://" + u.Host
			if !slices.Contains(connect, o) {
				connect = append(connect, o)
			}
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + strings.Join(connect, " ") + "; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
}
