# One entry point for people and CI.
.PHONY: load-emulator node-version run test browser lint fmt bench build check tools validate deploy bench-cold-start bench-argon2 bench-verify bench-breached bench-import load emulator emulator-stop watch web web-pack web-codes fuzz fuzz-ci sweep deny breached-default

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
# template.yaml uses AWS::LanguageExtensions (Fn::ForEach): SAM CLI expands it
# locally (sam validate, build, deploy) only when this is set.
export SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS := 1

## Run every route locally on 127.0.0.1:9000 (embedded adapters, no AWS),
## with the browser client's reference pages at http://127.0.0.1:9000/demo/.
run: web
	$(CARGO) run -p local-api --bin local-api -- $(ARGS)

## The whole test suite: unit, in-process handler, vector and end-to-end tests,
## the browser client's node and Chromium tests included.
## Property tests draw from a fixed seed, so a commit always gets the same
## verdict (PROPTEST_RNG_SEED=<n> make test tries another).
## Every target with tests (test = true: the libraries' unit tests, pwload,
## each crate's tests/ binaries) and each bench once as a smoke check; not
## --all-targets, which would also link a test binary for every function,
## tool and example that has no test (clippy --all-targets compiles those).
PROPTEST_RNG_SEED ?= 20261205
test: web browser
	PROPTEST_RNG_SEED=$(PROPTEST_RNG_SEED) $(CARGO) test --workspace --tests --benches

## Debian's Chromium for the browser tests (no browser download: the package),
## and a Japanese font for the screenshots of the ja screens.
browser:
	@{ [ -x /usr/bin/chromium ] && [ -n "$$(fc-list :lang=ja 2>/dev/null)" ]; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null; }

## The browser client (client/web): npm ci when its lock file changed, then tsc into dist/.
## `make test` runs its node and Chromium tests (tests/tests/e2e/web_client.rs).
WEB := client/web
web: $(WEB)/node_modules/.package-lock.json
	cd $(WEB) && npm run --silent build

## The web client and its tests need Node.js 20 or later (globalThis.crypto, node --test).
node-version:
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || \
	{ echo "Node.js >= 20 is needed for client/web (found: $$(node --version 2>/dev/null || echo none))" >&2; exit 1; }

## The browser client as an installable tarball (npm pack: dist/, types,
## README, LICENSE) in WEB_PACK_DIR (default target/web-pack); prints its path
## and size. Install it elsewhere with `npm install <path>.tgz`.
WEB_PACK_DIR ?= $(CURDIR)/target/web-pack
web-pack: web
	@cd $(WEB) && node scripts/pack.mjs "$(WEB_PACK_DIR)"

## Regenerates client/web/src/codes.ts from shared/i18n/en.json (the drift
## tests in `make test` fail until it is done after the service gains a code).
web-codes: | node-version
	cd $(WEB) && node scripts/gen-codes.mjs

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json | node-version
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error

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

## Lambda packages of every crate in functions/ (release profile) for ARCH
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

## SAM translation (sam validate) and cfn-lint (--lint, which skips the
## translation) of template.yaml (offline; any region will do), and the size
## of each function's environment.
validate: $(TOOLS_STAMP)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/sam validate
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 $(TOOLS_BIN)/sam validate --lint
	@# Every function's variables at their worst case within Lambda's 4 KB
	@# (assumptions: tests/tests/e2e/template_drift.rs, ASSUMED_UNBOUNDED).
	$(CARGO) test -q --workspace --test e2e template_drift::every_functions_environment -- --nocapture

## After a deploy (docs/deployment.md#smoke-test): the public key, a handshake
## and, with TOKEN=<a user's access token>, that user's status.
.PHONY: smoke
smoke:
	@[ -n "$(URL)" ] || { echo "usage: make smoke URL=https://api.example.com [TOKEN=<access token>]" >&2; exit 2; }
	@# TOKEN reaches the script through the environment (make exports command-line variables).
	@infra/smoke.sh "$(URL)"

## Build with SAM (cargo-lambda) and deploy, asking for the parameters (docs/deployment.md).
## Both steps get the same Architecture: binaries built for ARCH are deployed as ARCH.
DEPLOY_ARGS ?= --guided
deploy: $(TOOLS_STAMP)
	RUSTFLAGS="$(LAMBDA_RUSTFLAGS)" PATH="$(TOOLS_BIN):$$PATH" SAM_CLI_TELEMETRY=0 sam build --beta-features --parameter-overrides Architecture=$(ARCH)
	PATH="$(TOOLS_BIN):$$PATH" SAM_CLI_TELEMETRY=0 sam deploy $(DEPLOY_ARGS) --parameter-overrides Architecture=$(ARCH)

