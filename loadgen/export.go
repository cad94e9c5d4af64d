package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A Bulk Data Access v2.0.0 client (https://hl7.org/fhir/uv/bulkdata/export.html): Export kicks off an
// export, polls its status URL as the server asks (Retry-After), downloads every file the manifest lists
// with the bearer token, and checks that each holds as many resources as the manifest counts.

// ExportConfig says which export to run, and where its files go.
type ExportConfig struct {
	// Server is the FHIR base URL.
	Server string
	// Group, when set, exports that Group's members ([base]/Group/[id]/$export); Patient, when true,
	// every patient ([base]/Patient/$export); otherwise the whole system ([base]/$export).
	Group   string
	Patient bool
	// Types and Since are the _type and _since parameters (none when empty).
	Types []string
	Since string
	// Out is the folder the files and manifest.json are written to (created when missing).
	Out string
	// Credentials give the bearer token (refreshed on a 401 when they come from a command).
	Credentials *Credentials
	// Progress, when set, is told each X-Progress of a running export.
	Progress func(progress string)
	// MaxWait bounds the whole export (default an hour).
	MaxWait time.Duration
}

// ExportFile is one file of a finished export, as downloaded.
type ExportFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
	// File is the name of the downloaded file in the output folder.
	File string `json:"file"`
}

// ExportResult is a finished export: its manifest's fields and the files written.
type ExportResult struct {
	TransactionTime     string       `json:"transactionTime"`
	Request             string       `json:"request"`
	RequiresAccessToken bool         `json:"requiresAccessToken"`
	Output              []ExportFile `json:"output"`
	Error               []ExportFile `json:"error"`
	// Resources counts the lines of the output files.
	Resources int `json:"-"`
}

// maxRetryAfter bounds the wait between two status requests, whatever the server asks.
const maxRetryAfter = time.Minute

// Export runs one bulk export to its end. An export the server fails, a file whose line count differs
// from its manifest's count, or errors listed in the manifest are errors; when ctx ends while the export
// runs, the export is cancelled at the server (DELETE of its status URL).
func Export(ctx context.Context, cfg ExportConfig) (*ExportResult, error) {
	c, err := newClient(cfg.Server, 2, cfg.Credentials)
	if err != nil {
		return nil, err
	}
	defer c.close()
	c.http.Timeout = 0 // files can be large: each request is bounded by ctx instead
	if cfg.Out == "" {
		return nil, errors.New("no output folder")
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxWait)
	defer cancel()
	status, err := exportKickoff(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	manifest, err := exportPoll(ctx, c, status, cfg.Progress)
	if err != nil {
		if ctx.Err() != nil {
			exportCancel(c, status)
		}
		return nil, err
	}
	var res ExportResult
	if err := json.Unmarshal(manifest, &res); err != nil {
		return nil, fmt.Errorf("the manifest is not JSON: %w", err)
	}
	if err := os.MkdirAll(cfg.Out, 0o700); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, files := range [][]ExportFile{res.Output, res.Error} {
		for i := range files {
			f := &files[i]
			if f.File, err = fileName(f, names); err != nil {
				return nil, err
			}
			n, err := exportDownload(ctx, c, f.URL, filepath.Join(cfg.Out, f.File), res.RequiresAccessToken)
			if err != nil {
				return nil, fmt.Errorf("downloading %s: %w", f.URL, err)
			}
			if n != f.Count {
				return nil, fmt.Errorf("%s has %d resources, but the manifest counts %d", f.File, n, f.Count)
			}
		}
	}
	for _, f := range res.Output {
		res.Resources += f.Count
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Out, "manifest.json"), append(out, '\n'), 0o600); err != nil {
		return nil, err
	}
	if len(res.Error) > 0 {
		return &res, fmt.Errorf("the server reported errors in %d file(s): %s", len(res.Error), res.Error[0].File)
	}
	return &res, nil
}

