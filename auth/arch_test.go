package auth_test

import (
	"go/types"
	"strings"
	"testing"

	"fhirgate/internal/archtest"
)

// indexReaders returns the places where a package reads the search index's encoding: the store's index
// entries and index reads, the internal codec, or anything of fhir/search that takes or gives encoded
// index values.
func indexReaders(p *archtest.Package) []archtest.Use {
	return p.Uses(func(obj types.Object) bool {
		if obj.Pkg() == nil {
			return false
		}
		switch path := obj.Pkg().Path(); {
		case path == "fhirgate/fhir/store":
			switch obj.Name() {
			case "IndexEntry", "IndexScan", "IndexEntries", "IndexEntriesMany", "IndexValues":
				return true
			}
			return archtest.MentionsIndexValues(obj.Type())
		case path == "fhirgate/fhir/search":
			return archtest.MentionsIndexValues(obj.Type())
		case strings.HasPrefix(path, "fhirgate/fhir/store/internal"):
			return true
		}
		return false
	})
}

// TestAuthDecidesOnFactsNotIndexBytes: the access decision asks fhir/search for a resource's facts
// (patients, codes, labels, dates) through a typed API, and never decodes the index itself: a change of
// the index encoding must not silently turn a refusal into a permission.
func TestAuthDecidesOnFactsNotIndexBytes(t *testing.T) {
	for _, path := range []string{"fhirgate/auth", "fhirgate/auth/consent", "fhirgate/auth/scope"} {
		for _, u := range indexReaders(archtest.Load(t, path)) {
			t.Errorf("%s: %s reads the search index's encoding (%s)", u.Pos, u.Func, u.Object)
		}
	}
	// The rule sees such a read.
	leak := archtest.LoadWith(t, "fhirgate/auth", map[string]string{"leak.go": `package auth

import (
	"context"

	"fhirgate/fhir/store"
)

func leak(ctx context.Context, st store.Store) bool {
	es, _ := st.IndexEntries(ctx, "Observation", "1")
	return len(es) > 0 && es[0].Value[0] == 'r'
}
`})
	if len(indexReaders(leak)) == 0 {
		t.Fatal("the rule does not see a read of the store's index entries")
	}
}
