package deps

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"fhirgate/internal/archtest"
)

// A rule forbids the packages it governs to depend on some others. Patterns are import paths, or a path
// followed by "/..." for it and every package below it. The graph is that of non-test files: what a test
// imports is free, and so is what test support imports (no rule governs it; two rules keep it out of what
// ships).
type rule struct {
	name string
	// why is the reason for the rule, in one line.
	why string
	// from are the packages the rule governs, less those of except.
	from, except []string
	// deny are the packages they may not depend on, less those of allow.
	deny, allow []string
	// direct limits the rule to the packages' own imports; otherwise a dependency through any chain of
	// imports breaks it.
	direct bool
	// known are the breaches tolerated for now ("pkg -> dep" of the first and last packages of the chain),
	// each with what should be done: the test logs them, and fails once one has gone, so that the list only
	// shrinks.
	known map[string]string
}

// testSupport are the packages whose non-test files exist for tests: fixtures, shared data, conformance
// suites, architecture checks. They may use what the tests use; nothing that ships may use them. Every
// package that imports testing, or whose name ends in "test", must be listed (TestTestSupportIsDeclared);
// one listed that does not exist (yet, or any more) is ignored.
var testSupport = []string{
	"fhirgate/internal/archtest/...",
	"fhirgate/internal/benchdata/...",
	"fhirgate/internal/sharedtest/...",
	"fhirgate/fhir/store/storetest/...",
	"fhirgate/fhir/rest/resttest/...",
	"fhirgate/fhir/store/redis/redistest/...",
}

// generators run at `go generate` time, before the tables they write exist.
var generators = []string{
	"fhirgate/auth/consent/internal/genpurpose",
	"fhirgate/fhir/internal/gendefs",
	"fhirgate/fhir/internal/geninvariants",
	"fhirgate/fhir/search/internal/genparams",
}

// aboveFHIR are the packages above the FHIR layer: policy, audit, HTTP and the programs around them.
var aboveFHIR = []string{
	"fhirgate/auth/...", "fhirgate/audit/...", "fhirgate/gateway/...", "fhirgate/cmd/...",
	"fhirgate/conformance/...", "fhirgate/portal/...", "fhirgate/population/...", "fhirgate/loadgen/...",
	"fhirgate/internal/benchdata",
}

