// Command fhirgate is a FHIR R4 server and gateway: every request authenticated and authorized, every
// access to a patient's data checked against the patient's consent and recorded in a tamper-evident audit
// log the patient can read.
//
// Usage:
//
//	fhirgate serve [flags]           run the server (see fhirgate serve -h)
//	fhirgate import [flags] PATH...  load Bundles and NDJSON files into a store
//	fhirgate token --scope S ...     print a development server's access token
//	fhirgate launch --patient ID     make an EHR launch context at a development server
//	fhirgate audit verify|export     verify the audit chain; export audit events as NDJSON
//	fhirgate bench populate|run      load a synthetic population; drive measured load
//	fhirgate export --out DIR [...]  run a bulk export and download its files
//	fhirgate version                 print the version
//
// Every flag can also be set with an environment variable FHIRGATE_<NAME> (upper case, dashes as
// underscores): --max-body is FHIRGATE_MAX_BODY.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "import":
		err = importCmd(args[1:], stdout, stderr)
	case "token":
		err = tokenCmd(args[1:], stdout, stderr)
	case "launch":
		err = launchCmd(args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(args[1:], stdout, stderr)
	case "export":
		err = exportCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "fhirgate", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "fhirgate: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "fhirgate %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "fhirgate %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `fhirgate: a FHIR R4 server and gateway

Usage:
  fhirgate serve [flags]            run the server (fhirgate serve -h for the flags)
  fhirgate import [flags] PATH...   load Bundles (transaction, batch, collection) and NDJSON into a store
  fhirgate token --scope S [...]    print an access token from a --dev server's development issuer
  fhirgate launch --patient ID      make an EHR launch context (--encounter ID, --app URL) at a --dev server
  fhirgate audit verify [--store]   check that the audit trail has not been altered
  fhirgate audit export --since D   stream audit events as NDJSON (--patient ID for one patient)
  fhirgate bench populate [flags]   load a deterministic synthetic population through the API
  fhirgate bench run [flags]        drive a workload (read, search, create, transaction, mixed) and report
  fhirgate export --out DIR [flags] run a bulk export (--group ID, --patient-level or --system) and download it
  fhirgate version                  print the version

Every flag can be set with an environment variable FHIRGATE_<NAME>, e.g. FHIRGATE_MAX_BODY.
`)
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ error }

// parseFlags parses args, then fills every flag not given on the command line from FHIRGATE_<NAME>.
// A mistake is reported in one line by run; -h prints the flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // printed once below, not also by Parse
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		return usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "FHIRGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}
