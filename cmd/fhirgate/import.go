package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/validation"
)

// importCmd loads files into a store through the same service as the API (validation, transactions,
// reference rewriting). Transaction Bundles are atomic; batch and collection Bundles, NDJSON files and
// single resources are loaded resource by resource. Every rejected resource is reported (file, entry or
// line, element path, reason) and the import goes on; the exit status is 1 when anything was rejected.
func importCmd(args []string, stdout, stderr io.Writer) (err error) {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	fset.SetOutput(stderr)
	storeURL := fset.String("store", "file:./data", storeFlagUsage)
	acceptDataLoss := fset.Bool("redis-accept-data-loss", false, "import into a Redis whose persistence can lose acknowledged writes")
	baseURL := fset.String("base-url", "http://localhost:8080/fhir", "base URL the resources will be served under")
	workers := fset.Int("workers", runtime.GOMAXPROCS(0)*2, "files loaded concurrently")
	progress := fset.Bool("progress", true, "show a progress line when stderr is a terminal")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate import [flags] FILE|DIR...\n\nLoads .json (Bundle or resource) and .ndjson files; directories are walked.")
		fset.PrintDefaults()
	}
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return usageError{errors.New("no files given")}
	}
	files, err := collectFiles(fset.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{errors.New("no .json or .ndjson files found")}
	}
	log := newLogger("text", io.Discard)
	st, _, err := openStore(*storeURL, storeOptions{log: log, acceptDataLoss: *acceptDataLoss})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore(st)) }()
	v, err := validation.New(validation.Config{})
	if err != nil {
		return err
	}
	svc, err := rest.New(rest.Config{BaseURL: *baseURL}, st, v)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	imp := &importer{svc: svc, ctx: ctx, out: stderr}
	start := time.Now()
	done := make(chan struct{})
	var bar sync.WaitGroup
	if f, ok := stderr.(*os.File); ok && *progress && term.IsTerminal(int(f.Fd())) {
		bar.Add(1)
		go func() { defer bar.Done(); imp.progress(len(files), start, done) }()
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < max(1, *workers); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				imp.file(f)
				imp.files.Add(1)
			}
		}()
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	close(done)
	bar.Wait()
	secs := time.Since(start).Seconds()
	n, rej := imp.resources.Load(), imp.rejected.Load()
	fmt.Fprintf(stdout, "imported %d resources from %d files in %.1f s (%.0f resources/s); %d rejected\n",
		n, imp.files.Load(), secs, float64(n)/max(secs, 1e-9), rej)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if rej > 0 {
		return fmt.Errorf("%d resources rejected (listed above)", rej)
	}
	return nil
}

func collectFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".ndjson")) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

type importer struct {
	svc                        *rest.Service
	ctx                        context.Context
	out                        io.Writer
	mu                         sync.Mutex // serialises reports
	resources, rejected, files atomic.Int64
}

func (imp *importer) reject(where string, err error) {
	imp.rejected.Add(1)
	fe := fhir.AsError(err)
	msg := fe.Details
	if fe.Diagnostics != "" {
		msg += " (" + fe.Diagnostics + ")"
	}
	path := fe.Expression
	if path == "" {
		path = "-"
	}
	imp.mu.Lock()
	fmt.Fprintf(imp.out, "\rrejected %s: %s: %s\n", where, path, msg)
	imp.mu.Unlock()
}