// exportPath is the kick-off's URL relative to the base.
func exportPath(cfg ExportConfig) string {
	p := "$export"
	switch {
	case cfg.Group != "":
		p = "Group/" + url.PathEscape(cfg.Group) + "/$export"
	case cfg.Patient:
		p = "Patient/$export"
	}
	q := url.Values{}
	if len(cfg.Types) > 0 {
		q.Set("_type", strings.Join(cfg.Types, ","))
	}
	if cfg.Since != "" {
		q.Set("_since", cfg.Since)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// exportKickoff starts the export and returns its status URL; a 429 is retried after its Retry-After.
func exportKickoff(ctx context.Context, c *client, cfg ExportConfig) (string, error) {
	u := c.base + "/" + exportPath(cfg)
	for {
		resp, body, err := exportGet(ctx, c, http.MethodGet, u, "application/fhir+json", true, "Prefer", "respond-async")
		if err != nil {
			return "", err
		}
		switch {
		case resp.StatusCode == http.StatusAccepted:
			loc := resp.Header.Get("Content-Location")
			if loc == "" {
				return "", errors.New("the kick-off was accepted without a Content-Location")
			}
			return loc, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			if err := sleep(ctx, retryAfter(resp.Header, 5*time.Second)); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("the kick-off answered %d: %s", resp.StatusCode, outcomeText(body))
		}
	}
}

// exportPoll polls the status URL until the manifest (200), reporting each X-Progress.
func exportPoll(ctx context.Context, c *client, status string, progress func(string)) ([]byte, error) {
	for {
		resp, body, err := exportGet(ctx, c, http.MethodGet, status, "application/json", true)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return body, nil
		case http.StatusAccepted, http.StatusTooManyRequests:
			if p := resp.Header.Get("X-Progress"); p != "" && progress != nil {
				progress(p)
			}
			if err := sleep(ctx, retryAfter(resp.Header, time.Second)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("the export failed: the status URL answered %d: %s", resp.StatusCode, outcomeText(body))
		}
	}
}

// exportCancel asks the server to cancel an export the client gave up on (best effort, briefly).
func exportCancel(c *client, status string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _ = exportGet(ctx, c, http.MethodDelete, status, "application/json", true)
}

// exportGet sends a request with the token (renewed and sent again once on a 401) and reads a small answer.
func exportGet(ctx context.Context, c *client, method, u, accept string, withToken bool, header ...string) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		resp, err := exportSend(ctx, c, method, u, accept, withToken, header...)
		if err != nil {
			return nil, nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && withToken && c.creds.renewable() {
			if err := c.creds.fetch(ctx); err != nil {
				return nil, nil, err
			}
			continue
		}
		return resp, body, nil
	}
}

func exportSend(ctx context.Context, c *client, method, u, accept string, withToken bool, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if h := c.creds.header(); h != "" && withToken {
		req.Header.Set("Authorization", h)
	}
	return c.http.Do(req)
}

// exportDownload streams one file to dest and returns its number of (non-empty) lines.
func exportDownload(ctx context.Context, c *client, u, dest string, withToken bool) (int, error) {
	resp, err := exportSend(ctx, c, http.MethodGet, u, "application/fhir+ndjson", withToken)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusUnauthorized && withToken && c.creds.renewable() {
		_ = resp.Body.Close()
		if err := c.creds.fetch(ctx); err != nil {
			return 0, err
		}
		if resp, err = exportSend(ctx, c, http.MethodGet, u, "application/fhir+ndjson", withToken); err != nil {
			return 0, err
		}
		defer func() { _ = resp.Body.Close() }()
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, fmt.Errorf("answered %d: %s", resp.StatusCode, outcomeText(body))
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := copyCountingLines(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// copyCountingLines copies r to w and counts its non-empty lines.
func copyCountingLines(w io.Writer, r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	n, blank := 0, true
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		if err := bw.WriteByte(b); err != nil {
			return n, err
		}
		switch {
		case b == '\n':
			if !blank {
				n++
			}
			blank = true
		case b != ' ' && b != '\t' && b != '\r':
			blank = false
		}
	}
	if !blank {
		n++
	}
	return n, bw.Flush()
}

// fileName picks the local name of a manifest's file: the last segment of its URL when it is a plain
// name, else Type-N.ndjson; never one already taken.
func fileName(f *ExportFile, taken map[string]bool) (string, error) {
	u, err := url.Parse(f.URL)
	if err != nil || f.URL == "" {
		return "", fmt.Errorf("the manifest lists a file with the URL %q", f.URL)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || name == "manifest.json" {
		name = ""
	}
	for i := 1; name == "" || taken[name]; i++ {
		name = fmt.Sprintf("%s-%d.ndjson", strings.Map(safeRune, f.Type), i)
	}
	taken[name] = true
	return name, nil
}

func safeRune(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return r
	}
	return '_'
}

// retryAfter is a Retry-After in seconds (or an HTTP date), within 0 and maxRetryAfter, or def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return def
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
