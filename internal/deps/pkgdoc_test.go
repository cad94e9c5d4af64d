package deps

import (
	"path"
	"strings"
	"testing"

	"fhirgate/internal/archtest"
)

// TestEveryPackageSaysWhatItOwns: every package of the module (every directory with non-test Go files)
// has a doc comment, in the form `go doc` shows: "Package name ..." for a library, "Command name ..."
// for a program. A package without one is a part whose purpose a reader has to guess.
func TestEveryPackageSaysWhatItOwns(t *testing.T) {
	g := archtest.LoadGraph(t)
	for _, p := range g.Own {
		n := g.Packages[p]
		want := "Package " + n.Name + " "
		if n.Name == "main" {
			want = "Command " + path.Base(p) + " "
		}
		switch {
		case n.Doc == "":
			t.Errorf("%s has no package doc comment: add one (a doc.go) saying what the package owns", p)
		case !strings.HasPrefix(n.Doc+" ", want):
			t.Errorf("%s: its doc comment should start %q, not %q", p, want, n.Doc)
		}
	}
}
