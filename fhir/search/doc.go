// Package search is FHIR R4 search: the search-parameter registry generated from the R4 definitions
// (every parameter of every resource type, its type, FHIRPath expression, modifiers and targets, and the
// Patient compartment), the extraction of a resource's index entries when it is written, the parsing of a
// query's parameters (modifiers, prefixes, chains, _has, _include/_revinclude, _sort, _count) and its
// execution over a store's index (Engine: Search, Match for conditional criteria, Everything).
//
// The index is encoded here and nowhere else. The access decision never reads it: it asks Facts (the
// patients a resource is about, its codes, labels, references, clinical period, the resources that govern
// it or that it holds), so that a change of encoding cannot turn a refusal into a permission; auth's
// arch_test.go holds that rule. Results are filtered as they are matched (Filter), before paging and
// counting, so a total never counts what the caller may not see.
//
// The tables in params_gen.go are written by internal/genparams (go generate) from search-parameters.json
// and compartmentdefinition-patient.json of the R4 4.0.1 definitions; the few parameters the server does
// not support, and those it adds, are listed in registry.go with their reasons.
package search
