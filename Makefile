# sixgate: one entry point for set-up, running and testing.
#   make run    build sixgate and run its main job: sixgate dns64 on loopback
#   make test   install what the tests need, then run every test suite
#   make bench  criterion benchmarks (release build; slow on 2 cores)

CARGO ?= cargo
SIXGATE := target/debug/sixgate

.PHONY: all build run tour test deps lint test-rust test-python test-node test-perl bench fmt clean

all: build

build:
	$(CARGO) build

## The main job: the DNS64 resolver with its embedded default (loopback
## only: 127.0.0.1:5353 and [::1]:5353, upstreams from /etc/resolv.conf,
## 64:ff9b::/96). Ctrl-C stops it.
run: build
	@echo "sixgate dns64 on 127.0.0.1:5353 and [::1]:5353 (Ctrl-C stops it); try:"
	@echo "  dig @127.0.0.1 -p 5353 AAAA ipv4only.arpa"
	$(SIXGATE) dns64

## The address helpers on an example.
tour: build
	SIXGATE=$(SIXGATE) ./examples/addr-tour.sh

## Every test suite. Installs what it needs first.
test: deps lint test-rust test-python test-node test-perl test-fuzz-corpus test-fuzz-run
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

## The Python package (bindings-python/): a virtualenv in target/py-venv with
## maturin, pytest and mypy from PyPI; maturin develop; pytest (the shared
## vectors, round trips, a plan read back by the CLI); mypy.stubtest of the
## stubs against the built module; the examples under examples/python/.
test-python:
	./bindings-python/run-tests.sh

## The Node package (bindings-node/): npm installs @napi-rs/cli and
## TypeScript into bindings-node/node_modules, `napi build` makes the addon
## with its generated index.js and index.d.ts, `node --test` runs the tests
## (the shared vectors among them), `tsc --noEmit` type-checks code that uses
## index.d.ts, and the examples under examples/node/ run.
test-node: build
	./bindings-node/run-tests.sh

## Perl panels (examples/perl/): Sixgate.pm over the sixgate binary (addr
## lists in one process with --stdin, plans with --json), tested with prove
## (the shared vectors among them) against target/debug/sixgate.
test-perl: build
	./examples/perl/run-tests.sh

bench:
	$(CARGO) bench -p sixgate

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

## Fuzzing (fuzz/ is its own cargo-fuzz workspace). `make test` replays the
## checked-in corpus through each target's check as a plain test (stable, no
## libFuzzer); `make fuzz` runs each target for FUZZ_SECONDS with libFuzzer
## on the stable toolchain (RUSTC_BOOTSTRAP=1), without a sanitizer (core
## forbids unsafe code), installing cargo-fuzz if it is missing. New inputs
## go to fuzz/target/fuzz-corpus/; crashes to fuzz/artifacts/<target>/.
.PHONY: fuzz test-fuzz-corpus test-fuzz-run
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := client_hello dns64_response http_head nat64_sequence proxy_header xlat_4to6 xlat_6to4

test-fuzz-corpus:
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --all -- --check
	$(CARGO) clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
	$(CARGO) test --manifest-path fuzz/Cargo.toml

## A short real fuzzing run of every target, as part of make test.
test-fuzz-run:
	$(MAKE) fuzz FUZZ_SECONDS=15

fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/fuzz-corpus/$$t; \
	  echo "== cargo fuzz run $$t ($(FUZZ_SECONDS) s)"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$t \
	    fuzz/target/fuzz-corpus/$$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS); \
	done
