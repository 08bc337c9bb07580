#!/bin/sh
# Builds the sixgate npm package and runs its checks, from a fresh machine:
# npm installs the dev tools from the lock file (@napi-rs/cli, TypeScript,
# @types/node, ip-address for the bench), `napi build` compiles the addon
# and writes index.js and index.d.ts, `node --test` runs the tests (the
# shared vectors among them), `tsc` type-checks code that uses index.d.ts,
# and the examples under examples/node/ run. Exits non-zero on the first
# failure. The Makefile's `make test` calls it.
#
#   bindings-node/run-tests.sh                    debug build (faster to compile)
#   SIXGATE_NODE_RELEASE=1 bindings-node/run-tests.sh   release build (for bench/)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

step() { printf '\n== %s\n' "$*"; }

command -v node >/dev/null 2>&1 || { echo "run-tests.sh: node (>= 18) is needed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "run-tests.sh: npm is needed" >&2; exit 1; }

cd "$here"
step "npm ci (dev tools from package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error

step "napi build"
release=
if [ -n "${SIXGATE_NODE_RELEASE:-}" ]; then release=--release; fi
# shellcheck disable=SC2086 # $release is empty or one word
npx napi build --platform --no-const-enum $release

step "node --test"
node --test test/

step "tsc: index.d.ts in use (test/types)"
npx tsc -p test/types

for example in "$root"/examples/node/*.js; do
    step "example $(basename "$example")"
    (cd "$root/examples/node" && node "$example" --self-test)
done

printf '\nbindings-node: every check passed\n'