func (imp *importer) file(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		imp.reject(path, &fhir.Error{Kind: fhir.KindInvalid, Details: err.Error()})
		return
	}
	if strings.HasSuffix(path, ".ndjson") {
		imp.ndjson(path, b)
		return
	}
	r, err := fhir.ParseResource(b)
	if err != nil {
		imp.reject(path, err)
		return
	}
	if r.Type != "Bundle" {
		imp.one(path, b)
		return
	}
	var bundle struct {
		Type  string            `json:"type"`
		Entry []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		imp.reject(path, &fhir.Error{Kind: fhir.KindInvalid, Details: "malformed Bundle", Diagnostics: err.Error()})
		return
	}
	switch bundle.Type {
	case "transaction":
		resp, err := imp.svc.Do(imp.ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: b, Return: rest.ReturnMinimal})
		if err != nil {
			imp.reject(path, err)
			return
		}
		imp.resources.Add(int64(countWrites(resp.Body)))
	case "batch":
		resp, err := imp.svc.Do(imp.ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Batch, Body: b, Return: rest.ReturnMinimal})
		if err != nil {
			imp.reject(path, err)
			return
		}
		imp.batchResult(path, resp.Body)
	default: // collection, searchset, document...: each resource on its own
		for i, raw := range bundle.Entry {
			var e struct {
				Resource json.RawMessage `json:"resource"`
			}
			if json.Unmarshal(raw, &e) != nil || len(e.Resource) == 0 {
				continue
			}
			imp.one(fmt.Sprintf("%s entry[%d]", path, i), e.Resource)
		}
	}
}

func (imp *importer) ndjson(path string, b []byte) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			imp.one(fmt.Sprintf("%s:%d", path, line), append([]byte(nil), l...))
		}
	}
	if err := sc.Err(); err != nil {
		imp.reject(fmt.Sprintf("%s:%d", path, line+1), &fhir.Error{Kind: fhir.KindInvalid, Details: err.Error()})
	}
}

// one loads a single resource: an update when it has an id (so references between files hold), a
// create otherwise.
func (imp *importer) one(where string, body []byte) {
	r, err := fhir.ParseResource(body)
	if err != nil {
		imp.reject(where, err)
		return
	}
	req := &rest.Request{Interaction: rest.Create, Type: r.Type, Body: body, Return: rest.ReturnMinimal}
	if r.ID != "" {
		req.Interaction, req.ID = rest.Update, r.ID
	}
	if _, err := imp.svc.Do(imp.ctx, rest.AllowAll{}, req); err != nil {
		imp.reject(where, err)
		return
	}
	imp.resources.Add(1)
}

func (imp *importer) batchResult(path string, body []byte) {
	var out struct {
		Entry []struct {
			Response struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		imp.reject(path, &fhir.Error{Kind: fhir.KindInternal, Details: "the batch's response cannot be read", Diagnostics: err.Error()})
		return
	}
	for i, e := range out.Entry {
		if strings.HasPrefix(e.Response.Status, "2") {
			imp.resources.Add(1)
			continue
		}
		var oo struct {
			Issue []struct {
				Details     struct{ Text string } `json:"details"`
				Diagnostics string                `json:"diagnostics"`
				Expression  []string              `json:"expression"`
			} `json:"issue"`
		}
		fe := &fhir.Error{Kind: fhir.KindInvalid, Details: e.Response.Status}
		if json.Unmarshal(e.Response.Outcome, &oo) == nil && len(oo.Issue) > 0 { // else the status says it all
			fe.Details, fe.Diagnostics = oo.Issue[0].Details.Text, oo.Issue[0].Diagnostics
			if len(oo.Issue[0].Expression) > 0 {
				fe.Expression = oo.Issue[0].Expression[0]
			}
		}
		imp.reject(fmt.Sprintf("%s entry[%d]", path, i), fe)
	}
}

func countWrites(body []byte) int {
	var out struct {
		Entry []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &out) != nil { // the service's own answer: not expected
		return 0
	}
	n := 0
	for _, e := range out.Entry {
		if strings.HasPrefix(e.Response.Status, "20") {
			n++
		}
	}
	return n
}

func (imp *importer) progress(total int, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			imp.mu.Lock()
			fmt.Fprint(imp.out, "\r\033[K")
			imp.mu.Unlock()
			return
		case <-t.C:
			n := imp.resources.Load()
			secs := time.Since(start).Seconds()
			f := imp.files.Load()
			width := 30
			fill := int(float64(width) * float64(f) / float64(total))
			imp.mu.Lock()
			fmt.Fprintf(imp.out, "\r\033[K[%s%s] %d/%d files  %d resources  %.0f/s  %d rejected",
				strings.Repeat("#", fill), strings.Repeat(".", width-fill), f, total, n, float64(n)/max(secs, 1e-9), imp.rejected.Load())
			imp.mu.Unlock()
		}
	}
}
