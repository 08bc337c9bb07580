#!/bin/sh
# Runs the Perl tests (examples/perl/t) with prove against the debug build,
# target/debug/sixgate (`make test-perl` builds it first). Needs only
# Debian's perl (prove, Test::More, JSON::PP and IPC::Open3 are core).
# SIXGATE=/path/to/sixgate overrides the binary under test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SIXGATE=${SIXGATE:-$root/target/debug/sixgate}
export SIXGATE
if [ ! -x "$SIXGATE" ]; then
    echo "run-tests.sh: $SIXGATE is missing: run cargo build first (make test-perl does)" >&2
    exit 1
fi
command -v prove >/dev/null 2>&1 || {
    echo "run-tests.sh: prove is missing: it comes with Debian's perl (apt-get install perl)" >&2
    exit 1
}
cd "$here"
exec prove -I"$here" "$@" t
