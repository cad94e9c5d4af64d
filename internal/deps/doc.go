// Package deps holds the architecture's import rules as tests: which packages may depend on which (the
// layers, and where each third-party library may be used), checked against the real import graph in the
// manner of Go's own go/build/deps_test.go, and the rule that every package says in a doc comment what it
// owns. It has no code of its own: the rules are in deps_test.go, each with its reason, and a change that
// breaks one fails `go test ./...` naming the rule and the chain of imports that breaks it. ARCHITECTURE.md
// draws the same graph for a reader.
package deps
