package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBadStarts: a bad flag, a missing issuer, an unusable store each exit non-zero with one
// clear line.
func TestServeRefusesBadStarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no issuer and no --dev", []string{"serve"}, 2, "--issuer is required"},
		{"bad max body", []string{"serve", "--dev", "--max-body", "lots"}, 2, "max-body"},
		{"unknown flag", []string{"serve", "--frobnicate"}, 2, "frobnicate"},
		{"bad base URL", []string{"serve", "--dev", "--base-url", "fhir"}, 2, "--base-url"},
		{"bad store scheme", []string{"serve", "--dev", "--store", "ftp://x"}, 2, "--store"},
		{"store is a file", []string{"serve", "--dev", "--store", "file:" + file, "--addr", "127.0.0.1:0"}, 1, "not-a-dir"},
		{"unknown command", []string{"frob"}, 2, "unknown command"},
		{"unreachable issuer", []string{"serve", "--issuer", "http://127.0.0.1:1/realms/x", "--store", "file:" + filepath.Join(t.TempDir(), "d"), "--addr", "127.0.0.1:0"}, 1, "--issuer"},
		{"bad env value", []string{"serve", "--dev"}, 2, "FHIRGATE_MAX_BODY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "bad env value" {
				t.Setenv("FHIRGATE_MAX_BODY", "huge")
			}
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", code, tc.code, errb.String(), tc.want)
			}
		})
	}
}

func TestBadFlagIsOneLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if lines := strings.Count(strings.TrimSpace(errb.String()), "\n") + 1; lines != 1 {
		t.Fatalf("%d lines on stderr: %q", lines, errb.String())
	}
	errb.Reset()
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-max-body") {
		t.Fatalf("serve -h: exit %d, %q", code, errb.String())
	}
}
