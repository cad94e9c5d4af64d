package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"fhirgate/fhir"
	"fhirgate/loadgen"
)

// exportCmd runs a bulk export against a server (any Bulk Data Access v2.0.0 server): it kicks off,
// polls, downloads the files with the token, checks their counts and writes manifest.json beside them.
func exportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080/fhir", "FHIR base URL of the server")
	group := fs.String("group", "", "export the members of this Group (Group/ID/$export)")
	patientLevel := fs.Bool("patient-level", false, "export every patient (Patient/$export)")
	system := fs.Bool("system", false, "export the whole system ($export; the default)")
	types := fs.String("type", "", "resource types to export, comma-separated (_type; default: what the server exports)")
	since := fs.String("since", "", "only resources changed at or after this instant (_since), e.g. 2024-01-01T00:00:00Z")
	out := fs.String("out", "", "folder for the files and manifest.json (created when missing)")
	bearer := fs.String("bearer", "", "access token sent as Authorization: Bearer")
	tokenCmd := fs.String("token-cmd", "", "command (sh -c) printing an access token, run again on a 401")
	maxWait := fs.Duration("max-wait", time.Hour, "give up (and cancel the export) after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate export --server URL [--group ID | --patient-level | --system] [--type T,...] [--since I] --out DIR --token-cmd CMD")
		fmt.Fprintln(stderr, "Runs a bulk export (FHIR Bulk Data Access v2.0.0) and downloads its NDJSON files, checking their counts.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	levels := 0
	for _, set := range []bool{*group != "", *patientLevel, *system} {
		if set {
			levels++
		}
	}
	switch {
	case levels > 1:
		return usageError{errors.New("--group, --patient-level and --system exclude each other")}
	case *out == "":
		return usageError{errors.New("--out is required")}
	case *group != "" && !fhir.ValidID(*group):
		return usageError{fmt.Errorf("--group %q is not a resource id", *group)}
	case *bearer != "" && *tokenCmd != "":
		return usageError{errors.New("--bearer and --token-cmd exclude each other")}
	}
	if *since != "" {
		if _, err := fhir.ParseInstant(*since); err != nil {
			return usageError{fmt.Errorf("--since %q is not an instant (e.g. 2024-01-01T00:00:00Z)", *since)}
		}
	}
	var typeList []string
	for _, t := range strings.Split(*types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			if !fhir.IsResourceType(t) {
				return usageError{fmt.Errorf("--type: %q is not a resource type", t)}
			}
			typeList = append(typeList, t)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	creds := loadgen.Bearer(*bearer)
	if *tokenCmd != "" {
		var err error
		if creds, err = loadgen.TokenCommand(ctx, *tokenCmd); err != nil {
			return err
		}
	}
	start, last := time.Now(), ""
	res, err := loadgen.Export(ctx, loadgen.ExportConfig{Server: *server, Group: *group, Patient: *patientLevel,
		Types: typeList, Since: *since, Out: *out, Credentials: creds, MaxWait: *maxWait,
		Progress: func(p string) {
			if p != last {
				last = p
				fmt.Fprintf(stderr, "exporting: %s (%.0f s)\n", p, time.Since(start).Seconds())
			}
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d resources in %d files to %s in %.1f s (transactionTime %s)\n",
		res.Resources, len(res.Output), *out, time.Since(start).Seconds(), res.TransactionTime)
	return nil
}
