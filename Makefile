# fhirgate — make help lists the targets.
GO ?= go
FUZZTIME ?= 10s
PKGS := ./...

.PHONY: help test race bench fuzz lint generate check build

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build the binary into ./bin/fhirgate
	$(GO) build -o bin/fhirgate ./cmd/fhirgate

test: ## run the tests (what the README calls the test command)
	$(GO) test $(PKGS)

race: ## run the tests with the race detector
	$(GO) test -race $(PKGS)

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet $(PKGS)

generate: ## regenerate the R4 tables (needs FHIR_R4_PROFILES_RESOURCES, see fhir/internal/gendefs)
	$(GO) generate ./fhir/...

check: lint race ## what CI runs: lint, the race-enabled tests, and a short fuzz of each target
	$(MAKE) fuzz FUZZTIME=5s
