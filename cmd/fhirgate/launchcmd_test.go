package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSMARTFlagsRefuseMistakes: the SMART flags and the launch command refuse to start and say what is
// wrong.
func TestSMARTFlagsRefuseMistakes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(bad, []byte(`{"clients":[{"client_id":"a","type":"confidential-symmetric","client_secret":"short"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	store := "file:" + filepath.Join(dir, "data")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"--dev-clients without --dev", []string{"serve", "--issuer", "http://127.0.0.1:1/x", "--dev-clients", bad}, "--dev-clients"},
		{"--dev-clients with a bad client", []string{"serve", "--dev", "--store", store, "--addr", "127.0.0.1:0", "--dev-clients", bad}, "client_secret of at least 16"},
		{"--dev-clients missing", []string{"serve", "--dev", "--store", store, "--addr", "127.0.0.1:0", "--dev-clients", filepath.Join(dir, "none.json")}, "--dev-clients"},
		{"--dev-token-lifetime too long", []string{"serve", "--dev", "--store", store, "--addr", "127.0.0.1:0", "--dev-token-lifetime", "48h"}, "lifetime"},
		{"launch without a patient", []string{"launch", "--encounter", "e1"}, "--patient is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q (want it to mention %q)", code, errb.String(), tc.want)
			}
		})
	}
}
