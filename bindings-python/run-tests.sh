#!/bin/sh
# Builds the sixgate Python package and runs its checks, from a fresh
# machine: a virtualenv (target/py-venv, made here; python3-venv is
# installed with apt when missing and we are root), maturin, pytest and mypy
# from PyPI, `maturin develop`, pytest, mypy.stubtest against the built
# module, and the examples under examples/python/. Exits non-zero on the
# first failure. The Makefile's `make test` calls it.
#
#   bindings-python/run-tests.sh            debug build (faster to compile)
#   SIXGATE_PY_RELEASE=1 bindings-python/run-tests.sh   release build (for bench/)
#   PYTHON=python3.12 bindings-python/run-tests.sh      another interpreter
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${SIXGATE_PY_VENV:-$root/target/py-venv}
python=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*"; }

if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "installing python3-venv (apt)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    else
        echo "run-tests.sh: $python has no venv/ensurepip module; install python3-venv" >&2
        exit 1
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    step "creating $venv"
    "$python" -m venv "$venv"
fi
py=$venv/bin/python

step "installing maturin, pytest, mypy into the venv"
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" pytest mypy

step "maturin develop"
release=
if [ -n "${SIXGATE_PY_RELEASE:-}" ]; then release=--release; fi
cd "$here"
# shellcheck disable=SC2086 # $release is empty or one word
VIRTUAL_ENV=$venv PATH=$venv/bin:$PATH "$venv/bin/maturin" develop --quiet $release

step "pytest"
"$py" -m pytest -q -p no:cacheprovider "$here/tests"

step "mypy.stubtest sixgate._native"
"$py" -m mypy.stubtest sixgate._native

step "mypy on the examples and tests (the stubs in use)"
"$py" -m mypy --cache-dir "$root/target/mypy-cache" --no-error-summary "$root/examples/python" "$here/tests" "$here/bench"

for example in "$root"/examples/python/*.py; do
    step "example $(basename "$example")"
    "$py" "$example" "$root/target/py-examples" >/dev/null
done

printf '\nbindings-python: every check passed\n'
