# fhirgate — make help lists the targets.
#
# `make check` is the one list of verification steps: CI (.ci/run) starts the services the tests need
# (Chromium, the e2e node modules, Redis) and then runs exactly `make check`.
GO ?= go
PKGS := ./...

# The pinned linter, installed by `make tools` (and by the first `make lint`) next to the Go tools.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

# Packages with shared state and goroutines, tested again under the race detector.
RACE_PKGS := ./audit/... ./auth/... ./fhir/store/... ./fhir/rest/... ./gateway/... ./loadgen/...

# A count of inputs per fuzz target, not a duration: a duration that runs out while a worker is on an input
# is reported as "context deadline exceeded", a failure that says nothing about the code.
FUZZTIME ?= 3000x

# The generators whose inputs are in ../shared/fhir-r4, and what they write.
GENERATE_PKGS := ./auth/consent ./fhir/search ./fhir ./fhir/invariant ./fhir/profile
GENERATED := auth/consent/purpose_gen.go fhir/search/params_gen.go fhir/model_gen.go fhir/validation/defs_gen.go fhir/invariant/invariants_gen.go fhir/profile/core.json.gz

step = @printf '\n== %s (%s)\n' '$(1)' "$$(date +%H:%M:%S)"

.PHONY: help build test race bench bench-smoke fuzz fuzz-short fmt vet lint tidy generate generate-check tools check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

check: fmt vet lint tidy generate-check test race bench-smoke fuzz-short ## what CI runs: every step below, in this order
	$(call step,ok)

build: ## build the binary into ./bin/fhirgate
	$(GO) build -o bin/fhirgate ./cmd/fhirgate

fmt: ## gofmt: every Go file formatted
	$(call step,gofmt)
	@files=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi

vet: ## go vet
	$(call step,go vet)
	$(GO) vet $(PKGS)

lint: $(GOLANGCI_LINT) ## golangci-lint (.golangci.yml): fails on any finding, and lists them all
	$(call step,golangci-lint $(GOLANGCI_LINT_VERSION))
	$(GOLANGCI_LINT) run --max-issues-per-linter=0 --max-same-issues=0 $(PKGS)

tools: $(GOLANGCI_LINT) ## install the pinned golangci-lint

$(GOLANGCI_LINT):
	@echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"
	@tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) \
	  && mkdir -p $(dir $@) && mv $$tmp/golangci-lint $@ && rmdir $$tmp

tidy: ## go.mod and go.sum are tidy
	$(call step,go mod tidy -diff)
	$(GO) mod tidy -diff

generate: ## run the generators (needs ../shared/fhir-r4)
	$(GO) generate $(GENERATE_PKGS)

generate-check: ## the generated files are what the generators write
	$(call step,go generate: no change)
	$(GO) generate $(GENERATE_PKGS)
	git diff --exit-code -- $(GENERATED)

test: ## the tests, in random order (the README's go test ./...)
	$(call step,go test -shuffle=on)
	$(GO) test -count=1 -shuffle=on $(PKGS)

race: ## the concurrent packages' tests under the race detector
	$(call step,go test -race)
	$(GO) test -count=1 -shuffle=on -race $(RACE_PKGS)

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-smoke: ## the per-layer benchmark of every path, a few requests each (it checks every answer)
	$(call step,benchmark of the layers: each workload through each set of layers)
	$(GO) test -run '^$$' -bench 'PipelineThroughput' -benchtime 10x ./gateway/

fuzz: ## run every fuzz target for FUZZTIME each (make fuzz FUZZTIME=1m)
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

fuzz-short: ## every fuzz target briefly (FUZZTIME inputs each)
	$(call step,fuzz: each target $(FUZZTIME))
	@$(MAKE) --no-print-directory fuzz
