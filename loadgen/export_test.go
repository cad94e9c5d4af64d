package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// bulkServer is a Bulk Data server whose only file has lines lines and whose manifest counts count; its
// first kick-off is 429 and its first status answer 202 with X-Progress; it wants the token "tok".
func bulkServer(t *testing.T, lines, count int) *httptest.Server {
	t.Helper()
	var kicks, polls atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/fhir/Group/g1/$export" && r.Header.Get("Prefer") == "respond-async":
			if kicks.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Header().Set("Content-Location", srv.URL+"/fhir/status/1")
			w.WriteHeader(http.StatusAccepted)
		case r.URL.Path == "/fhir/status/1":
			if polls.Add(1) == 1 {
				w.Header().Set("X-Progress", "1 patients, 2 resources")
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusAccepted)
				return
			}
			fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":true,`+
				`"output":[{"type":"Patient","url":"%s/fhir/files/Patient-1.ndjson","count":%d}],"error":[]}`, srv.URL, count)
		case r.URL.Path == "/fhir/files/Patient-1.ndjson":
			w.Header().Set("Content-Type", "application/fhir+ndjson")
			fmt.Fprint(w, strings.Repeat(`{"resourceType":"Patient","id":"p"}`+"\n", lines))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestExportClient(t *testing.T) {
	t.Parallel()
	srv := bulkServer(t, 2, 2)
	out := t.TempDir()
	var progress []string
	res, err := Export(context.Background(), ExportConfig{Server: srv.URL + "/fhir", Group: "g1", Out: out,
		Credentials: Bearer("tok"), Progress: func(p string) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resources != 2 || len(res.Output) != 1 || res.Output[0].File != "Patient-1.ndjson" {
		t.Errorf("result %+v", res)
	}
	if len(progress) != 1 || progress[0] != "1 patients, 2 resources" {
		t.Errorf("progress %v", progress)
	}
	for _, f := range []string{"Patient-1.ndjson", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestExportClientRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		lines, count int
		token        string
		want         string
	}{
		{"a file shorter than its count", 2, 3, "tok", "has 2 resources, but the manifest counts 3"},
		{"a file longer than its count", 3, 1, "tok", "has 3 resources, but the manifest counts 1"},
		{"a refused token", 1, 1, "other", "the kick-off answered 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := bulkServer(t, tc.lines, tc.count)
			_, err := Export(context.Background(), ExportConfig{Server: srv.URL + "/fhir", Group: "g1", Out: t.TempDir(),
				Credentials: Bearer(tc.token)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCountingLines(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"": 0, "a": 1, "a\n": 1, "a\n\nb": 2, "a\n \n": 1, "a\r\nb\r\n": 2} {
		var sb strings.Builder
		n, err := copyCountingLines(&sb, strings.NewReader(in))
		if err != nil || n != want || sb.String() != in {
			t.Errorf("%q: %d %v %q, want %d", in, n, err, sb.String(), want)
		}
	}
}
