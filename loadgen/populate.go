package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"fhirgate/population"
)

// PopulateConfig says which population to load where.
type PopulateConfig struct {
	Server      string // the FHIR base URL
	Patients    int
	Seed        int64
	Connections int // bundles in flight at once (default 4)
	Credentials *Credentials
	// Progress, when set, is called after each bundle with the number loaded and the total.
	Progress func(done, total int)
}

// PopulateResult says what was loaded.
type PopulateResult struct {
	Bundles   int
	Resources int
	Elapsed   time.Duration
}

// ResourcesPerSecond is the load rate.
func (r PopulateResult) ResourcesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Resources) / r.Elapsed.Seconds()
}

// Populate loads population.Shared, then population.Patient for each patient, then the Group of them all
// (population.Cohort, for Group-level bulk export), each as one transaction Bundle of idempotent PUTs, and
// stops at the first bundle the server does not accept whole. Loading the same population twice changes
// nothing but versions.
func Populate(ctx context.Context, cfg PopulateConfig) (PopulateResult, error) {
	if cfg.Patients < 0 {
		return PopulateResult{}, fmt.Errorf("patients %d: want 0 or more", cfg.Patients)
	}
	if cfg.Connections == 0 {
		cfg.Connections = 4
	}
	c, err := newClient(cfg.Server, cfg.Connections, cfg.Credentials)
	if err != nil {
		return PopulateResult{}, err
	}
	defer c.close()
	pop := population.Config{Patients: cfg.Patients, Seed: cfg.Seed}
	start := time.Now()
	total := cfg.Patients + 2
	n, err := postTransaction(ctx, c, population.Shared(pop))
	if err != nil {
		return PopulateResult{}, fmt.Errorf("shared resources: %w", err)
	}
	res := PopulateResult{Bundles: 1, Resources: n}
	if cfg.Progress != nil {
		cfg.Progress(1, total)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next      atomic.Int64
		resources atomic.Int64
		done      atomic.Int64
		once      sync.Once
		firstErr  error
		wg        sync.WaitGroup
	)
	done.Store(1)
	for range min(cfg.Connections, max(cfg.Patients, 1)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.Patients {
					return
				}
				n, err := postTransaction(ctx, c, population.Patient(pop, i))
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("patient %s: %w", population.PatientID(i), err); cancel() })
					return
				}
				resources.Add(int64(n))
				d := done.Add(1)
				if cfg.Progress != nil {
					cfg.Progress(int(d), total)
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	res.Bundles = int(done.Load())
	res.Resources += int(resources.Load())
	if firstErr == nil {
		n, err := postTransaction(ctx, c, population.Cohort(pop))
		if err != nil {
			firstErr = fmt.Errorf("the cohort Group: %w", err)
		} else {
			res.Bundles++
			res.Resources += n
			if cfg.Progress != nil {
				cfg.Progress(res.Bundles, total)
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res, firstErr
}

// postTransaction posts one transaction Bundle and returns the number of entries the server accepted;
// anything but a transaction-response whose entries all succeeded is an error that quotes the server.
func postTransaction(ctx context.Context, c *client, bundle []byte) (int, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, body: bundle, keep: true})
	if err != nil {
		return 0, err
	}
	if resp.status != http.StatusOK {
		return 0, fmt.Errorf("the server answered %d: %s", resp.status, outcomeText(resp.body))
	}
	var out struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil || out.ResourceType != "Bundle" || out.Type != "transaction-response" {
		return 0, errors.New("the server did not answer with a transaction-response Bundle")
	}
	for i, e := range out.Entry {
		if !strings.HasPrefix(e.Response.Status, "2") {
			return 0, fmt.Errorf("entry %d answered %q", i, e.Response.Status)
		}
	}
	return len(out.Entry), nil
}

// outcomeText summarises an OperationOutcome (or any answer) in one short line.
func outcomeText(body []byte) string {
	var oo struct {
		Issue []struct {
			Severity    string   `json:"severity"`
			Code        string   `json:"code"`
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) == nil && len(oo.Issue) > 0 {
		var parts []string
		for _, is := range oo.Issue {
			p := is.Severity + " " + is.Code
			if len(is.Expression) > 0 {
				p += " at " + strings.Join(is.Expression, ", ")
			}
			if is.Diagnostics != "" {
				p += ": " + is.Diagnostics
			}
			parts = append(parts, p)
		}
		return clip(strings.Join(parts, "; "), 400)
	}
	return clip(strings.TrimSpace(string(body)), 200)
}

// clip makes s one line of at most n bytes (and an ellipsis), cut between characters.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
