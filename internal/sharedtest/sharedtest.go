// Package sharedtest locates the shared FHIR R4 test data (the official examples, definitions and
// Synthea bundles) for tests. The data lives outside the repository, in ../shared/fhir-r4 relative to
// the module root, or wherever FHIRGATE_SHARED points. A test that needs it skips with a message when it
// is absent, except under CI (CI=true), where its absence fails the test: CI must exercise the real data.
//
// Only tests import this package; the built program never reads the shared data.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the absolute path of the shared fhir-r4 directory, or skips (fails under CI) when it
// cannot be found.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d, ok := Find(); ok {
		return d
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("shared FHIR R4 data not found (looked in $FHIRGATE_SHARED and ../shared/fhir-r4); CI requires it")
	}
	tb.Skip("shared FHIR R4 data not found (../shared/fhir-r4 or $FHIRGATE_SHARED); skipping")
	return ""
}

// Path returns Dir joined with the given elements.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb)}, elem...)...)
}

// Find reports where the shared data is, without involving a test.
func Find() (string, bool) {
	if d := os.Getenv("FHIRGATE_SHARED"); d != "" {
		if isDir(d) {
			abs, _ := filepath.Abs(d)
			return abs, true
		}
		return "", false
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", false
	}
	// file is <root>/internal/sharedtest/sharedtest.go; the data is <root>/../shared/fhir-r4.
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	d := filepath.Join(root, "..", "shared", "fhir-r4")
	if isDir(d) {
		abs, _ := filepath.Abs(d)
		return abs, true
	}
	return "", false
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
