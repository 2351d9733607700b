#!/bin/sh
# unit-util.t - run the C unit test t/unit/util_test in a scratch TMPDIR
d=$(mktemp -d) || exit 1
TMPDIR=$d "$(dirname "$0")/unit/util_test"
rc=$?
rm -rf "$d"
exit $rc
