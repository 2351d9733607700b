#!/bin/sh
# unit-chain.t - run the C unit test t/unit/chain_test in a scratch TMPDIR
d=$(mktemp -d) || exit 1
TMPDIR=$d "$(dirname "$0")/unit/chain_test"
rc=$?
rm -rf "$d"
exit $rc
