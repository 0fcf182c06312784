# gitfleet — GitOps rendering controller for fleets of Kubernetes clusters.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

export GOTOOLCHAIN := local
GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# Go test flags; e.g. make test GOTESTFLAGS='-run TestAPI -v'
GOTESTFLAGS ?=
TEST_TIMEOUT ?= 45m

.PHONY: all
all: build

##@ Build

.PHONY: build
build: ## Build gitfleet-hub, gitfleet-agent and the gitfleet CLI into bin/.
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: demo
demo: build ## The demo: hub + 3 member clusters + agents on this machine. DEMO_EXIT=1 exits with the story's result.
	$(GO) build -o $(BIN)/gitfleet-demo ./test/demo/cmd/demo
	$(BIN)/gitfleet-demo -bin $(BIN)

##@ Generation

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(BIN)/controller-gen $(CONTROLLER_GEN)

# golangci-lint with kube-api-linter built in: test/tools/go.mod pins both (and go.sum their
# dependencies); the binary is built from the module proxy once per version into the user
# cache dir, beside the test binaries (GITFLEET_CACHE_DIR overrides it, as for those).
GOLANGCI_LINT_VERSION := $(shell awk '$$1 == "github.com/golangci/golangci-lint/v2" {print $$2}' test/tools/go.mod)
KUBE_API_LINTER_VERSION := $(shell awk '$$1 == "sigs.k8s.io/kube-api-linter" {print $$2}' test/tools/go.mod)
CACHE_ROOT ?= $(or $(GITFLEET_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gitfleet)
GOLANGCI_LINT := $(CACHE_ROOT)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)-kal-$(lastword $(subst -, ,$(KUBE_API_LINTER_VERSION)))/golangci-lint

$(GOLANGCI_LINT):
	mkdir -p $(@D)
	cd test/tools && $(GO) build -mod=readonly -o $@.$$$$.tmp sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter && mv $@.$$$$.tmp $@

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy, CRDs (config/crd/bases) and RBAC (config/rbac).
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=gitfleet-hub paths=./controllers/hub/... output:rbac:dir=config/rbac/hub
	$(CONTROLLER_GEN) rbac:roleName=gitfleet-agent paths=./controllers/agent/... output:rbac:dir=config/rbac/agent

.PHONY: docs
docs: ## Regenerate docs/cli.md (the CLI's help output) and docs/api/reference.md (from the CRDs); go test ./... fails while they are stale.
	$(GO) test ./cmd/gitfleet -run TestCLIReference -update
	$(GO) test ./test/docs -run TestAPIReference -update

.PHONY: verify
verify: generate ## Fail when generated files are stale or go mod tidy would change something (here or in test/tools/).
	$(GO) mod tidy
	cd test/tools && $(GO) mod tidy
	@if [ -n "$$(git status --porcelain -- api config go.mod go.sum test/tools)" ]; then \
		echo "generated files or go.mod/go.sum are stale; run 'make generate' and 'go mod tidy' (also in test/tools/) and commit:"; \
		git status --porcelain -- api config go.mod go.sum test/tools; git diff --stat -- api config go.mod go.sum test/tools; exit 1; fi
	@echo "verify: generated files and go.mod are up to date"

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint (.golangci.yml) with and without the test build tags; gofmt on every file.
	$(GOLANGCI_LINT) run ./...
	$(GOLANGCI_LINT) run --build-tags integration,e2e,bench ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

##@ Test

.PHONY: binaries
binaries: ## Build (or find in the cache) kube-apiserver, etcd, Gitea and the helm CLI.
	$(GO) run ./test/cmd/ensure-binaries -gitea -helm

.PHONY: test-unit
test-unit: ## Unit tests: pure packages, no API server.
	$(GO) test $(GOTESTFLAGS) ./...

.PHONY: test-integration
test-integration: binaries build ## Integration tests against a real kube-apiserver + etcd and real git servers.
	$(GO) test -tags integration -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...

.PHONY: test
test: lint test-integration ## Everything: lint, unit and integration (and e2e) tests.

##@ Benchmarks

BENCH_OUT ?= $(BIN)/bench
.PHONY: bench
bench: binaries build ## Benchmarks with the issues' targets; figures go to stdout and bin/bench/.
	mkdir -p $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./scheduler/... ./render/... ./gitsource/... | tee $(BENCH_OUT)/go-benchmarks.txt
	$(GO) run ./test/bench/hydrate -clusters 1000 -placements 10 -cli-sample 20 | tee $(BENCH_OUT)/hydrate.txt
	$(GO) run ./test/bench/promotion -bin $(BIN) -changes 3 | tee $(BENCH_OUT)/promotion.txt
	$(GO) run ./test/bench/webhook -parallel 50 -size-mb 20 -rounds 2 | tee $(BENCH_OUT)/webhook.txt
	$(GO) test -tags bench -run TestAgentBenchmark -v -timeout 30m ./controllers/agent/bench/ | tee $(BENCH_OUT)/agent.txt

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
