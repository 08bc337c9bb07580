# sixgate: one entry point for set-up, running and testing.
#   make run    build sixgate and run its main job on an example
#   make test   install what the tests need, then run every test suite
#   make bench  criterion benchmarks (release build; slow on 2 cores)

CARGO ?= cargo
SIXGATE := target/debug/sixgate

.PHONY: all build run test deps lint test-rust bench fmt clean

all: build

build:
	$(CARGO) build

## The main job, for now: the address helpers on an example.
run: build
	SIXGATE=$(SIXGATE) ./examples/addr-tour.sh

## Every test suite. Installs what it needs first.
test: deps lint test-rust
	@echo "make test: every suite passed"

## What the test suites need beyond the Rust toolchain. Idempotent; installs
## only what is missing (apt needs root, which CI has). The real programs for
## servers/tests/real_configs.rs (haproxy, nginx, sshd, named-checkconf,
## nsd-checkconf, apache2, ssh-keygen, perl + Net::Server) come from apt,
## with services kept from starting; without root it prints a note instead.
deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo is needed (https://rustup.rs)"; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	@./scripts/install-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

bench:
	$(CARGO) bench -p sixgate

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
