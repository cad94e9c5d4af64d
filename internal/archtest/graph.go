package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"sync"
	"testing"
)

// Node is one package of the import graph, as `go list -deps -json` describes it: its own non-test
// files' imports only (what a test imports is not part of the graph).
type Node struct {
	ImportPath string
	Name       string
	// Doc is the first sentence of the package comment ("" when the package has none).
	Doc      string
	Dir      string
	Standard bool
	// DepOnly is true for a package that is only a dependency of the module's packages.
	DepOnly bool
	Imports []string
}

// Graph is the import graph of the module's packages and of everything they depend on.
type Graph struct {
	// Packages holds every package by import path: the module's and their dependencies, the standard
	// library's included.
	Packages map[string]*Node
	// Own are the import paths of the module's packages, sorted.
	Own []string
}

var (
	graphOnce sync.Once
	graph     *Graph
	graphErr  error
)

// LoadGraph lists the module's packages and their dependencies once per test binary, with
// `go list -deps -json fhirgate/...`.
func LoadGraph(t testing.TB) *Graph {
	t.Helper()
	graphOnce.Do(func() { graph, graphErr = loadGraph() })
	if graphErr != nil {
		t.Fatal(graphErr)
	}
	return graph
}

func loadGraph() (*Graph, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Doc,Dir,Standard,DepOnly,Imports", "fhirgate/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, errb.String())
	}
	g := &Graph{Packages: map[string]*Node{}}
	dec := json.NewDecoder(&out)
	for {
		var n Node
		if err := dec.Decode(&n); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		g.Packages[n.ImportPath] = &n
		if !n.DepOnly {
			g.Own = append(g.Own, n.ImportPath)
		}
	}
	sort.Strings(g.Own)
	return g, nil
}

// Reach returns the shortest import chains from a package to each package that match keeps and that it
// depends on without going through another such package: each chain starts with from and ends with a
// kept package. With direct set, only from's own imports are looked at.
func (g *Graph) Reach(from string, keep func(path string) bool, direct bool) [][]string {
	var chains [][]string
	parent := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		n := g.Packages[cur]
		if n == nil {
			continue
		}
		for _, imp := range n.Imports {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = cur
			if keep(imp) {
				var chain []string
				for p := imp; p != ""; p = parent[p] {
					chain = append([]string{p}, chain...)
				}
				chains = append(chains, chain)
				continue
			}
			if !direct {
				queue = append(queue, imp)
			}
		}
	}
	return chains
}
