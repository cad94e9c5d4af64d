package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"fhirgate/audit"
	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// auditCmd is `fhirgate audit verify|export`.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("audit needs a command: verify or export")}
	}
	switch args[0] {
	case "verify":
		return auditVerify(args[1:], stdout, stderr)
	case "export":
		return auditExport(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown audit command %q (verify, export)", args[0])}
}

// auditVerify walks the audit chain and reports the first record that was altered, removed, inserted
// or reordered, and, given the signed checkpoints, the records cut off the end; it exits non-zero when
// the trail does not hold.
func auditVerify(args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeURL := fs.String("store", "file:./data", storeFlagUsage)
	cpFile := fs.String("checkpoints", "", "the signed checkpoints the server appended (--audit-checkpoints): the store must still reach every one")
	key := fs.String("key", "", "the public key the checkpoints must be signed with (as the server logged it at start: ed25519:...); without it, each checkpoint's own key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var checkpoints []audit.Checkpoint
	if *cpFile != "" {
		f, err := os.Open(*cpFile)
		if err != nil {
			return fmt.Errorf("--checkpoints: %w", err)
		}
		checkpoints, err = audit.ReadCheckpoints(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--checkpoints: %w", err)
		}
	}
	st, _, err := openStore(*storeURL, storeOptions{log: newLogger("text", io.Discard), readOnly: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore(st)) }()
	start := time.Now()
	var progress func(int)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = func(n int) { fmt.Fprintf(stderr, "\r\033[Kverified %d audit events", n) }
	}
	rep, err := audit.Verify(context.Background(), st, checkpoints, *key, progress)
	if progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	records := 0
	if rep.Chain != nil {
		records = rep.Chain.Records
	}
	if rep.Broken != nil {
		fmt.Fprintf(stdout, "audit trail BROKEN at %s\n%d records verified before it in %.1f s\n", rep.Broken, records, secs)
		return errors.New("the audit trail has been tampered with")
	}
	fmt.Fprintf(stdout, "audit chain intact: %d records in %.1f s (%.0f records/s)\nhead %s\n",
		records, secs, float64(records)/max(secs, 1e-9), rep.Chain.HeadHex())
	if *cpFile != "" {
		fmt.Fprintf(stdout, "%d signed checkpoints hold (keys %s)\n", rep.Checkpoints, strings.Join(rep.Keys, ", "))
	}
	return nil
}

// auditExport streams AuditEvents as NDJSON, oldest first, for a SIEM.
func auditExport(args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeURL := fs.String("store", "file:./data", storeFlagUsage)
	since := fs.String("since", "", "export events recorded at or after this instant (e.g. 2026-01-01 or 2026-01-01T00:00:00Z)")
	patient := fs.String("patient", "", "only the events about this patient (id or Patient/id)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *since == "" {
		return usageError{errors.New("--since is required")}
	}
	from, err := fhir.ParseInstant(*since)
	if err != nil {
		return usageError{fmt.Errorf("--since: %v", err)}
	}
	st, _, err := openStore(*storeURL, storeOptions{log: newLogger("text", io.Discard), readOnly: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore(st)) }()
	ctx := context.Background()
	want := ""
	if *patient != "" {
		want = *patient
		if len(want) < 8 || want[:8] != "Patient/" {
			want = "Patient/" + want
		}
	}
	out := bufio.NewWriterSize(stdout, 1<<16)
	showProgress := false
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		showProgress = true
	}
	// The type history, newest first, down to --since; written oldest first.
	var pages [][]*store.Version
	var before uint64
	total := 0
	for {
		vs, err := st.History(ctx, store.HistoryQuery{Type: "AuditEvent", Since: from, Before: before, Limit: 5000})
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			break
		}
		pages = append(pages, vs)
		before = vs[len(vs)-1].Seq
		if len(vs) < 5000 {
			break
		}
	}
	for i := len(pages) - 1; i >= 0; i-- {
		vs := pages[i]
		for j := len(vs) - 1; j >= 0; j-- {
			v := vs[j]
			if v.Deleted {
				continue
			}
			if want != "" {
				about := false
				vals, _ := st.IndexValues(ctx, "AuditEvent", v.ID, "patient")
				for _, val := range vals {
					about = about || string(val) == "r"+want
				}
				if !about {
					continue
				}
			}
			if _, err := out.Write(v.Body); err != nil {
				return fmt.Errorf("writing the export: %w", err)
			}
			if err := out.WriteByte('\n'); err != nil {
				return fmt.Errorf("writing the export: %w", err)
			}
			total++
			if showProgress && total%10000 == 0 {
				fmt.Fprintf(stderr, "\r\033[Kexported %d audit events", total)
			}
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	if showProgress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	fmt.Fprintf(stderr, "exported %d audit events\n", total)
	return nil
}
