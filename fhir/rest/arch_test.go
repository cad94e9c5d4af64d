package rest_test

import (
	"go/ast"
	"go/types"
	"path/filepath"
	"testing"

	"fhirgate/internal/archtest"
)

// gateViolations returns the places of the FHIR service that reach the store or the search engine
// elsewhere than in the gates (gate.go), which ask the guard, or that make a store transaction or an
// approved operation there.
func gateViolations(p *archtest.Package) []string {
	var out []string
	for _, u := range p.Uses(func(obj types.Object) bool {
		v, ok := obj.(*types.Var)
		return ok && v.IsField() && obj.Pkg() == p.Types && (obj.Name() == "store" || obj.Name() == "engine")
	}) {
		if filepath.Base(u.Pos.Filename) == "gate.go" {
			continue
		}
		switch u.Func {
		case "New", "Service.Store", "Service.Engine": // construction, and the accessors the server's own writers use
			continue
		}
		out = append(out, u.Pos.String()+": "+u.Func+" uses Service."+u.Object.Name())
	}
	for _, f := range p.Files {
		if filepath.Base(p.Fset.Position(f.Pos()).Filename) == "gate.go" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			named, ok := p.Info.Types[lit].Type.(*types.Named)
			if !ok {
				return true
			}
			switch o := named.Obj(); {
			case o.Pkg() != nil && o.Pkg().Path() == "fhirgate/fhir/store" && o.Name() == "Tx",
				o.Pkg() == p.Types && o.Name() == "approved" && len(lit.Elts) > 0:
				out = append(out, p.Fset.Position(lit.Pos()).String()+": makes a "+o.Name()+" outside the gates")
			}
			return true
		})
	}
	return out
}

// TestOnlyTheGatesReachTheStore: every FHIR interaction reaches the store through the gates of gate.go,
// which ask the request's guard (Read for what leaves, Write for what changes), and commits only
// operations the guard approved.
func TestOnlyTheGatesReachTheStore(t *testing.T) {
	for _, v := range gateViolations(archtest.Load(t, "fhirgate/fhir/rest")) {
		t.Error(v)
	}
	// The rule sees a side door.
	for name, src := range map[string]string{
		"a read": `package rest

import "context"

func (s *Service) sideDoor(ctx context.Context) { s.store.Read(ctx, "Patient", "1") }
`,
		"a commit": `package rest

import (
	"context"

	"fhirgate/fhir/store"
)

func (s *Service) sideDoor(ctx context.Context, op store.Op) { s.commit(ctx, []approved{{op: op}}, nil) }
`,
	} {
		if len(gateViolations(archtest.LoadWith(t, "fhirgate/fhir/rest", map[string]string{"sidedoor.go": src}))) == 0 {
			t.Errorf("the rule does not see %s outside the gates", name)
		}
	}
}