## One Argon2id evaluation in the release profile (what Lambda runs) against
## libargon2, the C reference (argon2-cffi in .venv-bench), interleaved in one run.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
bench-argon2: $(BENCH_STAMP)
	$(CARGO) build --release -p password --example argon2_eval
	$(BENCH_VENV)/bin/python bench/argon2_reference.py --binary release=$(TARGET_DIR)/release/examples/argon2_eval $(ARGS)

## A sign-in check over verify-password's wire form (release build) against
## one libargon2 evaluation, and wrong-password against unknown-address timing.
bench-verify: $(BENCH_STAMP)
	$(CARGO) build --release -p shared --example verify_eval
	$(BENCH_VENV)/bin/python bench/verify_reference.py $(ARGS)

## Breached-password screening (release build, docs/performance.md): a lookup
## against one Argon2id evaluation, the bundled filter's share of a cold start,
## pwctl admin breached build at 1M entries, and the load of filters of 1M, 10M
## and 100M entries (the 100M one is built in-process: about 1 min and 3 GB of
## memory; ARGS='--load 1000000,10000000' leaves it out).
.PHONY: bench-breached
bench-breached:
	$(CARGO) build --release -p password --example breached_eval
	$(CARGO) build --release -p client --bin pwctl
	python3 bench/breached.py --target-dir $(TARGET_DIR) $(ARGS)

## pwctl admin import against the emulator (docs/performance.md, Import): the
## pipeline's rate against a bare BatchWriteItem loop over the same items, and
## peak memory (max RSS) at 10k/100k written and 10k/1M lines dry-run.
.PHONY: bench-import
bench-import:
	$(CARGO) build -p client --bin pwctl
	$(CARGO) build -p aws-adapters --example import_bench
	python3 bench/import.py --target-dir $(TARGET_DIR) $(ARGS)

$(BENCH_STAMP): bench/requirements.txt
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

## Load run: a release local-api on 127.0.0.1:$(LOAD_PORT) with rate limits off, and
## pwload against it (client/src/bin/pwload). LOAD_ARGS, e.g. --users 2 --mix change --requests 200,
## or --sweep 1,2,4,8 --plot target/load.png. docs/performance.md has the figures.
LOAD_PORT ?= 9400
LOAD_ARGS ?= --users 2 --mix status=4,change=1,forgot=2,reset=1 --requests 200
load:
	$(CARGO) build --release -p local-api -p client --bin local-api --bin pwload
	@$(TARGET_DIR)/release/local-api --port $(LOAD_PORT) --no-rate-limits >/dev/null 2>&1 & pid=$$!; \
	trap 'kill $$pid' EXIT; \
	for i in $$(seq 50); do curl -s -o /dev/null http://127.0.0.1:$(LOAD_PORT)/ && break; sleep 0.2; done; \
	$(TARGET_DIR)/release/pwload --url http://127.0.0.1:$(LOAD_PORT) $(LOAD_ARGS)

## The same load over the AWS adapters on the local emulator (tests/examples/emulator_api.rs),
## to count the store's round trips; LOAD_STORE=memory serves the same build over the embedded
## store, so the two runs separate the emulator's share. Dev profile (dependencies, Argon2
## included, at opt-level 3): it shares the test build instead of a release AWS SDK build.
LOAD_STORE ?= emulator
## LOAD_BUCKETS=in-use keeps every rate-limit bucket in use (as a busy client's are); idle lets them empty.
LOAD_BUCKETS ?= idle
load-emulator:
	$(CARGO) build --workspace --example emulator_api --bin pwload
	@$(TARGET_DIR)/debug/examples/emulator_api $(LOAD_PORT) --store $(LOAD_STORE) --buckets $(LOAD_BUCKETS) >/dev/null 2>&1 & pid=$$!; \
	trap 'kill $$pid' EXIT; \
	for i in $$(seq 300); do curl -s -o /dev/null http://127.0.0.1:$(LOAD_PORT)/ && break; sleep 0.2; done; \
	$(TARGET_DIR)/debug/pwload --url http://127.0.0.1:$(LOAD_PORT) $(LOAD_ARGS)

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

## Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every target in fuzz/ for
## FUZZ_SECONDS each; stable toolchain, so no sanitizer (docs/security.md).
## New inputs go to fuzz/corpus, crashes to fuzz/artifacts, logs to fuzz/logs.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := envelope session_body route_bodies password_policy jwt gateway
FUZZ_FLAGS := --sanitizer none --codegen-units 16 --target-dir $(CURDIR)/fuzz/target
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	cd fuzz && $(CARGO) fuzz build $(FUZZ_FLAGS)
	@mkdir -p fuzz/logs
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t; \
		$(CARGO) fuzz run $(FUZZ_FLAGS) $$t corpus/$$t seeds/$$t regressions/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
			> logs/$$t.log 2>&1 || { tail -n 60 logs/$$t.log; echo "fuzz target $$t failed: input in fuzz/artifacts/$$t"; exit 1; }; \
		printf '%-16s %s\n' $$t "$$(grep -E '^#[0-9]+[[:space:]]+DONE' logs/$$t.log | tail -n 1)"; \
	done

## The landing gate's fuzzing, reproducible: the same commit does the same work.
## First every committed input (fuzz/seeds, fuzz/regressions) is replayed; then
## each target runs FUZZ_CI_RUNS executions from a fixed libFuzzer seed, with a
## scratch corpus that starts from the committed inputs only (fuzz/corpus, which
## random campaigns grow, is not read). A crash fails the gate: its input goes to
## fuzz/regressions/<target>/ with the fix. Random campaigns: `make fuzz`.
FUZZ_CI_SEED ?= 20261204
FUZZ_CI_RUNS ?= 50000
fuzz-ci:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	cd fuzz && $(CARGO) fuzz build $(FUZZ_FLAGS)
	@mkdir -p fuzz/logs
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
		scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
		$(CARGO) fuzz run $(FUZZ_FLAGS) $$t $$scratch seeds/$$t regressions/$$t -- -runs=0 \
			> logs/$$t.replay.log 2>&1 || { tail -n 60 logs/$$t.replay.log; echo "fuzz target $$t: a committed input fails"; exit 1; }; \
		$(CARGO) fuzz run $(FUZZ_FLAGS) $$t $$scratch seeds/$$t regressions/$$t -- \
			-seed=$(FUZZ_CI_SEED) -runs=$(FUZZ_CI_RUNS) -rss_limit_mb=2048 -print_final_stats=1 \
			> logs/$$t.ci.log 2>&1 || { tail -n 60 logs/$$t.ci.log; echo "fuzz target $$t failed (seed $(FUZZ_CI_SEED)): input in fuzz/artifacts/$$t"; exit 1; }; \
		rm -rf $$scratch; \
		printf '%-16s seed %s: %s\n' $$t $(FUZZ_CI_SEED) "$$(grep -E '^#[0-9]+[[:space:]]+DONE' logs/$$t.ci.log | tail -n 1)"; \
	done

## The hostile-input sweep at its large size (make test runs 5000 requests).
SWEEP_REQUESTS ?= 50000
SWEEP_SECONDS ?= 1200
sweep:
	HOSTILE_SWEEP_REQUESTS=$(SWEEP_REQUESTS) HOSTILE_SWEEP_SECONDS=$(SWEEP_SECONDS) \
		$(CARGO) test -p local-api --test integration hostile_sweep -- --nocapture

## The bundled breached-password filter, rebuilt from its source: the common-password
## list of $(BREACHED_DEFAULT_PACKAGE) (npm, MIT; src/passwords.json) fetched
## with npm pack into a temporary folder, written one password a line, and read by
## pwctl admin breached build (shared/password/data/README.md).
BREACHED_DEFAULT_PACKAGE ?= @zxcvbn-ts/language-common@4.1.3
BREACHED_DEFAULT_FILTER ?= shared/password/data/breached-default.bpf
breached-default:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	npm pack --silent --pack-destination "$$tmp" $(BREACHED_DEFAULT_PACKAGE) >/dev/null; \
	tar -xzf "$$tmp"/*.tgz -C "$$tmp" package/src/passwords.json; \
	python3 -c 'import json, sys; words = json.load(open(sys.argv[1], encoding="utf-8")); assert all(isinstance(w, str) and w and not any(c in w for c in "\r\n") for w in words), "one password a line"; sys.stdout.buffer.write("".join(w + "\n" for w in words).encode("utf-8"))' \
		"$$tmp/package/src/passwords.json" > "$$tmp/passwords.txt"; \
	echo "$$(wc -l < "$$tmp/passwords.txt") passwords from $(BREACHED_DEFAULT_PACKAGE)"; \
	$(CARGO) run -q -p client --bin pwctl -- admin breached build --format plain \
		--input "$$tmp/passwords.txt" --output $(BREACHED_DEFAULT_FILTER)

## Supply-chain policy (deny.toml): licenses, banned crates, sources. Offline.
deny:
	@command -v cargo-deny >/dev/null || $(CARGO) install --locked cargo-deny
	$(CARGO) deny check licenses bans sources