var rules = []rule{
	// The FHIR layer.
	{
		name: "fhir-knows-no-policy",
		why:  "the FHIR layer (model, search, store, REST service) knows no tokens, scopes, consent, audit or HTTP server: it takes a guard and is told nothing else",
		from: []string{"fhirgate/fhir/..."},
		deny: aboveFHIR,
	},
	{
		name:   "fhir-knows-no-http",
		why:    "the FHIR service is transport-neutral (a Request in, a Response out); only the gateway speaks HTTP",
		from:   []string{"fhirgate/fhir/..."},
		deny:   []string{"net/http/...", "github.com/labstack/echo/..."},
		direct: true,
	},
	{
		name: "model-needs-no-store",
		why:  "the R4 model, FHIRPath and the patch formats work on a resource alone, with no search, storage or service",
		from: []string{"fhirgate/fhir", "fhirgate/fhir/fhirpath/...", "fhirgate/fhir/fhirpathpatch/...", "fhirgate/fhir/jsonpatch/..."},
		deny: []string{"fhirgate/fhir/rest/...", "fhirgate/fhir/search/...", "fhirgate/fhir/store/..."},
	},
	{
		name: "profiles-need-no-store",
		why:  "profile validation works on a resource and the profiles alone; the service asks it, never the reverse",
		from: []string{"fhirgate/fhir/profile/..."},
		deny: []string{"fhirgate/fhir/rest/...", "fhirgate/fhir/search/...", "fhirgate/fhir/store/..."},
	},
	{
		name: "fhirpath-stands-alone",
		why:  "the FHIRPath evaluator works on plain decoded JSON and depends on nothing of the server",
		from: []string{"fhirgate/fhir/fhirpath"},
		deny: []string{"fhirgate/..."},
	},
	{
		name: "narrative-stands-alone",
		why:  "the narrative XHTML checks work on a string and depend on nothing of the server, so that validation and a FHIRPath htmlChecks() hook can both use them",
		from: []string{"fhirgate/fhir/narrative"},
		deny: []string{"fhirgate/..."},
	},
	{
		name: "store-below-search",
		why:  "the storage contract and its engines know nothing above fhir/store: search and the service use the store, never the reverse",
		from: []string{"fhirgate/fhir/store/..."},
		deny: []string{"fhirgate/fhir/search/...", "fhirgate/fhir/rest/...", "fhirgate/fhir/fhirpath/...",
			"fhirgate/fhir/fhirpathpatch/...", "fhirgate/fhir/jsonpatch/..."},
	},
	{
		name: "search-below-rest",
		why:  "the search engine serves the REST service and the access decision; it depends on neither",
		from: []string{"fhirgate/fhir/search/..."},
		deny: []string{"fhirgate/fhir/rest/..."},
	},
	{
		name:   "engines-chosen-by-cmd",
		why:    "only the binary chooses a storage engine (embedded, redis, memstore...); everything else sees the store.Store contract",
		from:   []string{"fhirgate/..."},
		except: append([]string{"fhirgate/cmd/...", "fhirgate/fhir/store/..."}, testSupport...),
		deny:   []string{"fhirgate/fhir/store/..."},
		allow:  append([]string{"fhirgate/fhir/store"}, testSupport...),
	},

	// The access decision.
	{
		name: "auth-below-gateway-and-audit",
		why:  "the decision point decides: the gateway asks it and the audit trail records what it decided, never the reverse",
		from: []string{"fhirgate/auth/..."},
		deny: []string{"fhirgate/gateway/...", "fhirgate/audit/...", "fhirgate/conformance/...", "fhirgate/portal/...", "fhirgate/cmd/..."},
	},
	{
		name: "consent-and-scope-are-parts",
		why:  "consent rules and scope grammar are parts the decision point (auth) combines; they know neither it, tokens nor HTTP",
		from: []string{"fhirgate/auth/consent/...", "fhirgate/auth/scope/..."},
		deny: []string{"fhirgate/auth", "fhirgate/auth/token/...", "fhirgate/auth/devissuer/...", "net/http/..."},
	},
	{
		name: "oidc-knows-no-fhir",
		why:  "token verification and the development issuer are plain OpenID Connect: no FHIR, scopes or policy, and the verifier shares no code with the issuer it is tested against",
		from: []string{"fhirgate/auth/token/...", "fhirgate/auth/devissuer/..."},
		deny: []string{"fhirgate/..."},
	},
	{
		name:   "devissuer-only-in-dev",
		why:    "the development issuer hands a token to anyone: only the binary wires it, and only under --dev",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/cmd/...", "fhirgate/auth/devissuer/..."},
		deny:   []string{"fhirgate/auth/devissuer/..."},
	},

	// The audit trail.
	{
		name: "audit-serves-no-http",
		why:  "the trail is told of an interaction (audit.Interaction) and records it; it serves nothing and knows no HTTP server",
		from: []string{"fhirgate/audit/..."},
		deny: []string{"fhirgate/gateway/...", "fhirgate/portal/...", "fhirgate/cmd/...", "github.com/labstack/echo/...",
			"github.com/prometheus/...", "net/http/httptest"},
	},
	{
		name:   "audit-imports-no-http",
		why:    "the trail knows no HTTP: what it must send or receive over the network is given to it",
		from:   []string{"fhirgate/audit/..."},
		deny:   []string{"net/http/..."},
		direct: true,
	},

	// The HTTP side and the programs.
	{
		name:   "gateway-is-the-top",
		why:    "the HTTP server is wired by the binary alone; no part of the server depends on its HTTP face",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/cmd/...", "fhirgate/gateway/..."},
		deny:   []string{"fhirgate/gateway"},
	},
	{
		name: "conformance-describes-what-is-routed",
		why:  "the CapabilityStatement and SMART configuration come from the route table and the search registry, not from policy, audit or HTTP",
		from: []string{"fhirgate/conformance/..."},
		deny: []string{"fhirgate/auth/...", "fhirgate/audit/...", "fhirgate/gateway/...", "net/http/..."},
	},
	{
		name: "portal-is-a-client",
		why:  "the patient's pages are a SMART app served as files: they reach data through the API with the patient's token, like any client",
		from: []string{"fhirgate/portal/..."},
		deny: []string{"fhirgate/..."},
	},
	{
		name: "throttle-is-generic",
		why:  "the limiter counts requests per key; it knows nothing of who the keys are",
		from: []string{"fhirgate/gateway/throttle/..."},
		deny: []string{"fhirgate/..."},
	},
	{
		name: "population-is-plain-data",
		why:  "generated patients are plain FHIR JSON, the same whatever reads them; they depend on no server code",
		from: []string{"fhirgate/population/..."},
		deny: []string{"fhirgate/..."},
	},
	{
		name: "loadgen-speaks-plain-fhir",
		why:  "the load generator drives any R4 server over plain FHIR REST, so it uses none of this server's code but the population",
		from: []string{"fhirgate/loadgen/..."},
		deny: []string{"fhirgate/fhir/...", "fhirgate/auth/...", "fhirgate/audit/...", "fhirgate/gateway/...",
			"fhirgate/conformance/...", "fhirgate/portal/...", "fhirgate/internal/..."},
	},
	{
		name:   "demo-data-stays-out-of-the-server",
		why:    "demo and benchmark data are loaded through the API by the binary; no part of the server carries them",
		from:   []string{"fhirgate/..."},
		except: append([]string{"fhirgate/cmd/...", "fhirgate/loadgen/...", "fhirgate/population/..."}, testSupport...),
		deny:   []string{"fhirgate/population/...", "fhirgate/loadgen/..."},
	},
	{
		name: "generators-stand-alone",
		why:  "generators run before the tables they write exist, and read only the published definitions",
		from: generators,
		deny: []string{"fhirgate/..."},
	},

	// Tests.
	{
		name:   "no-testing-in-production",
		why:    "production code has no test hooks: tests change behaviour through what the code is given, not through package testing",
		from:   []string{"fhirgate/..."},
		except: testSupport,
		deny:   []string{"testing"},
		direct: true,
	},
	{
		name:   "no-test-servers-in-production",
		why:    "net/http/httptest is for tests: it registers a command-line flag and test servers in whatever imports it",
		from:   []string{"fhirgate/..."},
		except: testSupport,
		deny:   []string{"net/http/httptest"},
	},
	{
		name:   "test-support-stays-in-tests",
		why:    "fixtures, shared test data and conformance suites are for tests only; nothing that ships depends on them",
		from:   []string{"fhirgate/..."},
		except: testSupport,
		deny:   testSupport,
	},

	// Where each third-party library may be used (its own imports).
	{
		name: "echo-only-in-gateway", direct: true,
		why:    "the HTTP framework is the gateway's choice; the rest of the server does not see it",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/gateway"},
		deny:   []string{"github.com/labstack/echo/..."},
	},
	{
		name: "prometheus-only-in-gateway", direct: true,
		why:    "metrics are collected and served at the HTTP edge",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/gateway"},
		deny:   []string{"github.com/prometheus/..."},
	},
	{
		name: "go-oidc-only-in-token", direct: true,
		why:    "one package verifies access tokens; everything else receives its verified claims",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/auth/token"},
		deny:   []string{"github.com/coreos/go-oidc/..."},
	},
	{
		name: "jose-only-in-oidc", direct: true,
		why:    "signed tokens are read by the verifier and made by the development issuer, nowhere else",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/auth/token", "fhirgate/auth/devissuer"},
		deny:   []string{"github.com/go-jose/..."},
	},
	{
		name: "pebble-only-in-embedded", direct: true,
		why:    "the embedded engine owns its database; its key layout is no one else's business",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/fhir/store/embedded/..."},
		deny:   []string{"github.com/cockroachdb/pebble/..."},
	},
	{
		name: "go-redis-only-in-redis", direct: true,
		why:    "the Redis engine owns its connection and key layout",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/fhir/store/redis/..."},
		deny:   []string{"github.com/redis/go-redis/..."},
	},
	{
		name: "compression-only-in-codec", direct: true,
		why:    "the stored bytes' format, compression included, is the codec's: engines store what it encodes",
		from:   []string{"fhirgate/..."},
		except: []string{"fhirgate/fhir/store/internal/codec/..."},
		deny:   []string{"github.com/klauspost/compress/..."},
	},
	// google/fhir's jsonformat is no longer imported by anything that ships: fhir/validation's tests keep it
	// as the oracle of their differential test. A rule cannot deny it (a rule's patterns must match a
	// package of the graph of non-test files).
}

