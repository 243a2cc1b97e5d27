# One entry point for people and CI.
.PHONY: run test lint fmt bench build check tools validate deploy bench-cold-start emulator emulator-stop watch

CARGO ?= cargo
# Lambda instruction set: arm64 (deployed default) or x86_64.
ARCH ?= arm64
# Lambda binaries are not position independent: no dynamic relocation table
# (about 0.8 MiB less per bootstrap, nothing to apply at start).
LAMBDA_RUSTFLAGS ?= -C relocation-model=static
FUNCTIONS := $(sort $(notdir $(patsubst %/Cargo.toml,%,$(wildcard functions/*/Cargo.toml))))
TOOLS_VENV := .venv-tools
TOOLS_BIN := $(CURDIR)/$(TOOLS_VENV)/bin
TOOLS_STAMP := $(TOOLS_VENV)/.installed

## Run every route locally on 127.0.0.1:9000 (embedded adapters, no AWS).
run:
	$(CARGO) run -p local-api --bin local-api -- $(ARGS)

## The whole test suite: unit, in-process handler, vector and end-to-end tests.
test:
	$(CARGO) test --workspace --all-targets

## Formatting and lints, as CI runs them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

check:
	$(CARGO) check --workspace --all-targets

## Criterion benchmarks (release code); reports under target/criterion.
bench:
	$(CARGO) bench --workspace

## Lambda packages of every crate in functions/ (release, LTO) for ARCH
## (arm64, the template's default, or x86_64): target/lambda/<fn>/bootstrap, with sizes.
build: $(TOOLS_STAMP)
	rustup target add $(if $(filter arm64,$(ARCH)),aarch64,x86_64)-unknown-linux-gnu
	RUSTFLAGS="$(LAMBDA_RUSTFLAGS)" PATH="$(TOOLS_BIN):$$PATH" $(CARGO) lambda build --release $(if $(filter arm64,$(ARCH)),--arm64,--x86-64) \
		$(foreach f,$(FUNCTIONS),-p $(f))
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap | awk -v f=$$f '{printf "%-16s %10d bytes  %5.2f MiB\n", f, $$5, $$5/1048576}'; done

## Build and deployment tools (infra/tools-requirements.txt) in .venv-tools:
## sam (aws-sam-cli), cargo-lambda, zig (cross-linking).
tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): infra/tools-requirements.txt
	@[ -x $(TOOLS_VENV)/bin/python ] || python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/tools-requirements.txt
	@touch $@

## SAM translation and cfn-lint of template.yaml (offline; any region will do).
validate: $(TOOLS_STAMP)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/sam validate --lint

## Build with SAM (cargo-lambda) and deploy, asking for the parameters (docs/deployment.md).
## Both steps get the same Architecture: binaries built for ARCH are deployed as ARCH.
DEPLOY_ARGS ?= --guided
deploy: $(TOOLS_STAMP)
	RUSTFLAGS="$(LAMBDA_RUSTFLAGS)" PATH="$(TOOLS_BIN):$$PATH" SAM_CLI_TELEMETRY=0 sam build --beta-features --parameter-overrides Architecture=$(ARCH)
	PATH="$(TOOLS_BIN):$$PATH" SAM_CLI_TELEMETRY=0 sam deploy $(DEPLOY_ARGS) --parameter-overrides Architecture=$(ARCH)

## Cold start of each release bootstrap under a local Lambda Runtime API (run `make build ARCH=x86_64` first).
bench-cold-start:
	python3 bench/cold_start.py $(ARGS)

## Local AWS emulator (moto: DynamoDB, KMS, SES) on 127.0.0.1:$(AWS_EMULATOR_PORT), bootstrapped (table, key, identity, first SC key).
AWS_EMULATOR_PORT ?= 4566
WATCH_PORT ?= 9000
emulator:
	AWS_EMULATOR_PORT=$(AWS_EMULATOR_PORT) bash infra/emulator.sh up

emulator-stop:
	AWS_EMULATOR_PORT=$(AWS_EMULATOR_PORT) bash infra/emulator.sh down

## Every function as its own process (cargo lambda watch) on 127.0.0.1:$(WATCH_PORT), against the emulator.
watch: $(TOOLS_STAMP)
	AWS_EMULATOR_PORT=$(AWS_EMULATOR_PORT) WATCH_PORT=$(WATCH_PORT) bash infra/watch.sh
