package search_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	fhirsearch "fhirgate/fhir/search"
	"fhirgate/internal/sharedtest"
)

var updateDigests = flag.Bool("update-extract-digests", false, "rewrite testdata/extract-digests.txt from the current indexer")

// digestFile holds, for each test resource file, the SHA-256 of the index entries of its resources.
// It pins the exact output of the indexer (every parameter, every byte of every value, their order),
// so that changes to the extraction code can be shown not to change a single entry.
const digestFile = "testdata/extract-digests.txt"

// TestExtractDigests computes the index entries of every resource of the gateway's audit samples, the
// official R4 examples and the Synthea bundles (the bundles themselves and each entry's resource), and
// compares their digests with testdata/extract-digests.txt. Regenerate with -update-extract-digests
// only when a change of the index is intended.
func TestExtractDigests(t *testing.T) {
	got := map[string]string{}
	x := fhirsearch.NewIndexer("http://hl7.org/fhir")
	t.Run("audit", func(t *testing.T) {
		files, err := filepath.Glob("../../gateway/testdata/audit/*.json")
		if err != nil || len(files) == 0 {
			t.Fatalf("audit samples: %v (%d files)", err, len(files))
		}
		for _, f := range files {
			got["audit/"+filepath.Base(f)] = fileDigest(t, x, f)
		}
	})
	t.Run("shared", func(t *testing.T) {
		shared := sharedtest.Dir(t)
		for _, dir := range []string{"examples", "synthea"} {
			files, err := filepath.Glob(filepath.Join(shared, dir, "*.json"))
			if err != nil || len(files) == 0 {
				t.Fatalf("%s: %v (%d files)", dir, err, len(files))
			}
			for _, f := range files {
				got[dir+"/"+filepath.Base(f)] = fileDigest(t, x, f)
			}
		}
	})
	if *updateDigests {
		if !sharedFound() {
			t.Fatal("-update-extract-digests needs the shared R4 data")
		}
		writeDigests(t, got)
		return
	}
	want := readDigests(t)
	for name, d := range got {
		if want[name] != d {
			t.Errorf("%s: index entries digest %s, want %s", name, d, want[name])
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok && (strings.HasPrefix(name, "audit/") || sharedFound()) {
			t.Errorf("%s: listed in %s but not found", name, digestFile)
		}
	}
}

// sharedFound reports whether the shared R4 data is present (when absent, its digests are not checked).
func sharedFound() bool {
	_, ok := sharedtest.Find()
	return ok
}

// fileDigest hashes the index entries (or the error) of every resource in a JSON file: the file's
// resource(s), and the resource of each Bundle entry.
func fileDigest(t *testing.T, x *fhirsearch.Indexer, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	h := sha256.New()
	var resources []map[string]any
	switch d := doc.(type) {
	case []any:
		for _, r := range d {
			if m, ok := r.(map[string]any); ok {
				resources = append(resources, m)
			}
		}
	case map[string]any:
		resources = append(resources, d)
	}
	for _, res := range resources {
		hashEntries(h, x, res)
		if res["resourceType"] != "Bundle" {
			continue
		}
		entries, _ := res["entry"].([]any)
		for _, e := range entries {
			if em, ok := e.(map[string]any); ok {
				if r, ok := em["resource"].(map[string]any); ok {
					hashEntries(h, x, r)
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashEntries writes the resource's type and its entries (length-prefixed, in order) to h.
func hashEntries(h interface{ Write([]byte) (int, error) }, x *fhirsearch.Indexer, res map[string]any) {
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	typ, _ := res["resourceType"].(string)
	field([]byte("resource " + typ))
	es, err := x.Entries(typ, res)
	if err != nil {
		field([]byte("error " + err.Error()))
		return
	}
	for _, e := range es {
		field([]byte(e.Param))
		field(e.Value)
	}
}

func readDigests(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, d, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", digestFile, line)
		}
		want[name] = d
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

func writeDigests(t *testing.T, got map[string]string) {
	t.Helper()
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# SHA-256 of the index entries of each file's resources (TestExtractDigests; -update-extract-digests)\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, got[n])
	}
	if err := os.WriteFile(digestFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