// match reports whether an import path matches a pattern.
func match(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// breach is one chain of imports that breaks a rule.
type breach struct {
	rule  *rule
	chain []string
}

func (b breach) key() string { return b.chain[0] + " -> " + b.chain[len(b.chain)-1] }

func (b breach) String() string {
	return fmt.Sprintf("rule %s (%s):\n\t%s", b.rule.name, b.rule.why, strings.Join(b.chain, " -> "))
}

// check returns every breach of the rules in a graph.
func check(g *archtest.Graph, rules []rule) []breach {
	var out []breach
	for i := range rules {
		r := &rules[i]
		for _, pkg := range g.Own {
			if !matchAny(r.from, pkg) || matchAny(r.except, pkg) || matchAny(testSupport, pkg) {
				continue
			}
			denied := func(path string) bool {
				return path != pkg && matchAny(r.deny, path) && !matchAny(r.allow, path)
			}
			for _, chain := range g.Reach(pkg, denied, r.direct) {
				out = append(out, breach{rule: r, chain: chain})
			}
		}
	}
	return out
}

// TestDependencyRules checks the rules against the real import graph. A failure names the rule, its
// reason and the chain of imports that breaks it: remove the import, or, if the architecture has changed,
// change the rule here and ARCHITECTURE.md with it.
func TestDependencyRules(t *testing.T) {
	g := archtest.LoadGraph(t)
	seen := map[string]map[string]bool{}
	for _, b := range check(g, rules) {
		if why, ok := b.rule.known[b.key()]; ok {
			if seen[b.rule.name] == nil {
				seen[b.rule.name] = map[string]bool{}
			}
			seen[b.rule.name][b.key()] = true
			t.Logf("known breach of %s: %s (to do: %s)", b.rule.name, strings.Join(b.chain, " -> "), why)
			continue
		}
		t.Error(b)
	}
	for _, r := range rules {
		for k := range r.known {
			if !seen[r.name][k] {
				t.Errorf("rule %s: the known breach %q no longer happens: remove it from the rule's known list", r.name, k)
			}
		}
	}
}

// TestRulesNameRealPackages keeps the rules from rotting: every pattern must match a package of the graph
// (a renamed or removed package makes its rules say nothing), every rule has a reason, and names are unique.
func TestRulesNameRealPackages(t *testing.T) {
	g := archtest.LoadGraph(t)
	all := make([]string, 0, len(g.Packages))
	for p := range g.Packages {
		all = append(all, p)
	}
	sort.Strings(all)
	names := map[string]bool{}
	for _, r := range rules {
		if names[r.name] {
			t.Errorf("two rules are named %s", r.name)
		}
		names[r.name] = true
		if r.why == "" || strings.Contains(r.why, "\n") {
			t.Errorf("rule %s: its reason must be one line", r.name)
		}
		// An exception that matches nothing only makes a rule stricter, and the list of test support is
		// checked the other way round (TestTestSupportIsDeclared): neither is checked here.
		for _, list := range [][]string{r.from, r.deny, r.allow} {
			for _, p := range list {
				if slices.Contains(testSupport, p) {
					continue
				}
				if std := !strings.Contains(strings.Split(p, "/")[0], ".") && !strings.HasPrefix(p, "fhirgate"); std {
					continue // a standard package denied need not be imported anywhere to be meant
				}
				if !slices.ContainsFunc(all, func(path string) bool { return match(p, path) }) {
					t.Errorf("rule %s: no package matches %q", r.name, p)
				}
			}
		}
	}
	for _, p := range generators {
		if !slices.Contains(g.Own, p) {
			t.Errorf("%s is not a package of the module any more: update the list of generators", p)
		}
	}
	for _, p := range testSupport {
		if !slices.ContainsFunc(g.Own, func(path string) bool { return match(p, path) }) {
			t.Logf("%s, listed as test support, matches no package of the module", p)
		}
	}
}

// TestTestSupportIsDeclared: a package that imports testing, or is named as a test helper ("...test"), is
// test support and must be listed as such, so that the rules keep it out of what ships.
func TestTestSupportIsDeclared(t *testing.T) {
	g := archtest.LoadGraph(t)
	for _, p := range g.Own {
		n := g.Packages[p]
		if n.Name == "main" || matchAny(testSupport, p) {
			continue
		}
		if slices.Contains(n.Imports, "testing") || strings.HasSuffix(n.Name, "test") {
			t.Errorf("%s looks like test support (it imports testing or is named so): add it to testSupport in %s, or, if it ships, remove what makes it look so",
				p, "internal/deps/deps_test.go")
		}
	}
}

// TestCheckSeesBreaches: the checker finds a forbidden dependency through a chain, a direct import, and
// leaves alone what a rule does not govern.
func TestCheckSeesBreaches(t *testing.T) {
	g := &archtest.Graph{
		Packages: map[string]*archtest.Node{
			"fhirgate/fhir/rest":   {ImportPath: "fhirgate/fhir/rest", Imports: []string{"fhirgate/fhir/search"}},
			"fhirgate/fhir/search": {ImportPath: "fhirgate/fhir/search", Imports: []string{"fhirgate/audit", "net/url"}},
			"fhirgate/audit":       {ImportPath: "fhirgate/audit", Imports: []string{"net/http"}},
			"fhirgate/gateway":     {ImportPath: "fhirgate/gateway", Imports: []string{"fhirgate/audit", "net/http"}},
			"net/url":              {ImportPath: "net/url", Standard: true},
			"net/http":             {ImportPath: "net/http", Standard: true, Imports: []string{"net/url"}},
		},
		Own: []string{"fhirgate/audit", "fhirgate/fhir/rest", "fhirgate/fhir/search", "fhirgate/gateway"},
	}
	rs := []rule{
		{name: "layer", why: "w", from: []string{"fhirgate/fhir/..."}, deny: []string{"fhirgate/audit/..."}},
		{name: "direct", why: "w", from: []string{"fhirgate/..."}, except: []string{"fhirgate/gateway"},
			deny: []string{"net/http/..."}, direct: true},
	}
	var got []string
	for _, b := range check(g, rs) {
		got = append(got, b.rule.name+": "+strings.Join(b.chain, " -> "))
	}
	sort.Strings(got)
	want := []string{
		"direct: fhirgate/audit -> net/http",
		"layer: fhirgate/fhir/rest -> fhirgate/fhir/search -> fhirgate/audit",
		"layer: fhirgate/fhir/search -> fhirgate/audit",
	}
	if !slices.Equal(got, want) {
		t.Errorf("breaches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
