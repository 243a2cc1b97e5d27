# One entry point for people and CI.
.PHONY: run test lint fmt bench build check

CARGO ?= cargo

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

## Release binaries of every function (LTO), with sizes.
build:
	$(CARGO) build --release --workspace --bins
	@ls -l target/release | awk '$$1 ~ /^-..x/ {print $$5, $$9}'
