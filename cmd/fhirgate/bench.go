package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"fhirgate/loadgen"
)

// benchCmd runs fhirgate bench populate|run.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("want populate or run (fhirgate bench populate -h, fhirgate bench run -h)")}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "populate":
		return benchPopulate(ctx, args[1:], stdout, stderr)
	case "run":
		return benchRun(ctx, args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown bench command %q: want populate or run", args[0])}
}

// benchTarget holds the flags populate and run share: the server, its population and the credentials.
type benchTarget struct {
	server, bearer, tokenCmd string
	patients, connections    int
	seed                     int64
	json                     bool
}

func (t *benchTarget) flags(fs *flag.FlagSet, connections int) {
	fs.StringVar(&t.server, "server", "http://127.0.0.1:8080/fhir", "FHIR base URL of the server under load (any FHIR R4 server)")
	fs.IntVar(&t.patients, "patients", 100, "number of patients of the population")
	fs.Int64Var(&t.seed, "seed", 1, "population seed: the same seed gives the same resources")
	fs.IntVar(&t.connections, "connections", connections, fmt.Sprintf("concurrent connections (1 to %d)", loadgen.MaxConnections))
	fs.StringVar(&t.bearer, "bearer", "", "access token sent as Authorization: Bearer (none by default)")
	fs.StringVar(&t.tokenCmd, "token-cmd", "", "command (sh -c) printing an access token, run again on a 401")
	fs.BoolVar(&t.json, "json", false, "print the result as JSON")
}

func (t *benchTarget) credentials(ctx context.Context) (*loadgen.Credentials, error) {
	switch {
	case t.bearer != "" && t.tokenCmd != "":
		return nil, usageError{errors.New("--bearer and --token-cmd exclude each other")}
	case t.tokenCmd != "":
		return loadgen.TokenCommand(ctx, t.tokenCmd)
	}
	return loadgen.Bearer(t.bearer), nil
}

func benchPopulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench populate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t benchTarget
	t.flags(fs, 4)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate bench populate --server URL --patients N [--seed S] [--bearer T | --token-cmd CMD]")
		fmt.Fprintln(stderr, "Loads a deterministic synthetic population as transaction Bundles (idempotent PUTs).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	creds, err := t.credentials(ctx)
	if err != nil {
		return err
	}
	last := time.Now()
	res, err := loadgen.Populate(ctx, loadgen.PopulateConfig{Server: t.server, Patients: t.patients, Seed: t.seed,
		Connections: t.connections, Credentials: creds, Progress: func(done, total int) {
			if !t.json && (time.Since(last) > 2*time.Second || done == total) {
				last = time.Now()
				fmt.Fprintf(stderr, "%d/%d bundles\n", done, total)
			}
		}})
	if err != nil {
		return fmt.Errorf("after %d bundles (%d resources): %w", res.Bundles, res.Resources, err)
	}
	if t.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"server": t.server, "patients": t.patients, "seed": t.seed,
			"bundles": res.Bundles, "resources": res.Resources, "elapsed_s": res.Elapsed.Seconds(), "resources_per_s": res.ResourcesPerSecond()})
	}
	fmt.Fprintf(stdout, "loaded %d patients (seed %d): %d bundles, %d resources in %.1f s, %.0f resources/s\n",
		t.patients, t.seed, res.Bundles, res.Resources, res.Elapsed.Seconds(), res.ResourcesPerSecond())
	return nil
}

func benchRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t benchTarget
	t.flags(fs, 32)
	workload := fs.String("workload", "read", "what to do: "+strings.Join(loadgen.Workloads, ", "))
	duration := fs.Duration("duration", 30*time.Second, fmt.Sprintf("how long to run (at most %v)", loadgen.MaxDuration))
	requests := fs.Int("requests", 0, "stop after this many requests (0: no limit but --duration)")
	bundles := fs.String("bundles", "", "directory of transaction Bundles (*.json, e.g. Synthea's) for the transaction workload, instead of generated patients")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate bench run --server URL --workload W --connections C --duration D [--bearer T | --token-cmd CMD] [--json]")
		fmt.Fprintf(stderr, "Workloads: read (by id), search (patient-scoped), create (Observation), transaction (a patient's Bundle), mixed (%d%% read, %d%% search, %d%% create).\n",
			loadgen.Mixed.Read, loadgen.Mixed.Search, loadgen.Mixed.Create)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg := loadgen.RunConfig{Server: t.server, Workload: *workload, Connections: t.connections,
		Duration: *duration, Requests: *requests, Patients: t.patients, Seed: t.seed}
	if err := cfg.Check(); err != nil {
		return usageError{fmt.Errorf("--%w", err)}
	}
	var bodies [][]byte
	if *bundles != "" {
		files, _ := filepath.Glob(filepath.Join(*bundles, "*.json"))
		if len(files) == 0 {
			return usageError{fmt.Errorf("--bundles %s: no *.json file", *bundles)}
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			bodies = append(bodies, b)
		}
	}
	creds, err := t.credentials(ctx)
	if err != nil {
		return err
	}
	cfg.Bundles, cfg.Credentials = bodies, creds
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if t.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(stdout)
	return nil
}
