// Package archtest type-checks the project's packages for tests that hold architectural rules (which
// package may use what), in the manner of Go's own go/build/deps_test.go: the rules are code, and a
// change that breaks one fails `go test`.
package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Package is a type-checked package: its non-test files and what every identifier in them refers to.
type Package struct {
	Path  string
	Fset  *token.FileSet
	Files []*ast.File
	Types *types.Package
	Info  *types.Info
}

type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
}

var (
	exportsOnce sync.Once
	exports     map[string]listed
	exportsErr  error
)

// list runs `go list -export -deps` over the module once: the compiled export data of every package
// (from the build cache), so that type-checking a package reads its dependencies' export data instead of
// type-checking their sources.
func list() (map[string]listed, error) {
	exportsOnce.Do(func() {
		cmd := exec.Command("go", "list", "-export", "-deps", "-json", "fhirgate/...")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			exportsErr = fmt.Errorf("go list: %v: %s", err, errb.String())
			return
		}
		exports = map[string]listed{}
		dec := json.NewDecoder(&out)
		for {
			var p listed
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				exportsErr = err
				return
			}
			exports[p.ImportPath] = p
		}
	})
	return exports, exportsErr
}

// Load type-checks the non-test files of a package of the module ("fhirgate/auth").
func Load(t testing.TB, path string) *Package {
	t.Helper()
	return LoadWith(t, path, nil)
}

// LoadWith type-checks a package of the module with extra source files (a rule's own test: code that
// breaks the rule, added to the package it governs).
func LoadWith(t testing.TB, path string, extra map[string]string) *Package {
	t.Helper()
	all, err := list()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := all[path]
	if !ok {
		t.Fatalf("archtest: no package %s", path)
	}
	src := map[string]string{}
	for _, name := range p.GoFiles {
		b, err := os.ReadFile(filepath.Join(p.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		src[filepath.Join(p.Dir, name)] = string(b)
	}
	for name, text := range extra {
		src[filepath.Join(p.Dir, name)] = text
	}
	return Source(t, path, src)
}

// Source type-checks a package given as source files (name -> text).
func Source(t testing.TB, path string, src map[string]string) *Package {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for name, text := range src {
		f, err := parser.ParseFile(fset, name, text, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return check(t, path, fset, files)
}

func check(t testing.TB, path string, fset *token.FileSet, files []*ast.File) *Package {
	t.Helper()
	all, err := list()
	if err != nil {
		t.Fatal(err)
	}
	imp := importer.ForCompiler(fset, "gc", func(importPath string) (io.ReadCloser, error) {
		p, ok := all[importPath]
		if !ok || p.Export == "" {
			return nil, fmt.Errorf("archtest: no export data for %s", importPath)
		}
		return os.Open(p.Export)
	})
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{}, Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: imp}
	pkg, err := conf.Check(path, fset, files, info)
	if err != nil {
		t.Fatalf("archtest: type-checking %s: %v", path, err)
	}
	return &Package{Path: path, Fset: fset, Files: files, Types: pkg, Info: info}
}

// Use is one use of an object declared in another package (or a field or method of one).
type Use struct {
	Pos    token.Position
	Func   string // the enclosing function or method ("" at package level)
	Object types.Object
}

// Uses returns every use, in the package's files, of an object select keeps.
func (p *Package) Uses(keep func(types.Object) bool) []Use {
	var out []Use
	for _, f := range p.Files {
		var fn string
		ast.Inspect(f, func(n ast.Node) bool {
			switch d := n.(type) {
			case *ast.FuncDecl:
				fn = d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					fn = recvName(d.Recv.List[0].Type) + "." + fn
				}
			case *ast.Ident:
				if obj := p.Info.Uses[d]; obj != nil && keep(obj) {
					out = append(out, Use{Pos: p.Fset.Position(d.Pos()), Func: fn, Object: obj})
				}
			}
			return true
		})
	}
	return out
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recvName(t.X)
	}
	return "?"
}

// MentionsIndexValues reports whether a type is or holds the search index's encoded values: [][]byte
// (a parameter's values), or store.IndexEntry (through slices, pointers, exported struct fields, function
// parameters and results, maps).
func MentionsIndexValues(t types.Type) bool { return mentions(t, map[types.Type]bool{}) }

func mentions(t types.Type, seen map[types.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch u := t.(type) {
	case *types.Slice:
		if in, ok := u.Elem().(*types.Slice); ok {
			if b, ok := in.Elem().Underlying().(*types.Basic); ok && b.Kind() == types.Byte {
				return true
			}
		}
		return mentions(u.Elem(), seen)
	case *types.Pointer:
		return mentions(u.Elem(), seen)
	case *types.Named:
		if o := u.Obj(); o.Pkg() != nil && o.Pkg().Path() == "fhirgate/fhir/store" && o.Name() == "IndexEntry" {
			return true
		}
		return mentions(u.Underlying(), seen)
	case *types.Struct:
		for i := range u.NumFields() {
			if u.Field(i).Exported() && mentions(u.Field(i).Type(), seen) {
				return true
			}
		}
	case *types.Signature:
		for i := range u.Params().Len() {
			if mentions(u.Params().At(i).Type(), seen) {
				return true
			}
		}
		for i := range u.Results().Len() {
			if mentions(u.Results().At(i).Type(), seen) {
				return true
			}
		}
	case *types.Map:
		return mentions(u.Key(), seen) || mentions(u.Elem(), seen)
	}
	return false
}
